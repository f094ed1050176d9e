"""The sync engine: read → map → resolve/write → checkpoint, one page at a time.

Each page is written to the profile store in ONE transaction together with the checkpoint and the
run's counters, so a worker killed at any moment leaves the store and the checkpoint agreeing:
the next run starts from the last committed page and, since writes are idempotent, ends exact.
"""

from __future__ import annotations

import gc
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from feeds.mapping.pages import MappedPage, compile_mappings, map_page
from feeds.models import Feed, FeedState, SyncMode
from feeds.profiles.store import apply_batches
from feeds.rules.runs import apply_for_run
from feeds.sync import fingerprints, health, queue, windows, workers
from feeds.sync.changes import ChangedRows, Fingerprint
from feeds.sync.models import (
    AttemptOutcome,
    Checkpoint,
    IdentityConflictRecord,
    RejectedRow,
    RunKind,
    RunState,
    SyncRun,
)
from feeds.warehouses.base import IteratorKind, Page, ReadWindow, Since, WarehouseError, iterator_kind
from feeds.warehouses.registry import open_warehouse

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
RETRY_BASE_SECONDS = 30
BUSY = "The profile store was busy."
PAUSED = "The feed was paused during this run."
PAUSED_WINDOW = "The feed was paused during this run; the feed's next run reads this window again."


class Superseded(Exception):
    """The run was taken over (its worker was presumed dead) or deleted: stop without writing."""


class Paused(Exception):
    """The feed was paused while the run was going: stop after the page that was committed."""


@dataclass
class Job:
    """What one execution of a run needs between pages."""

    run: SyncRun
    feed: Feed
    token: str
    kind: IteratorKind | None  # None in full mode
    moves_checkpoint: bool
    checkpoint: Any = None
    since: Since | None = None  # the Sync Start Date on the timestamp field, when it applies
    data_min: Any = None
    data_max: Any = None
    at_max: int = 0  # committed rows whose iterator value is data_max
    # A resumed attempt: the value it resumes at (the last attempt's data_max, read again inclusive)
    # and how many rows at that value were committed before, so they count as re-read, not read.
    resume_at: Any = None
    reread_left: int = 0
    compiled: Any = None
    changes: ChangedRows | None = None  # full mode: what the feed's fingerprints say changed
    timings: dict[str, float] = field(default_factory=dict)

    def spend(self, step: str, started: float, *, less: float = 0.0) -> None:
        """Add the time since `started` to `step`, less the part of it already counted under another step."""
        self.add(step, time.perf_counter() - started - less)

    def add(self, step: str, seconds: float) -> None:
        self.timings[step] = self.timings.get(step, 0.0) + seconds

    def spent(self, step: str) -> float:
        return self.timings.get(step, 0.0)


def run(run_id: int) -> None:
    """Execute a queued run to its end (succeeded, failed, retry planned or cancelled); never raises."""
    token = queue.claim(run_id)
    if token is None:
        return
    sync_run = SyncRun.objects.select_related(
        "feed__connection", "feed__data_model", "feed__field_transformation"
    ).get(pk=run_id)
    with _heartbeat(run_id, token):
        _attempt(sync_run, token)
    queue.dispatch_waiting(sync_run.feed_id)


def _attempt(sync_run: SyncRun, token: str) -> None:
    try:
        job = _job(sync_run, token)
        _execute(job)
    except Superseded:
        return
    except Paused:
        backfill = sync_run.kind == RunKind.BACKFILL
        _end(sync_run, token, RunState.CANCELLED, PAUSED_WINDOW if backfill else PAUSED, owed=backfill)
    except health.ConnectionFailed as error:
        _fail(sync_run, token, error.message, permanent=True, connection_id=sync_run.feed.connection_id)
    except WarehouseError as error:
        _fail(sync_run, token, error.message, permanent=error.permanent)
    except DatabaseError as error:
        # Lock timeouts and identity races between concurrent windows go away on a retry.
        log.warning("run %s: database error %s: %s", sync_run.pk, type(error).__name__, error)
        _fail(sync_run, token, BUSY, permanent=False)
    except Exception:
        log.exception("run %s failed", sync_run.pk)
        _fail(sync_run, token, "wsync stopped on an unexpected error; the details are in the worker log.")
    else:
        _succeed(sync_run, token, job.timings)


