"""Row fingerprints of full-mode feeds: which source rows the store already holds.

A fingerprint is a 64-bit digest of a source row (with everything that shapes its batch), filed under a 64-bit
hash of the row's key. A run loads its feed's fingerprints once, into two sorted numpy arrays (16 bytes a row),
so recognising the unchanged rows of a page costs no query at all. A feed with more fingerprints than
WSYNC_FINGERPRINTS_IN_MEMORY is looked up page by page instead (one statement a page), so memory stays bounded
whatever the table size.

64 bits are enough: a changed row is taken for unchanged only if its new digest equals one already on file,
odds of n / 2**64 per changed row (5e-13 for ten million rows).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
from django.conf import settings

from feeds.profiles import sql
from feeds.sync.models import RowFingerprint

TABLE = RowFingerprint._meta.db_table


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
        limit = settings.WSYNC_FINGERPRINTS_IN_MEMORY
        digests, keys = _load(feed_id, limit + 1)  # one more than fits tells a feed too big (no count query)
        if len(digests) <= limit:
            order = np.argsort(digests, kind="stable")
            self.digests, self.keys = digests[order], keys[order]

    def lookup(self, digests: list[int]) -> tuple[list[int], set[int]]:
        """Return the positions of the page's rows whose digest is not on file, and the key hashes of the others."""
        if self.digests is None or self.keys is None:
            known = _probe(self.feed_id, set(digests)) if digests else {}
            changed = [i for i, d in enumerate(digests) if d not in known]
            return changed, {known[d] for d in digests if d in known}
        if not digests or not len(self.digests):
            return list(range(len(digests))), set()
        wanted = np.fromiter(digests, dtype=np.int64, count=len(digests))
        at = np.minimum(np.searchsorted(self.digests, wanted), len(self.digests) - 1)
        hit = self.digests[at] == wanted
        return np.flatnonzero(~hit).tolist(), set(self.keys[at[hit]].tolist())


def _load(feed_id: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Return up to `limit` of the feed's (digest, key hash) pairs as two arrays."""
    select = f"SELECT digest, key_hash FROM {TABLE} WHERE feed_id = %s LIMIT %s"
    if not sql.is_postgres():
        # Each column as ONE comma-separated text that numpy parses: a tuple per fingerprint costs ~2x more.
        ((digests, keys),) = sql.fetch(
            f"SELECT group_concat(digest), group_concat(key_hash) FROM ({select}) AS f", [feed_id, limit]
        )
        return _parsed(digests), _parsed(keys)
    # Each column as ONE bytea of big-endian int8s, straight into numpy: a Python object per fingerprint
    # (or a COPY message per row) costs ~20x more. Both aggregates read the rows in the same order.
    ((digests, keys),) = sql.fetch(
        "SELECT string_agg(int8send(digest), ''::bytea), string_agg(int8send(key_hash), ''::bytea) "
        f"FROM ({select}) AS f",
        [feed_id, limit],
    )
    return _int64s(digests), _int64s(keys)


def _int64s(raw: bytes | None) -> np.ndarray:
    return np.frombuffer(raw or b"", dtype=">i8").astype(np.int64)


def _parsed(text: str | None) -> np.ndarray:
    return np.fromstring(text, dtype=np.int64, sep=",") if text else np.empty(0, dtype=np.int64)


def _probe(feed_id: int, digests: Iterable[int]) -> dict[int, int]:
    return dict(
        sql.fetch_matching("digest, key_hash", TABLE, "feed_id = %s", "digest", digests, "bigint", [feed_id])
    )


def record(feed_id: int, digests: dict[str, int]) -> None:
    """File each row key's digest (one upsert for the page)."""
    sql.insert_rows(
        TABLE,
        [("feed_id", "bigint"), ("key_hash", "bigint"), ("digest", "bigint")],
        # By key hash, so two keys sharing one (odds 2**-64) make one row, not an ON CONFLICT error; sorted,
        # so the upsert walks its unique index in order.
        [(feed_id, h, digest) for h, digest in sorted({key_hash(k): d for k, d in digests.items()}.items())],
        "ON CONFLICT (feed_id, key_hash) DO UPDATE SET digest = excluded.digest",
    )
