"""The sync engine: read → map → resolve/write → checkpoint, one page at a time.

Each page is written to the profile store in ONE transaction together with the checkpoint and the
run's counters (`_commit_page`), so a worker killed at any moment leaves the store and the checkpoint
agreeing: the next run starts from the last committed page and, since writes are idempotent, ends exact.
Which rows a run reads is `windows.plan`; how a run ends (retries, owed windows, health) is `queue`.
"""

from __future__ import annotations

import gc
import json
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from feeds.mapping.pages import MappedPage, compile_mappings, map_page
from feeds.models import Feed, FeedState, SyncMode
from feeds.outputs import outbox
from feeds.profiles.store import ApplyResult, apply_batches
from feeds.rules.execute import CompiledRules
from feeds.rules.runs import rules_for_run
from feeds.sync import ahead, fingerprints, health, queue, windows
from feeds.sync.changes import ChangedRows, Fingerprint
from feeds.sync.models import IdentityConflictRecord, RejectedRow, RunKind, RunState, SyncRun
from feeds.sync.progress import Bounds, Progress
from feeds.sync.timings import Timings, timed
from feeds.warehouses.base import Page, WarehouseError, iterator_kind
from feeds.warehouses.registry import open_warehouse

log = logging.getLogger(__name__)
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
    progress: Progress  # through the window (incremental runs); its kind is None in full mode
    compiled: Any = None
    rules: CompiledRules | None = None  # the run's rules, loaded before its first page is read
    changes: ChangedRows | None = None  # full mode: what the feed's fingerprints say changed
    timings: Timings = field(default_factory=Timings)
    preparing: Timings = field(default_factory=Timings)  # reading and mapping, in whichever thread does it
    # The counts of a full run's pages that wrote nothing, not saved yet (`_page`), and how many such pages.
    unsaved: Counter[str] = field(default_factory=Counter)
    unsaved_pages: int = 0
    saved: bool = False  # whether a page's counters were saved yet (the first page's always are)


def run(run_id: int) -> None:
    """Execute a queued run to its end (succeeded, failed, retry planned or cancelled); never raises."""
    token = queue.claim(run_id)
    if token is None:
        return
    sync_run = SyncRun.objects.select_related(
        "feed__connection", "feed__data_model", "feed__field_transformation"
    ).get(pk=run_id)
    with queue.heartbeat(run_id, token):
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
        queue.end(sync_run, token, RunState.CANCELLED, PAUSED_WINDOW if backfill else PAUSED, owed=backfill)
    except health.ConnectionFailed as error:
        queue.fail(sync_run, token, error.message, permanent=True, connection_id=sync_run.feed.connection_id)
    except WarehouseError as error:
        queue.fail(sync_run, token, error.message, permanent=error.permanent)
    except DatabaseError as error:
        # Lock timeouts and identity races between concurrent windows go away on a retry.
        log.warning("run %s: database error %s: %s", sync_run.pk, type(error).__name__, error)
        queue.fail(sync_run, token, BUSY, permanent=False)
    except Exception:
        log.exception("run %s failed", sync_run.pk)
        queue.fail(
            sync_run, token, "wsync stopped on an unexpected error; the details are in the worker log."
        )
    else:
        queue.succeed(sync_run, token, job.timings.rounded())


def _job(sync_run: SyncRun, token: str) -> Job:
    feed = sync_run.feed
    incremental = feed.sync_mode == SyncMode.INCREMENTAL and bool(feed.iterator)
    kind = iterator_kind(feed.iterator_type) if incremental else None
    main = incremental and sync_run.kind != RunKind.BACKFILL
    return Job(sync_run, feed, token, Progress.of(sync_run, kind, moves_checkpoint=main))


