"""apply_batches: resolve a page of batches against the profile store and write it, set-wise.

A page costs a constant number of statements: one read of every profile its identities and MPIDs reach
(PostgreSQL; two on SQLite) and one statement per kind of write. It runs inside the caller's transaction
(the engine commits the checkpoint together with the page) and opens none itself.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import DatabaseError
from django.utils import timezone

from feeds.mapping.pages import Rejection
from feeds.models import Feed
from feeds.profiles import loading, sql
from feeds.profiles.models import Event, Identity, Profile, pack, run_key
from feeds.profiles.resolve import (
    FEED,
    ORDER,
    RUN,
    IdentityConflict,
    ProfileState,
    Resolver,
    RowOutcome,
    page_order,
    rejection,
    row_identities,
)

PROFILES, IDENTITIES, EVENTS = Profile._meta.db_table, Identity._meta.db_table, Event._meta.db_table


@dataclass(frozen=True)
class ProfileChange:
    """What one page did to one profile: the identities and attribute values it set, and the ones it removed."""

    profile_id: int
    mpid: int
    created: bool
    identities: dict[str, str]  # type → value, set or changed
    identities_removed: list[str]  # types released
    attributes: dict[str, Any]  # name → value, set or changed
    attributes_removed: list[str]


@dataclass
class ApplyResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    events_written: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    conflicts: list[IdentityConflict] = field(default_factory=list)
    resolve_seconds: float = 0.0  # of the call: loading what the page reaches and resolving it in memory
    changed: list[ProfileState] = field(default_factory=list)  # the profiles the page wrote
    event_ids: list[str] = field(default_factory=list)  # the events the page wrote
    # The events the page wrote, each with its profile: connected outputs send them (docs/outputs.md).
    events: list[tuple[ProfileState, dict]] = field(default_factory=list)

    def profile_changes(self) -> list[ProfileChange]:
        """Return what the page changed, profile by profile (computed on demand: a first load needs none)."""
        return [_change(p) for p in self.changed]


def _change(p: ProfileState) -> ProfileChange:
    assert p.id is not None
    removed, patch = _changes(p.attributes_before, p.attributes)
    identities = {t: v for t, v in p.identities.items() if p.identities_before.get(t) != v}
    return ProfileChange(
        p.id,
        p.mpid,
        p.created,
        identities,
        sorted(p.identities_before.keys() - p.identities.keys()),
        {name: entry[0] for name, entry in patch.items()},
        removed,
    )


def mpid_pool(count: int) -> Callable[[], int]:
    """Return a function handing out `count` consecutive positive signed 64-bit MPIDs from a random start.

    They are not checked against the store: with n profiles a page's run of MPIDs meets a taken one with odds
    about 2 * count * n / 2**63 (1e-9 for a million profiles in pages of 5,000). Should it happen, the unique
    (workspace, environment, mpid) index refuses the page's insert, the page's transaction rolls back whole
    (checkpoint included) and the run is retried with another start. A check per page cost a query that
    probed every candidate (6 s of a million-row load).

    Consecutive, not each one random: a page's new profiles then go into one corner of the MPID index
    instead of one leaf page each, so a commit writes tens of index pages instead of thousands (SQLite
    writes each touched page to the WAL; PostgreSQL to its WAL after a checkpoint; docs/store.md).
    MPIDs beyond `count` are random.
    """
    start: int | None = None
    handed = 0

    def new_mpid() -> int:
        nonlocal start, handed
        if start is None:
            start = min(secrets.randbits(63) or 1, 2**63 - 1 - count)
        handed += 1
        return start + handed - 1 if handed <= count else secrets.randbits(63) or 1

    return new_mpid


def resolve_page(
    feed: Feed,
    run_id: int | None,
    batches: list[dict],
    row_keys: list[str],
    iterator_values: list,
    *,
    new_mpid: Callable[[], int],
    snapshots: bool = False,
    at: str | None = None,
) -> tuple[Resolver, list[tuple[int, RowOutcome]]]:
    """Return the resolver (its state now holds the page's result) and each row's outcome, newest row last.

    `at` (ISO) is recorded in each changed profile's set_at as when this run wrote its values.
    """
    identities = [row_identities(b) for b in batches]
    state = loading.load_state(feed.workspace_id, feed.environment, batches, identities)
    resolver = Resolver(
        state,
        protection=feed.input_protection,
        feed_id=feed.pk,
        run_id=run_id,
        new_mpid=new_mpid,
        snapshots=snapshots,
        at=at,
    )
    order, keys = page_order(iterator_values or [None] * len(batches), ZoneInfo(feed.timezone or "UTC"))
    settled = resolver.create_unseen(batches, row_keys, identities, keys)
    resolve = resolver.resolve
    return resolver, [
        (i, settled[i] if i in settled else resolve(batches[i], row_keys[i], keys[i], identities[i]))
        for i in order
    ]


def apply_batches(
    *, feed: Feed, run_id: int | None, batches: list[dict], row_keys: list[str], iterator_values: list
) -> ApplyResult:
    """Resolve and write one page of batches; returns the counts, rejections and identity conflicts."""
    started, now = time.perf_counter(), timezone.now()
    new_mpid = mpid_pool(len(batches))
    resolver, outcomes = resolve_page(
        feed, run_id, batches, row_keys, iterator_values, new_mpid=new_mpid, at=now.isoformat()
    )
    result = ApplyResult(resolve_seconds=time.perf_counter() - started)
    for i, outcome in outcomes:
        if outcome.outcome in ("reject", "skip"):
            result.rejected.append(rejection(outcome, batches[i]))
        else:
            setattr(result, _COUNTERS[outcome.outcome], getattr(result, _COUNTERS[outcome.outcome]) + 1)
        result.conflicts.extend(outcome.conflicts)
    result.changed = _write_profiles(feed, resolver, now)
    written = _write_events(feed, run_id, batches, outcomes, now)
    result.event_ids = [row[3] for _, row in written]
    result.events = [(p, {"event_id": row[3], "event_type": row[6], "data": row[9]}) for p, row in written]
    result.events_written = len(written)
    return result


_COUNTERS = {"create": "created", "update": "updated", "unchanged": "unchanged"}


def _write_profiles(feed: Feed, resolver: Resolver, now: datetime) -> list[ProfileState]:
    """Write the page's new and changed profiles; return them."""
    stamp = sql.db_datetime(now)
    if resolver.created:
        _insert_profiles(feed, resolver.created, stamp)
    changed = [p for p in resolver.state.by_mpid.values() if p.changed]
    _write_identities(feed, changed, stamp)
    _update_profiles([p for p in changed if not p.created], stamp)
    return changed


def _insert_profiles(feed: Feed, created: list[ProfileState], stamp: Any) -> None:
    """Insert the new profiles with their documents and set their ids (PostgreSQL: ids from the sequence, one COPY)."""
    columns = [
        ("mpid", "bigint"),
        ("attributes", "jsonb"),
        ("set_at", "jsonb"),
        ("identities", "jsonb"),
        ("origin", "jsonb"),
    ]
    rows = [(p.mpid, _packed(p, _set_origin(p)), p.set_at, p.identities, p.origin) for p in created]
    fixed = [
        ("workspace_id", "bigint", feed.workspace_id),
        ("environment", "text", feed.environment),
        ("created_at", "timestamptz", stamp),
        ("updated_at", "timestamptz", stamp),
    ]
    if sql.is_postgres():
        ids = [pk for (pk,) in sql.fetch(_NEXT_IDS, [PROFILES, len(created)])]
        for profile, pk in zip(created, ids, strict=True):
            profile.id = pk
        sql.copy_rows(
            PROFILES, [("id", "bigint"), *columns], [(pk, *r) for pk, r in zip(ids, rows, strict=True)], fixed
        )
        return
    constant = [v for _, _, v in fixed]
    returned = sql.insert_rows(
        PROFILES,
        [*columns, *((n, t) for n, t, _ in fixed)],
        [(*r, *constant) for r in rows],
        "RETURNING id, mpid",
    )
    by_mpid = dict((mpid, pk) for pk, mpid in returned)
    for profile in created:
        profile.id = by_mpid[profile.mpid]


def _set_origin(profile: ProfileState) -> tuple[Any, Any, Any] | None:
    """Give a new profile its origin, the lineage of its first value (its values nearly always share it); return it."""
    for entry in profile.attributes.values():
        profile.origin = (entry[FEED], entry[RUN], entry[ORDER])
        break
    return profile.origin


def _packed(profile: ProfileState, origin: tuple[Any, Any, Any] | None) -> dict[str, Any]:
    """The profile's attribute document as stored: entries with its origin's lineage as [value]."""
    return pack(profile.attributes, origin) if origin is not None else profile.attributes


# Ids drawn from the table's own sequence in one round trip, so COPY can write the profiles with them.
_NEXT_IDS = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"


def _update_profiles(profiles: list[ProfileState], stamp: Any) -> None:
    """Write the changed existing profiles' documents (attributes, set_at, identities) and updated_at, in one statement.

    PostgreSQL merges only the changed keys into the stored documents, so two transactions that change
    different attributes or identity types of one profile (concurrent backfill windows) both keep their change.
    SQLite allows one writer at a time, so it stores the whole documents the page computed.
    """
    if not profiles:
        return
    for p in profiles:
        # Forget when runs wrote whose values are all gone (replaced or removed).
        referenced = {run_key(a[RUN]) for a in p.attributes.values()}
        p.set_at = {run: at for run, at in p.set_at.items() if run in referenced}
    if sql.is_postgres():
        _update_postgres(profiles, stamp)
        return
    rows = [(p.id, _packed(p, p.origin), p.set_at, p.identities) for p in profiles]
    sql.execute(
        f"UPDATE {PROFILES} SET attributes = d.doc, set_at = d.stamps, identities = d.ids, updated_at = %s "
        "FROM (SELECT value ->> 0 AS id, value -> 1 AS doc, value -> 2 AS stamps, value -> 3 AS ids "
        f"FROM json_each(%s)) AS d WHERE {PROFILES}.id = d.id",
        [stamp, sql.json_text(rows)],
    )


# Each profile's changes as one record of the page's JSON document (orjson; no escaping of each value into
# array literals). `expected` holds the stored value (null: none) of every identity type the page changed:
# should a concurrent transaction have changed one of those types meanwhile, the row does not match, and the
# page fails (a retry reads the profile again) instead of leaving two values of one type in the identity
# rows while the document keeps one.
_UPDATE = f"""
UPDATE {PROFILES} AS p SET updated_at = %s,
  attributes = (p.attributes - ARRAY(SELECT jsonb_array_elements_text(d.removed))) || d.patch,
  set_at = (p.set_at - ARRAY(SELECT jsonb_array_elements_text(d.stale))) || d.stamps,
  identities = (p.identities - ARRAY(SELECT jsonb_array_elements_text(d.released))) || d.claimed
FROM jsonb_to_recordset(%s::jsonb) AS d(
  id bigint, removed jsonb, patch jsonb, stale jsonb, stamps jsonb, released jsonb, claimed jsonb, expected jsonb)
WHERE p.id = d.id AND NOT EXISTS (SELECT FROM jsonb_each(d.expected) AS e
  WHERE p.identities -> e.key IS DISTINCT FROM nullif(e.value, 'null'::jsonb))
"""


def _update_postgres(profiles: list[ProfileState], stamp: Any) -> None:
    changes = []
    for p in profiles:
        removed, patch = _changes(p.attributes_before, p.attributes)
        stale, stamps = _changes(p.set_at_before, p.set_at)
        released, claimed = _changes(p.identities_before, p.identities)
        claimed = {t: v for t, v in claimed.items() if p.identities_before.get(t) != v}
        expected = {t: p.identities_before.get(t) for t in [*released, *claimed]}
        changes.append(
            {
                "id": p.id,
                **{"removed": removed, "patch": patch, "stale": stale, "stamps": stamps},
                **{"released": released, "claimed": claimed, "expected": expected},
            }
        )
    updated = sql.execute(_UPDATE, [stamp, sql.json_text(changes)])
    if updated != len(profiles):
        raise DatabaseError("a profile's identities changed in another transaction meanwhile; retry the page")


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Return the keys a page removed from a document and the entries it set (an unchanged one is the same object)."""
    removed = sorted(before.keys() - after.keys())
    return removed, {k: v for k, v in after.items() if before.get(k) is not v}


def _write_identities(feed: Feed, changed: list[ProfileState], stamp: Any) -> None:
    """Delete the identity rows the page's profiles released and insert the ones they claimed, by primary key."""
    released, claimed = [], []
    for p in changed:
        before, now = p.identities_before, p.identities
        for identity_type, value in before.items():
            if now.get(identity_type) != value:
                released.append((identity_type, value))
        for identity_type, value in now.items():
            if before.get(identity_type) != value:
                claimed.append((p.id, identity_type, value))
    # Released values go first: another profile of the same page may claim them.
    sql.delete_keys(IDENTITIES, [feed.workspace_id, feed.environment], released)
    sql.copy_rows(
        IDENTITIES,
        [("profile_id", "bigint"), ("identity_type", "text"), ("value", "text")],
        sorted(claimed, key=_index_order),  # in the primary key's order: each leaf page is touched once
        fixed=[
            ("workspace_id", "bigint", feed.workspace_id),
            ("environment", "text", feed.environment),
            ("feed_id", "bigint", feed.pk),
            ("created_at", "timestamptz", stamp),
        ],
    )


def _index_order(claimed: Sequence[Any]) -> tuple[str, str]:
    """(identity type, value): the order of the primary key the rows go into (within one scope)."""
    return claimed[1], claimed[2]


def event_rows(
    feed: Feed, run_id: int | None, batch: dict, profile_id: int | None, stamp: Any
) -> list[tuple]:
    """Return the Event rows of one batch (one per event)."""
    rows = []
    for event in batch.get("events") or []:
        data = event.get("data") or {}
        name = data.get("event_name") or data.get("screen_name") or ""
        ms = data.get("timestamp_unixtime_ms")
        at = datetime.fromtimestamp(ms / 1000, tz=UTC) if isinstance(ms, (int, float)) else None
        event_id = str(
            data.get("source_message_id") or batch.get("source_request_id") or _content_id(feed, batch)
        )
        rows.append(
            (
                feed.workspace_id,
                feed.environment,
                profile_id,
                event_id,
                feed.pk,
                run_id,
                str(event.get("event_type") or ""),
                str(name)[:256],
                sql.db_datetime(at),
                data,
                stamp,
            )
        )
    return rows


def _content_id(feed: Feed, batch: dict) -> str:
    content = json.dumps(batch, sort_keys=True, default=str)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"wsync:{feed.pk}:{content}"))


