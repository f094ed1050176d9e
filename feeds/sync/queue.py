"""Handing runs to the django-q2 cluster, claiming them, and taking over runs of dead workers.

A run is only ever executed by the worker that claimed it (queued → running with a fresh claim
token); the partial unique constraints on SyncRun make a second main run of the same feed fail to
claim, so it stays queued until the first one finishes and dispatches it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from feeds.models import Feed, FeedState
from feeds.sync.models import RunKind, RunState, SyncRun

log = logging.getLogger(__name__)
TASK = "feeds.sync.tasks.run_feed"


def stale_after() -> timedelta:
    """Return how long a running run may go without a page commit before its worker counts as dead."""
    return timedelta(seconds=getattr(settings, "WSYNC_STALE_RUN_SECONDS", 900))


def dispatch(run: SyncRun) -> None:
    """Send the run to the cluster once the current transaction commits (the task takes only the id)."""
    from django_q.tasks import async_task

    SyncRun.objects.filter(pk=run.pk).update(dispatched_at=timezone.now())
    run_id = run.pk
    transaction.on_commit(lambda: async_task(TASK, run_id, task_name=f"wsync-run-{run_id}"))


def claim(run_id: int) -> str | None:
    """Mark a queued run running and return its claim token; None when it is not ours to run now."""
    token = uuid.uuid4().hex
    run = SyncRun.objects.filter(pk=run_id).select_related("feed").first()
    if run is None or run.state != RunState.QUEUED:
        return None
    if run.feed.state != FeedState.ACTIVE:
        _undispatch(run_id)  # paused (or back to draft): held until resume dispatches it again
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = SyncRun.objects.filter(pk=run_id, state=RunState.QUEUED).update(
                state=RunState.RUNNING, claim=token, heartbeat_at=now, started_at=now, attempt=run.attempt + 1
            )
    except IntegrityError:
        _undispatch(run_id)  # another main run of the feed is running; it dispatches this one at its end
        return None
    return token if claimed else None


def _undispatch(run_id: int) -> None:
    SyncRun.objects.filter(pk=run_id, state=RunState.QUEUED).update(dispatched_at=None)


def main_runs(feed_id: int) -> Q:
    return Q(feed_id=feed_id) & ~Q(kind=RunKind.BACKFILL)


def dispatch_waiting(feed_id: int) -> None:
    """Dispatch the feed's undispatched queued runs that may start now (waiting main run, backfills)."""
    if not Feed.objects.filter(pk=feed_id, state=FeedState.ACTIVE).exists():
        return
    running_main = SyncRun.objects.filter(main_runs(feed_id), state=RunState.RUNNING).exists()
    waiting = SyncRun.objects.filter(feed_id=feed_id, state=RunState.QUEUED, dispatched_at__isnull=True)
    for run in waiting.order_by("pk"):
        if run.kind != RunKind.BACKFILL and running_main:
            continue
        dispatch(run)


def recover_stale(feed_id: int) -> int:
    """Put running runs whose worker stopped committing back in the queue; return how many."""
    cutoff = timezone.now() - stale_after()
    stale = SyncRun.objects.filter(feed_id=feed_id, state=RunState.RUNNING, heartbeat_at__lt=cutoff)
    count = 0
    for run in stale:
        # Dropping the claim makes the old worker's next page commit fail, should it still be alive.
        count += SyncRun.objects.filter(pk=run.pk, claim=run.claim, state=RunState.RUNNING).update(
            state=RunState.QUEUED,
            claim="",
            dispatched_at=None,
            error="The worker stopped during this run; it was restarted from the last checkpoint.",
        )
        log.warning("run %s: worker presumed dead, run requeued", run.pk)
    return count


def retry_due(feed_id: int) -> None:
    """Requeue failed runs whose retry time has come (a waiting main run already covers a main one)."""
    now = timezone.now()
    due = SyncRun.objects.filter(
        feed_id=feed_id, state=RunState.FAILED, error_permanent=False, next_retry_at__lte=now
    )
    for run in due:
        try:
            with transaction.atomic():
                SyncRun.objects.filter(pk=run.pk).update(
                    state=RunState.QUEUED, next_retry_at=None, dispatched_at=None
                )
        except IntegrityError:
            SyncRun.objects.filter(pk=run.pk).update(next_retry_at=None)


def drop_pending_retries(feed_id: int) -> None:
    """Forget pending retries of main runs: a newer main run reads from the same checkpoint."""
    SyncRun.objects.filter(main_runs(feed_id), state=RunState.FAILED, next_retry_at__isnull=False).update(
        next_retry_at=None
    )


def redispatch_lost(feed_id: int) -> None:
    """Dispatch queued runs that were never handed over, or handed over long ago and not started."""
    cutoff = timezone.now() - stale_after()
    SyncRun.objects.filter(feed_id=feed_id, state=RunState.QUEUED, dispatched_at__lt=cutoff).update(
        dispatched_at=None
    )
    dispatch_waiting(feed_id)