def _execute(job: Job) -> None:
    feed, progress = job.feed, job.progress
    queue.start(job.run, full=progress.kind is None)
    if feed.connection is None or feed.data_model is None or feed.field_transformation is None:
        raise WarehouseError(
            "The feed has no connection, data model or mapping; finish its setup.", permanent=True
        )
    if not feed.connection.is_active:
        raise WarehouseError(health.inactive_message(feed.connection), permanent=True)
    plan = windows.plan(feed, job.run, progress.kind, progress.resume_at)
    progress.checkpoint, progress.since = plan.checkpoint, plan.since
    # Here, not on the first page that maps a row: in a full run that may be a page prepared ahead, whose
    # thread must not query the database (feeds/sync/ahead.py).
    job.rules = rules_for_run(job.run)
    provider = open_warehouse(feed.connection.provider, feed.connection.warehouse_config())
    pages: Iterator[tuple[Prepared, bool]] = iter(())
    try:
        read = provider.read(feed.data_model.sql, plan.window, page_size=settings.WSYNC_PAGE_SIZE)
        pages = ahead.prepared(
            timed(read, job.preparing, "read"), lambda p: _prepare(job, p), thread=settings.WSYNC_READ_AHEAD
        )
        while True:
            with job.timings.step("wait"):
                item = next(pages, None)
                if item is not None:
                    job.timings.add(item[0].timings, ahead=item[1])
            if item is None:
                break
            _page(job, item[0])
        if job.unsaved_pages:
            with transaction.atomic():
                _count(job, Counter())
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


@dataclass
class Prepared:
    """A page read and mapped, with the seconds that took (under "read", "map", "fingerprint")."""

    page: Page
    mapped: MappedPage
    skipped: int
    digests: list[Fingerprint]
    bounds: Bounds | None
    timings: dict[str, float]


def _prepare(job: Job, page: Page) -> Prepared:
    """Map one page (all its rows, or only the changed ones in full mode); runs in the read-ahead thread
    from the second page on, so it touches the database only on the first (loading the fingerprints).

    It reads the job's compiled mapping, rules and fingerprints, all loaded by then and never changed by
    a commit of this run, so a page prepared ahead is the page the engine's thread would have prepared.
    """
    with _without_gc_pauses(), job.preparing.step("map"):
        if job.compiled is None:
            mappings = job.feed.field_transformation.mappings  # type: ignore[union-attr]
            job.compiled = compile_mappings(mappings, [c.name for c in page.columns])
        bounds = job.progress.bounds(page, job.feed.iterator, job.feed.timezone)
        mapped, skipped, digests = _changed_only(job, page)
    return Prepared(page, mapped, skipped, digests, bounds, job.preparing.take())


# A full run saves its counters (and looks for a pause) at least every this many pages that write nothing.
UNSAVED_PAGES = 20


def _page(job: Job, prepared: Prepared) -> None:
    """Resolve, write and checkpoint a prepared page in one transaction; stop if the feed was paused.

    A full run's page of unchanged rows has nothing to commit: after the run's first page (so its progress
    shows at once), its counts wait for the next page that writes (at most UNSAVED_PAGES pages), saving a
    transaction and two queries a page of an unchanged re-sync. A full run has no checkpoint, and its retry
    counts from zero, so nothing rides on them.
    """
    if job.saved and _writes_nothing(job, prepared) and job.unsaved_pages < UNSAVED_PAGES:
        job.unsaved.update(_tally(prepared.page, prepared.mapped, None, prepared.skipped, None))
        job.unsaved_pages += 1
        return
    with _without_gc_pauses():
        _commit_page(job, prepared.page, prepared.mapped, prepared.skipped, prepared.digests, prepared.bounds)
    if Feed.objects.filter(pk=job.feed.pk).values_list("state", flat=True).first() != FeedState.ACTIVE:
        raise Paused