@contextmanager
def _heartbeat(run_id: int, token: str) -> Iterator[None]:
    """Bump the run's heartbeat from a thread while it runs, so a long page does not look like a dead worker.

    Not inside an outer transaction (tests that run the engine in theirs): the thread's own connection
    would wait for that transaction's lock, which the engine's thread holds until the test ends.
    """
    if connection.in_atomic_block:
        yield
        return

    def beat() -> None:
        SyncRun.objects.filter(pk=run_id, claim=token, state=RunState.RUNNING).update(
            heartbeat_at=timezone.now()
        )

    with workers.Heartbeat(beat, queue.heartbeat_every()):
        yield


def _job(sync_run: SyncRun, token: str) -> Job:
    feed = sync_run.feed
    incremental = feed.sync_mode == SyncMode.INCREMENTAL and bool(feed.iterator)
    kind = iterator_kind(feed.iterator_type) if incremental else None
    job = Job(sync_run, feed, token, kind, incremental and sync_run.kind != RunKind.BACKFILL)
    if kind is not None:
        bounds = sync_run.data_bounds or {}
        job.data_min = windows.decode(bounds.get("min"), kind)
        job.data_max = windows.decode(bounds.get("max"), kind)
        job.at_max = int(bounds.get("at_max") or 0)
        if sync_run.attempt > 1 and job.data_max is not None:
            job.resume_at, job.reread_left = job.data_max, job.at_max
    if not incremental and sync_run.attempt > 1:
        _restart_full(sync_run)
    return job


def _restart_full(sync_run: SyncRun) -> None:
    """A full run that is retried reads everything again: count its rows from zero."""
    RejectedRow.objects.filter(run=sync_run).delete()
    SyncRun.objects.filter(pk=sync_run.pk).update(rows_read=0, rows_mapped=0, rows_rejected=0)


def _execute(job: Job) -> None:
    feed = job.feed
    if feed.connection is None or feed.data_model is None or feed.field_transformation is None:
        raise WarehouseError(
            "The feed has no connection, data model or mapping; finish its setup.", permanent=True
        )
    if not feed.connection.is_active:
        raise WarehouseError(health.inactive_message(feed.connection), permanent=True)
    window = _full_window(job) if job.kind is None else _window(job)
    _start(job)
    provider = open_warehouse(feed.connection.provider, feed.connection.warehouse_config())
    pages: Iterator[Page] = iter(())
    try:
        pages = iter(provider.read(feed.data_model.sql, window, page_size=settings.WSYNC_PAGE_SIZE))
        while True:
            started = time.perf_counter()
            page = next(pages, None)
            job.spend("read", started)
            if page is None:
                break
            _page(job, page)
    except WarehouseError as error:
        if error.permanent and health.from_connection(provider, feed.connection, error):
            raise health.ConnectionFailed(error.message) from error
        raise
    finally:
        # Close the read first: a run that stops mid-read (an error, a pause) must not leave the
        # warehouse connection open until garbage collection (DuckDB refuses other openings meanwhile).
        close = getattr(pages, "close", None)
        if close is not None:
            close()
        provider.close()


def _start(job: Job) -> None:
    """Record the run's mode and, for a full run, its expected row count: the last full run's (an estimate).

    Incremental runs leave it unknown: only a count query on the warehouse could tell.
    """
    full = job.kind is None
    total = None
    if full:
        last = SyncRun.objects.filter(feed=job.feed, sync_mode=SyncMode.FULL, state=RunState.SUCCEEDED)
        total = last.exclude(pk=job.run.pk).order_by("-pk").values_list("rows_read", flat=True).first()
    SyncRun.objects.filter(pk=job.run.pk).update(
        sync_mode=SyncMode.FULL if full else SyncMode.INCREMENTAL,
        total_rows=total,
        total_rows_estimated=total is not None,
    )


