"""Full mode: map only the rows of a page whose source content changed since the feed last wrote them.

Each source row is digested together with everything that shapes its batch (the mapping, the columns'
types, the feed's settings) and looked up in the feed's fingerprints; unchanged rows are neither mapped
nor written. A run's ChangedRows is built on its first page and kept for the others.

A row is filed under its key (its first identity), an event row under its event's id: the ten events of one
customer are ten records, not one row read ten times.

A key read twice (a model joining plans, say) keeps only its last row's fingerprint, so its earlier rows
are written every run; its last row, unchanged, must then be written again after them, or the earlier row
would win. Within a page `split` sees both; across pages it remembers the keys this run has handed to the
store so far (`Written`). That memory is filled as pages are prepared, in read order, not as they commit:
the next page's split depends on what the pages before it will write, never on their commit, so the
read-ahead thread can prepare it while the page before is still being written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from feeds.mapping.pages import MappedPage
from feeds.sync import fingerprints
from feeds.sync.fingerprints import as_int64
from feeds.sync.timings import Timings
from feeds.warehouses.base import Page


class Fingerprint(NamedTuple):
    """What to file for a written row once its page commits, unless its row key was refused."""

    row_key: str
    key: str
    digest: int


class ChangedRows:
    """One full run's view of its feed's fingerprints (loaded once), splitting each page into changed and unchanged."""

    def __init__(
        self,
        feed_id: int,
        shape: tuple[Any, ...],
        map_page: Callable[[Page], MappedPage],
        timings: Timings,
    ) -> None:
        """`shape` is what makes a row's batch besides its values; `map_page` maps rows into batches.

        Loading, digesting and looking up count under the "fingerprint" step of `timings`.
        """
        self.timings = timings
        with timings.step("fingerprint"):
            self.known = fingerprints.Known(feed_id)
        self.salt = repr(shape).encode()
        self.map_page = map_page
        self.written = Written()

    def split(self, page: Page) -> tuple[MappedPage, int, list[Fingerprint]]:
        """Return the changed rows mapped, the number of unchanged rows, and the fingerprints to record."""
        with self.timings.step("fingerprint"):
            digests = self.digests(page)
            positions, unchanged_keys = self.known.lookup(digests)
        mapped, sources = self._map(page, positions)
        keys = _filed_under(mapped)
        # Only a key the feed has on file can come back unchanged: a feed with none hashes nothing.
        on_file = self.known.digests is not None and len(self.known.digests) > 0
        hashes = [fingerprints.key_hash(k) for k in keys] if on_file else []
        if unchanged_keys and (unchanged_keys & set(hashes) or self.written.any_of(unchanged_keys)):
            # A key with both unchanged and changed rows, in this page or written by one before:
            # write all this page's rows again, in order.
            positions = list(range(len(page)))
            mapped, sources = self._map(page, positions)
            keys = _filed_under(mapped)
            hashes = [fingerprints.key_hash(k) for k in keys]
        self.written.add(hashes)
        if sources is None or not self.known.kept:
            return mapped, len(page) - len(positions), []
        found = [
            Fingerprint(row_key[:512], key, digests[i])
            for row_key, key, i in zip(mapped.row_keys, keys, sources, strict=True)
        ]
        return mapped, len(page) - len(positions), found

    def digests(self, page: Page) -> list[int]:
        """Digest each source row with the salt: the provider's digests of the rows' wire form, or their repr."""
        if page.digests is not None:
            salt = as_int64(hashlib.md5(self.salt, usedforsecurity=False).digest())
            return [d ^ salt for d in page.digests]
        salted = hashlib.md5(self.salt, usedforsecurity=False)
        digests = []
        for row in page.rows:
            h = salted.copy()
            h.update(repr(row).encode())  # repr tells 1, 1.0, True and "1" apart; an odd one costs a rewrite
            digests.append(as_int64(h.digest()))
        return digests

    def _map(self, page: Page, positions: list[int]) -> tuple[MappedPage, list[int] | None]:
        """Map the rows at `positions`; return the result (reject keys numbered as in the page) and each batch's row.

        The batch positions are None when they cannot be told apart from the rejects (no fingerprints then).
        """
        if not positions:
            return MappedPage([], [], []), []
        mapped = self.map_page(page if len(positions) == len(page) else page.take(positions))
        # A row without identity is rejected under the key "row <n>…", n counting from 1 in the page mapped.
        numbers = [_row_number(r.row_key) for r in mapped.rejects]
        if None in numbers:
            return mapped, None
        rejected = set(numbers)
        sources = [i for n, i in enumerate(positions, start=1) if n not in rejected]
        if len(sources) != len(mapped.batches):
            return mapped, None
        mapped.rejects = [
            replace(r, row_key=f"row {positions[n - 1] + 1}{r.row_key[len(f'row {n}') :]}")  # type: ignore[operator]
            for r, n in zip(mapped.rejects, numbers, strict=True)
        ]
        return mapped, sources


def _filed_under(mapped: MappedPage) -> list[str]:
    """The key each batch's fingerprint is filed under: its event's id (the mapping always sets one), else its row key."""
    return [
        f"event {batch['events'][0]['data']['source_message_id']}"[:512]
        if batch.get("events")
        else row_key[:512]
        for batch, row_key in zip(mapped.batches, mapped.row_keys, strict=True)
    ]


def _row_number(key: str) -> int | None:
    parts = key.split(" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[0] == "row" and parts[1].isdigit() else None


class Written:
    """The key hashes a run has handed to the store so far, as a bitmap: a key may be taken for written
    when it was not (odds of keys written so far / 2**27; its page is then written again for nothing),
    never the reverse.

    16 MB whatever the run's size; allocated on the first page that writes a key the feed has on file.
    """

    SLOTS = 1 << 27

    def __init__(self) -> None:
        self.bits: np.ndarray | None = None

    def add(self, hashes: list[int]) -> None:
        if not hashes:
            return
        if self.bits is None:
            self.bits = np.zeros(self.SLOTS // 8, dtype=np.uint8)
        slots = np.fromiter(hashes, dtype=np.int64, count=len(hashes)) & (self.SLOTS - 1)
        np.bitwise_or.at(self.bits, slots >> 3, (1 << (slots & 7)).astype(np.uint8))

    def any_of(self, hashes: Iterable[int]) -> bool:
        if self.bits is None:
            return False
        slots = np.fromiter(hashes, dtype=np.int64) & (self.SLOTS - 1)
        return bool(((self.bits[slots >> 3] >> (slots & 7).astype(np.uint8)) & 1).any())