def _commit_page(
    job: Job, page: Page, mapped: MappedPage, skipped: int, digests: list[Fingerprint], bounds: Bounds | None
) -> None:
    """The page's one transaction: its store writes, rejects, fingerprints, checkpoint and run counters.

    Whatever a page changes in the database belongs inside this block, so it commits, or rolls back,
    with the checkpoint that says the page was read.
    """
    with job.timings.step("commit"), transaction.atomic(), job.timings.step("write"):
        _commit_mode()
        result = None
        if mapped.batches:
            result = apply_batches(
                feed=job.feed,
                run_id=job.run.pk,
                batches=mapped.batches,
                row_keys=mapped.row_keys,
                iterator_values=mapped.iterator_values or [None] * len(mapped.batches),
            )
            job.timings.count("resolve", result.resolve_seconds)
            outbox.record_page(job.feed, job.run.pk, result)  # connected outputs get the page's diff with it
        _record(job, mapped.rejects, result, digests)
        job.progress.advance(job.feed, job.run, bounds)
        _count(job, _tally(page, mapped, result, skipped, bounds))


def _writes_nothing(job: Job, prepared: Prepared) -> bool:
    """Whether a page of a full run was all unchanged rows: no batch, no rejection, no fingerprint to file."""
    mapped = prepared.mapped
    return job.progress.kind is None and not (mapped.batches or mapped.rejects or prepared.digests)


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
    # The feed's rules, between mapping and resolving (docs/rules.md).
    return job.rules.apply(mapped) if job.rules else mapped


def _changed_only(job: Job, page: Page) -> tuple[MappedPage, int, list[Fingerprint]]:
    """Map the page: all of it (incremental), or only the rows that changed since the feed last wrote them (full).

    Returns the mapped rows, how many were skipped as unchanged, and the fingerprints to record.
    """
    if job.progress.kind is not None:
        return _map(job, page), 0, []
    if job.changes is None:
        feed = job.feed
        # The columns' types belong to it: a provider's digest of a row's wire form ("5") does not change
        # when a column turns from integer into text, but the batch does.
        shape = (job.compiled, page.columns, feed.pk, feed.environment, feed.timezone, feed.iterator)
        job.changes = ChangedRows(feed.pk, shape, lambda rows: _map(job, rows), job.preparing)
    return job.changes.split(page)


def _record(job: Job, rejects: list, result: ApplyResult | None, digests: list[Fingerprint]) -> None:
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


def _tally(
    page: Page, mapped: MappedPage, result: ApplyResult | None, skipped: int, bounds: Bounds | None
) -> Counter[str]:
    """Return what the page adds to the run's counters; rows re-read by a resumed attempt only to rows_reread.

    A re-read row was written by the attempt before, so writing it again leaves its profile unchanged.
    """
    reread = bounds.reread if bounds else 0
    rejected = len(mapped.rejects) + (len(result.rejected) if result else 0)
    unchanged = (result.unchanged if result else 0) + skipped
    return Counter(
        rows_read=len(page) - reread,
        rows_reread=reread,
        rows_mapped=max(0, len(mapped.batches) + skipped - reread),  # skipped rows mapped fine last time
        rows_rejected=rejected,
        profiles_created=result.created if result else 0,
        profiles_updated=result.updated if result else 0,
        profiles_unchanged=max(0, unchanged - reread),
        events_written=result.events_written if result else 0,
        identity_conflicts=len(result.conflicts) if result else 0,
    )


def _count(job: Job, tally: Counter[str]) -> None:
    """Add the tally, and the counts of pages not saved yet, to the run's counters (in the page's transaction)."""
    tally.update(job.unsaved)
    updated = SyncRun.objects.filter(pk=job.run.pk, claim=job.token, state=RunState.RUNNING).update(
        **{name: F(name) + value for name, value in tally.items()},
        **job.progress.run_fields(),
        timings=job.timings.rounded(),
        heartbeat_at=timezone.now(),
    )
    if not updated:
        raise Superseded  # rolls the page back: another worker owns the run now
    job.unsaved, job.unsaved_pages, job.saved = Counter(), 0, True