def _full_window(job: Job) -> ReadWindow | None:
    """Return a full run's window: only the Sync Start Date on the timestamp field (None without one)."""
    feed = job.feed
    since = windows.since(feed, "", feed.from_time)
    if since is None:
        return None
    _record_window(job.run, None, None, since)
    return ReadWindow("", "", timezone=feed.timezone, since=since)


def _window(job: Job) -> ReadWindow:
    """Return an incremental run's read window and record it on the run."""
    feed, sync_run, kind = job.feed, job.run, job.kind
    assert kind is not None
    saved = sync_run.window or {}
    if sync_run.kind == RunKind.BACKFILL:
        lower, upper, since = _backfill_bounds(feed, kind, saved)
    else:
        upper = windows.decode(saved["upper"], kind) if "upper" in saved else _now_bound(feed, kind)
        checkpoint = _checkpoint(feed)
        job.checkpoint = windows.decode(checkpoint.value, kind) if checkpoint else None
        lower, since = _start_bounds(feed, kind, checkpoint, job.checkpoint)
        job.since = since
    _record_window(sync_run, lower, upper, since)
    # A resumed attempt reads from its own progress: the rows below it were committed by the attempt
    # before (pages are read in iterator order), the rows at it are read again.
    if job.resume_at is not None and (lower is None or job.resume_at > lower):
        lower = job.resume_at
    return ReadWindow(feed.iterator, feed.iterator_type, lower, upper, feed.timezone, since)


def _backfill_bounds(feed: Feed, kind: IteratorKind, saved: dict) -> tuple[Any, Any, Since | None]:
    """Return a backfill window: on the timestamp field when it was made so, else on the iterator."""
    if "since" not in saved:
        return windows.decode(saved.get("lower"), kind), windows.decode(saved.get("upper"), kind), None
    start, end = (windows.decode(saved.get(k), IteratorKind.TIMESTAMP) for k in ("since", "until"))
    since = windows.since(feed, "", start, end)  # type: ignore[arg-type]
    if since is None:
        raise WarehouseError(
            "This historical window reads the data model's timestamp field, which is no longer set. "
            "Pick the timestamp field again on the data model step.",
            permanent=True,
            field="timestamp_field",
        )
    return None, None, since


def _start_bounds(
    feed: Feed, kind: IteratorKind, checkpoint: Checkpoint | None, value: Any
) -> tuple[Any, Since | None]:
    """Return where a main run starts on the iterator, and the Sync Start Date filter if it applies.

    The filter applies to the first load (no checkpoint yet) and, when that load was interrupted
    (paused, failed), to the runs that finish it, so an interruption changes nothing.
    """
    if value is not None:
        lower = windows.minus_lookback(value, kind, feed.lookback_seconds)
        pending = checkpoint is not None and checkpoint.initial_load
        return lower, windows.since(feed, feed.iterator, feed.from_time) if pending else None
    since = windows.since(feed, feed.iterator, feed.from_time)
    if since is not None or feed.from_time is None:
        return None, since
    # The timestamp field is the iterator (or unset): the iterator's lower bound is the start date.
    return windows.from_instant(feed.from_time, kind, feed.timezone), None


def _record_window(sync_run: SyncRun, lower: Any, upper: Any, since: Since | None) -> None:
    window = {"lower": windows.encode(lower), "upper": windows.encode(upper)}
    if since is not None:
        window.update(since=windows.encode(since.value), until=windows.encode(since.until))
        lower = since.value if lower is None else lower
        upper = since.until if upper is None else upper
    SyncRun.objects.filter(pk=sync_run.pk).update(
        window=window, window_from=windows.display(lower), window_to=windows.display(upper)
    )


