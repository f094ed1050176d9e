"""Loading what a page reaches: every profile its identity values and MPIDs lead to, in full, set-wise.

PostgreSQL: one statement a page; SQLite: two. The store (`store.py`) resolves the page against what this
returns and writes the difference (docs/store.md, "Loading what a page reaches").
"""

from __future__ import annotations

from typing import Any

import orjson

from feeds.profiles import sql
from feeds.profiles.models import Identity, Profile, unpack
from feeds.profiles.resolve import ProfileState, StoreState, batch_mpid

PROFILES, IDENTITIES = Profile._meta.db_table, Identity._meta.db_table
_SCOPE = "workspace_id = %s AND environment = %s"


def load_state(
    workspace_id: int, environment: str, batches: list[dict], identities: list[dict[str, str]]
) -> StoreState:
    """Return every profile the batches' identities (row_identities of each) or MPIDs reach, in full."""
    pairs = {pair for found in identities for pair in found.items()}
    mpids = {m for b in batches if (m := batch_mpid(b)) is not None}
    if sql.is_postgres():
        profiles = _load_postgres(workspace_id, environment, pairs, mpids) if pairs or mpids else {}
    else:
        ids = _owner_ids(workspace_id, environment, pairs) if pairs else set()
        profiles = _load_profiles(workspace_id, environment, ids, mpids)
    state = StoreState()
    for profile in profiles.values():
        profile.identities_before = dict(profile.identities)
        profile.attributes_before = dict(profile.attributes)
        profile.set_at_before = dict(profile.set_at)
        state.add(profile)
    return state


# PostgreSQL: every profile a page reaches, with its identities, in ONE statement. Each identity pair is one
# probe of the identity primary key and each MPID one of its unique index; a profile's identities come with
# its row (its document), not from an aggregate over the identity table. OFFSET 0 keeps it a probe whatever the statistics say: on tables a run
# has just filled and nobody has analysed yet, `= ANY(list)` of thousands of values is often planned as a scan.
_LOAD = f"""
WITH reached AS (
  SELECT o.profile_id AS id FROM unnest(%s::text[], %s::text[]) AS k(t, v) CROSS JOIN LATERAL
    (SELECT profile_id FROM {IDENTITIES} WHERE {_SCOPE} AND identity_type = k.t AND value = k.v OFFSET 0) AS o
  UNION
  SELECT m.id FROM unnest(%s::bigint[]) AS k(mpid) CROSS JOIN LATERAL
    (SELECT id FROM {PROFILES} WHERE {_SCOPE} AND mpid = k.mpid OFFSET 0) AS m
)
SELECT p.id, p.mpid, p.attributes::text, p.set_at::text, p.origin::text, p.identities::text
FROM reached CROSS JOIN LATERAL
  (SELECT id, mpid, attributes, set_at, origin, identities FROM {PROFILES} WHERE id = reached.id OFFSET 0) AS p
"""


def _load_postgres(
    workspace_id: int, environment: str, pairs: set[tuple[str, str]], mpids: set[int]
) -> dict[int, ProfileState]:
    types, values = zip(*pairs, strict=True) if pairs else ((), ())
    scope = [workspace_id, environment]
    params = [sql.pg_array(types, "text"), sql.pg_array(values, "text"), *scope]
    rows = sql.fetch(_LOAD, [*params, sql.pg_array(mpids, "bigint"), *scope])
    return {
        pk: _loaded(pk, mpid, document, set_at, origin, found)
        for pk, mpid, document, set_at, origin, found in rows
    }


def _owner_ids(workspace_id: int, environment: str, pairs: set[tuple[str, str]]) -> set[int]:
    """SQLite: return the profiles owning any of the (identity type, value) pairs: one index probe a pair.

    `type IN types AND value IN values` probed every type with every value (twice the probes of a page of
    two identity types, most of them for pairs no row has).
    """
    rows = sql.fetch(
        f"SELECT i.profile_id FROM json_each(%s) AS k CROSS JOIN {IDENTITIES} AS i "
        "WHERE i.workspace_id = %s AND i.environment = %s AND i.identity_type = k.value ->> 0 "
        "AND i.value = k.value ->> 1",
        [sql.json_text(sorted(pairs)), workspace_id, environment],
    )
    return {r[0] for r in rows}


def _load_profiles(
    workspace_id: int, environment: str, ids: set[int], mpids: set[int]
) -> dict[int, ProfileState]:
    """SQLite: return the profiles with these ids or MPIDs, with their identities.

    Ids are probed on the primary key and MPIDs on their unique index, in two SELECTs: with `id IN … OR
    mpid IN …`, or with a plain scope test beside `id IN …`, SQLite walked the environment's every profile
    in the landing index (0.2–0.9 s a page at a million profiles). The unary `+` keeps the scope a filter.
    """
    if not ids and not mpids:
        return {}
    by_id, id_params = sql.in_list("id", ids, "bigint")
    by_mpid, mpid_params = sql.in_list("mpid", mpids, "bigint")
    columns = f"SELECT id, mpid, attributes, set_at, origin, identities FROM {PROFILES}"
    rows = sql.fetch(
        f"{columns} WHERE {by_id} AND +workspace_id = %s AND +environment = %s "
        f"UNION ALL {columns} WHERE {_SCOPE} AND {by_mpid}",
        [*id_params, workspace_id, environment, workspace_id, environment, *mpid_params],
    )
    return {
        pk: _loaded(pk, mpid, document, set_at, origin, found)
        for pk, mpid, document, set_at, origin, found in rows
    }


def _loaded(pk: int, mpid: int, document: Any, set_at: Any, origin: Any, identities: Any) -> ProfileState:
    """A profile as the resolver works on it: its attribute entries in full, whatever their stored form."""
    stored = _document(origin) if origin is not None else None
    lineage = tuple(stored) if stored else None  # none stored: SQL NULL, or JSON null (no values at creation)
    attributes = unpack(_document(document), lineage)
    return ProfileState(pk, mpid, _document(identities), attributes, set_at=_document(set_at), origin=lineage)


def _document(document: Any) -> Any:
    """Return a stored JSON document (attributes, set_at, identities or origin) decoded."""
    if isinstance(document, str):  # Django has both SQLite and psycopg hand JSON over as text
        document = orjson.loads(document)
    return document or {}
