"""Row fingerprints of full-mode feeds: which source rows the store already holds.

A fingerprint is a 64-bit digest of a source row (with everything that shapes its batch), filed under a 64-bit
hash of the row's key. A page files its rows' fingerprints as ONE block row (two packed int8 arrays), not a
row each: a block costs one insert and no index entry per row, and a run loads a feed's blocks at once into
two sorted numpy arrays (16 bytes a fingerprint), so recognising the unchanged rows of a page costs no query
at all. A key filed again in a later block takes that block's digest; the blocks are rewritten compactly when
more than half of what they hold is superseded.

A feed with more fingerprints than WSYNC_FINGERPRINTS_IN_MEMORY keeps none: its runs map and resolve every
row (writing only what changed, so the store stays exact), and memory stays bounded whatever the table size.

64 bits are enough: a changed row is taken for unchanged only if its new digest equals one already on file,
odds of n / 2**64 per changed row (5e-13 for ten million rows).
"""

from __future__ import annotations

import hashlib

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from feeds.profiles import sql
from feeds.sync.models import FingerprintBlock

TABLE = FingerprintBlock._meta.db_table
INT8 = np.dtype("<i8")  # how a block stores its numbers, whatever the machine's byte order
BLOCK = 65_536  # fingerprints a compacted block holds (1 MB)


def as_int64(raw: bytes) -> int:
    """Return the first 8 bytes of a digest as a signed 64-bit integer (a bigint column's range)."""
    return int.from_bytes(raw[:8], "big", signed=True)


def key_hash(row_key: str) -> int:
    return as_int64(hashlib.blake2b(row_key.encode(), digest_size=8).digest())


class Known:
    """The fingerprints on file for one feed when a run starts: digest → key hash lookups for its pages."""

    def __init__(self, feed_id: int) -> None:
        self.feed_id = feed_id
        self.digests: np.ndarray | None = None
        self.keys: np.ndarray | None = None
        ((filed, newest),) = sql.fetch(
            f"SELECT coalesce(sum(count), 0), max(id) FROM {TABLE} WHERE feed_id = %s", [feed_id]
        )
        if filed > settings.WSYNC_FINGERPRINTS_IN_MEMORY:
            FingerprintBlock.objects.filter(feed_id=feed_id, id__lte=newest).delete()  # too many to use
            return
        keys, digests = _current(*_load(feed_id, filed, newest))
        if newest is not None and len(keys) * 2 < filed:
            _compact(feed_id, newest, keys, digests)
        order = np.argsort(digests, kind="stable")
        self.digests, self.keys = digests[order], keys[order]

    @property
    def kept(self) -> bool:
        """Whether this feed's fingerprints are kept (it is not over WSYNC_FINGERPRINTS_IN_MEMORY)."""
        return self.digests is not None

    def lookup(self, digests: list[int]) -> tuple[list[int], set[int]]:
        """Return the positions of the page's rows whose digest is not on file, and the key hashes of the others."""
        if self.digests is None or self.keys is None or not len(self.digests) or not digests:
            return list(range(len(digests))), set()
        wanted = np.fromiter(digests, dtype=np.int64, count=len(digests))
        at = np.minimum(np.searchsorted(self.digests, wanted), len(self.digests) - 1)
        hit = self.digests[at] == wanted
        return np.flatnonzero(~hit).tolist(), set(self.keys[at[hit]].tolist())


def _load(feed_id: int, filed: int, newest: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Return the (key hash, digest) pairs of the feed's blocks up to `newest` (`filed` of them), oldest first.

    Block by block into arrays sized once, without holding every block's bytes and a joined copy of them.
    The peak of a run's start is still the sorting that follows (`_current`, then by digest): loading
    5,000,000 fingerprints takes a process ~280 MB above where it was (docs/store.md, "Row fingerprints").
    """
    keys, digests = np.empty(int(filed), dtype=np.int64), np.empty(int(filed), dtype=np.int64)
    filled = 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT keys, digests FROM {TABLE} WHERE feed_id = %s AND id <= %s ORDER BY id",
            [feed_id, newest or 0],
        )
        while rows := cursor.fetchmany(16):
            for block_keys, block_digests in rows:
                count = len(block_keys) // INT8.itemsize
                keys[filled : filled + count] = np.frombuffer(block_keys, dtype=INT8)
                digests[filled : filled + count] = np.frombuffer(block_digests, dtype=INT8)
                filled += count
    return keys[:filled], digests[:filled]


def _current(keys: np.ndarray, digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep, of each key, the digest filed last (the arrays hold the blocks oldest first); sorted by key."""
    if not len(keys):
        return keys, digests
    unique, last = np.unique(keys[::-1], return_index=True)
    return unique, digests[::-1][last]


def _compact(feed_id: int, newest: int, keys: np.ndarray, digests: np.ndarray) -> None:
    """Rewrite the feed's blocks up to `newest` as few blocks holding only the current fingerprints."""
    with transaction.atomic():
        FingerprintBlock.objects.filter(feed_id=feed_id, id__lte=newest).delete()
        FingerprintBlock.objects.bulk_create(
            [
                _block(feed_id, keys[start : start + BLOCK], digests[start : start + BLOCK])
                for start in range(0, len(keys), BLOCK)
            ]
        )


def _block(feed_id: int, keys: np.ndarray, digests: np.ndarray) -> FingerprintBlock:
    return FingerprintBlock(
        feed_id=feed_id,
        keys=keys.astype(INT8).tobytes(),
        digests=digests.astype(INT8).tobytes(),
        count=len(keys),
    )


def record(feed_id: int, digests: dict[str, int]) -> None:
    """File each row key's digest: one block for the page."""
    if not digests:
        return
    # By key hash, so two keys sharing one (odds 2**-64) file one fingerprint.
    filed = {key_hash(k): d for k, d in digests.items()}
    keys = np.fromiter(filed.keys(), dtype=np.int64, count=len(filed))
    values = np.fromiter(filed.values(), dtype=np.int64, count=len(filed))
    order = np.argsort(keys)
    _block(feed_id, keys[order], values[order]).save(force_insert=True)