def _now_bound(feed: Feed, kind: IteratorKind) -> Any:
    # Fixed at run start: rows committed in the warehouse during the run wait for the next run.
    return windows.from_instant(timezone.now(), kind, feed.timezone)


def _checkpoint(feed: Feed) -> Checkpoint | None:
    checkpoint = Checkpoint.objects.filter(feed=feed).first()
    if checkpoint is None or (checkpoint.iterator, checkpoint.iterator_type) != (
        feed.iterator,
        feed.iterator_type,
    ):
        return None  # a changed iterator starts over from the historical start
    return checkpoint


@contextmanager
def _without_gc_pauses() -> Iterator[None]:
    """Hold Python's cycle collector off while a page is processed.

    A page allocates ~100 containers a row (batches, documents, lineage) and none form reference cycles:
    the collector's passes over them find nothing and cost ~15% of a sync. Reference counting frees
    them as before, and the collector resumes after the page, whatever happened in it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _page(job: Job, page: Page) -> None:
    """Map one page and write it with its checkpoint and counters in one transaction."""
    with _without_gc_pauses():
        _write_page(job, page)
    if Feed.objects.filter(pk=job.feed.pk).values_list("state", flat=True).first() != FeedState.ACTIVE:
        raise Paused


def _write_page(job: Job, page: Page) -> None:
    feed = job.feed
    started = time.perf_counter()
    if job.compiled is None:
        mappings = feed.field_transformation.mappings  # type: ignore[union-attr]
        job.compiled = compile_mappings(mappings, [c.name for c in page.columns])
    bounds = _bounds(job, page)
    fingerprinted = job.spent("fingerprint")
    mapped, skipped, digests = _changed_only(job, page)
    job.spend("map", started, less=job.spent("fingerprint") - fingerprinted)
    started = time.perf_counter()
    with transaction.atomic():
        _commit_mode()
        result = None
        if mapped.batches:
            result = apply_batches(
                feed=feed,
                run_id=job.run.pk,
                batches=mapped.batches,
                row_keys=mapped.row_keys,
                iterator_values=mapped.iterator_values or [None] * len(mapped.batches),
            )
        resolving = result.resolve_seconds if result else 0.0
        job.add("resolve", resolving)
        _record(job, mapped.rejects, result, digests)
        _advance(job, bounds)
        _count(job, page, mapped, result, skipped, bounds)
        job.spend("write", started, less=resolving)
        started = time.perf_counter()
    job.spend("commit", started)


def _commit_mode() -> None:
    """Optionally let PostgreSQL acknowledge a page's COMMIT before its WAL reaches disk.

    Safe for exactness: a page still commits atomically with its checkpoint, so the store and the
    checkpoint always agree. A server crash (not a worker crash) may lose the last few committed pages,
    store and checkpoint together; the next run re-reads from that older checkpoint and, since writes
    are idempotent, ends exact. Off unless WSYNC_ASYNC_COMMIT is set.
    """
    if getattr(settings, "WSYNC_ASYNC_COMMIT", False) and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _map(job: Job, page: Page) -> MappedPage:
    feed = job.feed
    mapped = map_page(
        page,
        job.compiled,
        feed_id=feed.pk,
        environment=feed.environment,
        iterator=feed.iterator or None,
        timezone=feed.timezone,
    )
    return apply_for_run(job.run, mapped)  # the feed's rules, between mapping and resolving (docs/rules.md)


@dataclass
class Bounds:
    """A page's iterator values: smallest, largest, how many rows have the largest, and how many are re-read."""

    low: Any
    high: Any
    at_high: int
    reread: int


