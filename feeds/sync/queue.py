"""Handing runs to the django-q2 cluster, claiming them, finishing them, retries, and taking over runs of
dead workers.

A run is only ever executed by the worker that claimed it (queued → running with a fresh claim
token and a new attempt); the partial unique constraints on SyncRun make a second main run of the
same feed fail to claim, so it stays queued until the first one finishes and dispatches it.
A queued run with next_retry_at waits for that time (retry_due), unless a person asks for a run.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from feeds.models import Feed, FeedState, SyncMode
from feeds.sync import health, workers
from feeds.sync.models import AttemptOutcome, Checkpoint, RejectedRow, RunAttempt, RunKind, RunState, SyncRun

log = logging.getLogger(__name__)
TASK = "feeds.sync.tasks.run_feed"
WORKER_STOPPED = "The worker stopped; resuming from the last checkpoint."
MAX_ATTEMPTS = 3
RETRY_BASE_SECONDS = 30


def stale_after() -> timedelta:
    """Return how long a running run may go without a heartbeat before its worker counts as dead."""
    return timedelta(seconds=settings.WSYNC_STALE_RUN_SECONDS)


def heartbeat_every() -> float:
    """Return the heartbeat's period: several beats fit in the stale delay, at most one every 10 s."""
    return max(0.5, min(10.0, settings.WSYNC_STALE_RUN_SECONDS / 6))


def dispatch(run: SyncRun) -> None:
    """Send the run to the cluster once the current transaction commits (the task takes only the id)."""
    from django_q.tasks import async_task

    SyncRun.objects.filter(pk=run.pk).update(dispatched_at=timezone.now())
    run_id = run.pk
    transaction.on_commit(lambda: async_task(TASK, run_id, task_name=f"wsync-run-{run_id}"))


def claim(run_id: int) -> str | None:
    """Mark a queued run running, open its next attempt and return its claim token; None when not ours."""
    token = uuid.uuid4().hex
    run = SyncRun.objects.filter(pk=run_id).select_related("feed").first()
    if run is None or run.state != RunState.QUEUED or _retry_pending(run):
        return None
    if run.feed.state != FeedState.ACTIVE:
        _undispatch(run_id)  # paused (or back to draft): held until resume dispatches it again
        return None
    now, worker, number = timezone.now(), workers.this_worker(), run.attempt + 1
    try:
        with transaction.atomic():
            claimed = SyncRun.objects.filter(pk=run_id, state=RunState.QUEUED, attempt=run.attempt).update(
                state=RunState.RUNNING,
                claim=token,
                worker=worker,
                heartbeat_at=now,
                started_at=now,
                attempt=number,
            )
            if claimed:
                RunAttempt.objects.create(run_id=run_id, number=number, worker=worker, started_at=now)
    except IntegrityError:
        _undispatch(run_id)  # another main run of the feed is running; it dispatches this one at its end
        return None
    return token if claimed else None


@contextmanager
def heartbeat(run_id: int, token: str) -> Iterator[None]:
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

    with workers.Heartbeat(beat, heartbeat_every()):
        yield


def start(sync_run: SyncRun, *, full: bool) -> None:
    """Record the run's mode and, for a full run, its expected row count: the last full run's (an estimate).

    A full run's retry reads everything again, so its counters start from zero. Incremental runs leave the
    expected count unknown: only a count query on the warehouse could tell.
    """
    total = None
    fields = {}
    if full:
        last = SyncRun.objects.filter(
            feed_id=sync_run.feed_id, sync_mode=SyncMode.FULL, state=RunState.SUCCEEDED
        )
        total = last.exclude(pk=sync_run.pk).order_by("-pk").values_list("rows_read", flat=True).first()
        if sync_run.attempt > 1:
            RejectedRow.objects.filter(run=sync_run).delete()
            fields = {"rows_read": 0, "rows_mapped": 0, "rows_rejected": 0}
    SyncRun.objects.filter(pk=sync_run.pk).update(
        sync_mode=SyncMode.FULL if full else SyncMode.INCREMENTAL,
        total_rows=total,
        total_rows_estimated=total is not None,
        **fields,
    )


def _retry_pending(run: SyncRun) -> bool:
    return run.next_retry_at is not None and run.next_retry_at > timezone.now()


def _undispatch(run_id: int) -> None:
    SyncRun.objects.filter(pk=run_id, state=RunState.QUEUED).update(dispatched_at=None)


def close_attempt(run_id: int, outcome: str, error: str = "") -> None:
    """Record how the run's open attempt ended."""
    RunAttempt.objects.filter(run_id=run_id, outcome=AttemptOutcome.RUNNING).update(
        outcome=outcome, error=error, finished_at=timezone.now()
    )


def main_runs(feed_id: int) -> Q:
    return Q(feed_id=feed_id) & ~Q(kind=RunKind.BACKFILL)


def dispatch_waiting(feed_id: int) -> None:
    """Dispatch the feed's undispatched queued runs that may start now (waiting main run, backfills)."""
    if not Feed.objects.filter(pk=feed_id, state=FeedState.ACTIVE).exists():
        return
    running_main = SyncRun.objects.filter(main_runs(feed_id), state=RunState.RUNNING).exists()
    waiting = SyncRun.objects.filter(
        feed_id=feed_id, state=RunState.QUEUED, dispatched_at__isnull=True, next_retry_at__isnull=True
    )
    for run in waiting.order_by("pk"):
        if run.kind != RunKind.BACKFILL and running_main:
            continue
        dispatch(run)


