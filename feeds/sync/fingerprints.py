"""Row fingerprints of full-mode feeds: which source rows the store already holds, one statement per page."""

from __future__ import annotations

from feeds.profiles import sql
from feeds.sync.models import RowFingerprint

TABLE = RowFingerprint._meta.db_table


def known(feed_id: int, digests: list[str]) -> dict[str, str]:
    """Return {digest: row key} for the digests on file for the feed."""
    if not digests:
        return {}
    if sql.is_postgres():
        # Hex digests travel as one comma-joined string: cheaper than adapting a list of 5,000 strings.
        where, params = "digest = ANY(string_to_array(%s, ','))", [",".join(set(digests))]
    else:
        where, params = sql.in_list("digest", set(digests), "text")
    rows = sql.fetch(
        f"SELECT digest, row_key FROM {TABLE} WHERE feed_id = %s AND {where}", [feed_id, *params]
    )
    return dict(rows)


def record(feed_id: int, digests: dict[str, str]) -> None:
    """Store each row key's digest (one upsert for the page)."""
    sql.insert_rows(
        TABLE,
        [("feed_id", "bigint"), ("row_key", "text"), ("digest", "text")],
        [(feed_id, key, digest) for key, digest in digests.items()],
        "ON CONFLICT (feed_id, row_key) DO UPDATE SET digest = excluded.digest",
    )