def _bounds(job: Job, page: Page) -> Bounds | None:
    if job.kind is None:
        return None
    index = page.column_index(job.feed.iterator)
    zone = job.feed.timezone
    seen = [v for v in (windows.normalise(row[index], job.kind, zone) for row in page.rows) if v is not None]
    if not seen:
        return None
    high = max(seen)
    # The first rows at the value a resumed attempt starts at, as many as were committed before it.
    reread = min(job.reread_left, seen.count(job.resume_at)) if job.reread_left else 0
    job.reread_left -= reread
    return Bounds(min(seen), high, seen.count(high), reread)


def _changed_only(job: Job, page: Page) -> tuple[MappedPage, int, list[Fingerprint]]:
    """Map the page: all of it (incremental), or only the rows that changed since the feed last wrote them (full).

    Returns the mapped rows, how many were skipped as unchanged, and the fingerprints to record.
    """
    if job.kind is not None:
        return _map(job, page), 0, []
    if job.changes is None:
        feed = job.feed
        # The columns' types belong to it: a provider's digest of a row's wire form ("5") does not change
        # when a column turns from integer into text, but the batch does.
        shape = (job.compiled, page.columns, feed.pk, feed.environment, feed.timezone, feed.iterator)
        job.changes = ChangedRows(feed.pk, shape, lambda rows: _map(job, rows))
    result = job.changes.split(page)
    job.timings["fingerprint"] = job.changes.seconds
    return result


def _record(job: Job, rejects: list, result: Any, digests: list[Fingerprint]) -> None:
    rejected = list(rejects) + (list(result.rejected) if result else [])
    RejectedRow.objects.bulk_create(
        [
            RejectedRow(run=job.run, row_key=r.row_key[:512], reason=r.reason, values=_plain(r.values))
            for r in rejected
        ],
        ignore_conflicts=True,
    )
    if result and result.conflicts:
        IdentityConflictRecord.objects.bulk_create(
            [
                IdentityConflictRecord(
                    run=job.run,
                    row_key=c.row_key[:512],
                    identity_type=c.identity_type,
                    value=str(c.value),
                    owner_mpid=c.owner_mpid,
                )
                for c in result.conflicts
            ]
        )
    if digests:
        refused = {r.row_key[:512] for r in rejected}
        # A refused row is read again next run: a skipped event's profile may exist by then.
        fingerprints.record(job.feed.pk, {f.key: f.digest for f in digests if f.row_key not in refused})


def _plain(values: Any) -> Any:
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder, default=str))


def _advance(job: Job, bounds: Bounds | None) -> None:
    """Move the data interval seen and (for main runs) the checkpoint to the page's largest value."""
    if bounds is None:
        return
    low, high = bounds.low, bounds.high
    job.data_min = low if job.data_min is None else min(job.data_min, low)
    if job.data_max is None or high > job.data_max:
        job.data_max, job.at_max = high, bounds.at_high
    elif high == job.data_max:
        # Re-read rows at the resume value were counted in at_max by the attempt that first read them.
        job.at_max += bounds.at_high - (bounds.reread if high == job.resume_at else 0)
    if not job.moves_checkpoint or (job.checkpoint is not None and high <= job.checkpoint):
        return
    job.checkpoint = high
    Checkpoint.objects.update_or_create(
        feed=job.feed,
        defaults={
            "iterator": job.feed.iterator,
            "iterator_type": job.feed.iterator_type,
            "value": windows.encode(high),
            "run": job.run,
            "initial_load": job.since is not None,
        },
    )