def recover_stale(feed_id: int | None = None) -> int:
    """Put running runs whose worker is gone back in the queue; return how many.

    Gone: no heartbeat for WSYNC_STALE_RUN_SECONDS, or (on the worker's own host) its process has ended.
    `feed_id` None looks at every feed (a worker starting up).
    """
    cutoff = timezone.now() - stale_after()
    running = SyncRun.objects.filter(state=RunState.RUNNING)
    if feed_id is not None:
        running = running.filter(feed_id=feed_id)
    count = 0
    for run in running:
        if run.heartbeat_at is not None and run.heartbeat_at >= cutoff and not workers.is_gone(run.worker):
            continue
        with transaction.atomic():
            # Dropping the claim makes the old worker's next page commit fail, should it still be alive.
            taken = SyncRun.objects.filter(pk=run.pk, claim=run.claim, state=RunState.RUNNING).update(
                state=RunState.QUEUED, claim="", worker="", dispatched_at=None
            )
            if taken:
                close_attempt(run.pk, AttemptOutcome.STOPPED, WORKER_STOPPED)
        count += taken
        if taken:
            log.warning("run %s: its worker stopped; the run was requeued", run.pk)
    return count


def take_over_local() -> None:
    """On a worker's start: requeue and dispatch the runs whose owner process on this host has ended."""
    feeds = set(SyncRun.objects.filter(state=RunState.RUNNING).values_list("feed_id", flat=True).distinct())
    for feed_id in feeds:
        if recover_stale(feed_id):
            dispatch_waiting(feed_id)


def restart(run: SyncRun) -> bool:
    """An admin's restart of a running run whose worker seems stuck: requeue it now; True when done."""
    with transaction.atomic():
        taken = SyncRun.objects.filter(pk=run.pk, claim=run.claim, state=RunState.RUNNING).update(
            state=RunState.QUEUED, claim="", worker="", dispatched_at=None
        )
        if taken:
            close_attempt(
                run.pk,
                AttemptOutcome.STOPPED,
                "An admin restarted the run; resuming from the last checkpoint.",
            )
            dispatch_waiting(run.feed_id)
    return bool(taken)


def retry_due(feed_id: int) -> None:
    """Dispatch queued runs whose retry time has come."""
    due = SyncRun.objects.filter(feed_id=feed_id, state=RunState.QUEUED, next_retry_at__lte=timezone.now())
    due.update(next_retry_at=None, dispatched_at=None)


def retry_now(run: SyncRun) -> None:
    """Bring a planned retry forward (a person asked for a run)."""
    SyncRun.objects.filter(pk=run.pk, state=RunState.QUEUED).update(next_retry_at=None, dispatched_at=None)


def requeue_owed(feed_id: int, user: object = None) -> list[SyncRun]:
    """Queue each historical window that ended Failed or Cancelled again, as a new run; return them."""
    owed = list(SyncRun.objects.filter(feed_id=feed_id, kind=RunKind.BACKFILL, owed=True).order_by("pk"))
    again = [
        SyncRun(
            feed_id=feed_id,
            kind=RunKind.BACKFILL,
            created_by=user if getattr(user, "pk", None) else None,  # type: ignore[misc]
            window=run.window,
            window_from=run.window_from,
            window_to=run.window_to,
        )
        for run in owed
    ]
    with transaction.atomic():
        SyncRun.objects.filter(pk__in=[r.pk for r in owed]).update(owed=False)
        SyncRun.objects.bulk_create(again)
    return again


def redispatch_lost(feed_id: int) -> None:
    """Dispatch queued runs that were never handed over, or handed over long ago and not started."""
    cutoff = timezone.now() - max(stale_after(), timedelta(minutes=5))
    SyncRun.objects.filter(feed_id=feed_id, state=RunState.QUEUED, dispatched_at__lt=cutoff).update(
        dispatched_at=None
    )
    dispatch_waiting(feed_id)


def end(sync_run: SyncRun, token: str, state: str, error: str = "", **fields: Any) -> bool:
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
            close_attempt(sync_run.pk, outcome, error)
    return bool(ended)


def succeed(sync_run: SyncRun, token: str, timings: dict[str, float]) -> None:
    """Finish the run; a run that carried the Sync Start Date filter has finished the first load."""
    with transaction.atomic():
        # The timings again: the ones saved with the last page lack that page's write and commit.
        end(sync_run, token, RunState.SUCCEEDED, timings=timings, error_permanent=False)
        window = SyncRun.objects.filter(pk=sync_run.pk).values_list("window", flat=True).first() or {}
        if sync_run.kind != RunKind.BACKFILL and "since" in window:
            Checkpoint.objects.filter(feed_id=sync_run.feed_id).update(initial_load=False)
    if not SyncRun.objects.filter(feed_id=sync_run.feed_id, owed=True).exists():
        health.heal(sync_run.feed)  # a window that failed for good keeps the feed faulted until it is read


def fail(
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
        end(sync_run, token, RunState.QUEUED, message, next_retry_at=retry_at, error_permanent=False)
        return
    owed = sync_run.kind == RunKind.BACKFILL
    end(sync_run, token, RunState.FAILED, message, error_permanent=permanent, owed=owed, next_retry_at=None)
    if permanent:
        health.fault(sync_run.feed_id, connection_id, message)