def _write_events(
    feed: Feed, run_id: int | None, batches: list[dict], outcomes: list[tuple[int, RowOutcome]], now: datetime
) -> list[tuple[ProfileState, tuple]]:
    """Write the page's new events; return each with its profile, in the order they were written."""
    stamp = sql.db_datetime(now)
    rows: dict[str, tuple] = {}
    owners: dict[str, ProfileState] = {}
    for i, outcome in outcomes:
        if outcome.profile is not None:
            for row in event_rows(feed, run_id, batches[i], outcome.profile.id, stamp):
                rows.setdefault(row[3], row)  # the same event twice in a page is one event
                owners.setdefault(row[3], outcome.profile)
    if not rows:
        return []
    # Probes, not `event_id = ANY(list)`: that is planned as a scan of the workspace's every event while the
    # table has no statistics (a first load, autovacuum off), 0.5 s a page at a million events.
    existing = sql.fetch_matching(
        "event_id",
        EVENTS,
        "workspace_id = %s AND environment = %s",
        "event_id",
        rows,
        "text",
        [feed.workspace_id, feed.environment],
    )
    for (event_id,) in existing:
        rows.pop(event_id, None)
    # What is left cannot be stored yet, unless a concurrent window of the same feed writes one of these events
    # right now: its unique index then refuses the page, which rolls back whole and is retried (as for
    # identities). So the rows go in with one COPY on PostgreSQL: 2.3x cheaper than INSERT … ON CONFLICT.
    sql.copy_rows(
        EVENTS,
        [
            ("workspace_id", "bigint"),
            ("environment", "text"),
            ("profile_id", "bigint"),
            ("event_id", "text"),
            ("feed_id", "bigint"),
            ("run_id", "bigint"),
            ("event_type", "text"),
            ("event_name", "text"),
            ("timestamp", "timestamptz"),
            ("data", "jsonb"),
            ("created_at", "timestamptz"),
        ],
        list(rows.values()),
    )
    return [(owners[event_id], row) for event_id, row in rows.items()]