def _count(job: Job, page: Page, mapped: Any, result: Any, skipped: int, bounds: Bounds | None) -> None:
    """Add the page to the run's counters; rows re-read by a resumed attempt only to rows_reread.

    A re-read row was written by the attempt before, so writing it again leaves its profile unchanged.
    """
    reread = bounds.reread if bounds else 0
    rejected = len(mapped.rejects) + (len(result.rejected) if result else 0)
    unchanged = (result.unchanged if result else 0) + skipped
    updated = SyncRun.objects.filter(pk=job.run.pk, claim=job.token, state=RunState.RUNNING).update(
        rows_read=F("rows_read") + len(page) - reread,
        rows_reread=F("rows_reread") + reread,
        # skipped rows mapped fine last time
        rows_mapped=F("rows_mapped") + max(0, len(mapped.batches) + skipped - reread),
        rows_rejected=F("rows_rejected") + rejected,
        profiles_created=F("profiles_created") + (result.created if result else 0),
        profiles_updated=F("profiles_updated") + (result.updated if result else 0),
        profiles_unchanged=F("profiles_unchanged") + max(0, unchanged - reread),
        events_written=F("events_written") + (result.events_written if result else 0),
        identity_conflicts=F("identity_conflicts") + (len(result.conflicts) if result else 0),
        data_bounds={
            "min": windows.encode(job.data_min),
            "max": windows.encode(job.data_max),
            "at_max": job.at_max,
        },
        data_from=windows.display(job.data_min),
        data_to=windows.display(job.data_max),
        timings=_rounded(job.timings),
        heartbeat_at=timezone.now(),
    )
    if not updated:
        raise Superseded  # rolls the page back: another worker owns the run now


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in timings.items()}


def _end(sync_run: SyncRun, token: str, state: str, error: str = "", **fields: Any) -> bool:
    """End the run's attempt and put the run in `state`; False when the run was no longer ours.

    A queued state plans the next attempt (next_retry_at in `fields`); the run itself shows no error
    meanwhile: the attempt keeps it.
    """
    outcome = AttemptOutcome.FAILED
    if state in (RunState.SUCCEEDED, RunState.CANCELLED):
        outcome = AttemptOutcome(str(state))
    final = state != RunState.QUEUED
    with transaction.atomic():
        ended = SyncRun.objects.filter(pk=sync_run.pk, claim=token).update(
            state=state,
            claim="",
            worker="",
            finished_at=timezone.now() if final else None,
            dispatched_at=None,
            error=error if final else "",
            **fields,
        )
        if ended:
            queue.close_attempt(sync_run.pk, outcome, error)
    return bool(ended)


def _succeed(sync_run: SyncRun, token: str, timings: dict[str, float]) -> None:
    """Finish the run; a run that carried the Sync Start Date filter has finished the first load."""
    with transaction.atomic():
        # The timings again: the ones saved with the last page lack that page's write and commit.
        _end(sync_run, token, RunState.SUCCEEDED, timings=_rounded(timings), error_permanent=False)
        window = SyncRun.objects.filter(pk=sync_run.pk).values_list("window", flat=True).first() or {}
        if sync_run.kind != RunKind.BACKFILL and "since" in window:
            Checkpoint.objects.filter(feed_id=sync_run.feed_id).update(initial_load=False)
    if not SyncRun.objects.filter(feed_id=sync_run.feed_id, owed=True).exists():
        health.heal(sync_run.feed)  # a window that failed for good keeps the feed faulted until it is read


def _fail(
    sync_run: SyncRun,
    token: str,
    message: str,
    *,
    permanent: bool = False,
    connection_id: int | None = None,
) -> None:
    """End a failed attempt: plan the next one for a passing problem, else fail the run for good.

    A historical window that fails for good stays owed: the feed's next run reads it again. A permanent
    problem also faults the feed (and the connection, when it is the connection's).
    """
    attempt = SyncRun.objects.filter(pk=sync_run.pk).values_list("attempt", flat=True).first() or 1
    if not permanent and attempt < MAX_ATTEMPTS:
        retry_at = timezone.now() + timedelta(seconds=RETRY_BASE_SECONDS * 4 ** (attempt - 1))
        _end(sync_run, token, RunState.QUEUED, message, next_retry_at=retry_at, error_permanent=False)
        return
    owed = sync_run.kind == RunKind.BACKFILL
    _end(sync_run, token, RunState.FAILED, message, error_permanent=permanent, owed=owed, next_retry_at=None)
    if permanent:
        health.fault(sync_run.feed_id, connection_id, message)
