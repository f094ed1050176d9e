"""What the wizard, the feed pages and the API do to syncs, and the minute tick.

The one home of activate, pause, resume, run now, restart and delete, and of their audit entries: every
caller gets the same rules and the same log. Every function here is safe to call from a web request: the
work itself happens in the cluster. Refusals raise RunRefused with a message the user can act on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from feeds import audit
from feeds.mapping.rules import validate_mappings
from feeds.models import DeletedFeed, Feed, FeedState, ScheduleType, SyncMode
from feeds.sync import queue, scheduling, windows
from feeds.sync.models import ACTIVE_STATES, Checkpoint, FeedSchedule, RunKind, RunState, SyncRun
from feeds.sync.scheduling import next_run_times
from feeds.tick import ensure_tick
from feeds.warehouses.base import IteratorKind, iterator_kind

__all__ = [
    "RunRefused",
    "activate",
    "apply_settings",
    "delete_feed",
    "next_run_times",
    "owed_windows",
    "pause",
    "request_run",
    "restart_run",
    "resume",
    "run_now",
    "tick",
]

BUSY = "A sync of this feed is already running. Wait for it to finish, then run it again."
PAUSED_BEFORE_START = "The feed was paused before this run started."
PAUSED_BEFORE_RETRY = "The feed was paused before this run's next attempt."


class RunRefused(Exception):
    """The action is not allowed now; the message says why and what to do."""


def activate(
    feed: Feed,
    user: Any,
    request: HttpRequest | None = None,
    *,
    changes: dict[str, tuple[Any, Any]] | None = None,
) -> None:
    """Validate the feed, make it active, schedule it and queue its historical backfill; raises RunRefused.

    Recorded as "activate" (with `changes`, the settings edited on the way) when the feed was a draft.
    """
    was_draft = feed.state == FeedState.DRAFT
    with transaction.atomic():
        _start(feed, user)
        if was_draft:
            audit.record(
                feed.workspace, user, "activate", feed.name, feed=feed, changes=changes, request=request
            )


def apply_settings(feed: Feed, user: Any) -> None:
    """Bring the schedule in step with settings just saved (the "edit" entry is the saver's); raises RunRefused."""
    if feed.state == FeedState.ACTIVE:
        _start(feed, user)  # re-validates and re-creates the schedule from the saved settings
    elif feed.state == FeedState.PAUSED:
        reschedule(feed)


def _start(feed: Feed, user: Any) -> None:
    problems = completeness_problems(feed)
    if problems:
        raise RunRefused(problems[0])
    first_time = feed.activated_on is None
    feed.state = FeedState.ACTIVE
    feed.activated_on = feed.activated_on or timezone.now()
    feed.last_modified_by = user
    with transaction.atomic():
        feed.save(update_fields=["state", "activated_on", "last_modified_by", "last_modified_on"])
        reschedule(feed, initial=True)
        # An on-demand feed runs only when asked, as mParticle's: its first run reads the history from the
        # Sync Start Date (there is no checkpoint yet), in one run rather than in backfill windows.
        if first_time and feed.schedule_type != ScheduleType.ON_DEMAND:
            _queue_backfill(feed, user)
        _due_run(feed)  # an initial sync whose time has passed runs at once, not at the next slot
        queue.dispatch_waiting(feed.pk)


def completeness_problems(feed: Feed) -> list[str]:
    """Return what is missing before the feed can run, in words (empty when it can)."""
    problems = []
    if feed.connection is None or feed.data_model is None:
        problems.append("Choose a connection and a data model before activating.")
    if feed.field_transformation is None or not feed.field_transformation.mappings:
        problems.append("Map the data model's columns before activating.")
    elif feed.data_model is not None and feed.data_model.columns:
        problems.extend(_mapping_problems(feed))
    if feed.sync_mode == SyncMode.INCREMENTAL and not (feed.iterator and feed.iterator_type):
        problems.append("Incremental syncs need an iterator column and its data type.")
    if feed.schedule_type == ScheduleType.INTERVAL and not (feed.frequency and feed.schedule_start):
        problems.append("Interval schedules need a frequency and an initial sync date and time.")
    return problems


def _mapping_problems(feed: Feed) -> list[str]:
    errors = validate_mappings(
        feed.field_transformation.mappings,  # type: ignore[union-attr]
        feed.data_model.column_names(),  # type: ignore[union-attr]
        feed.pipeline_type,
    )
    return [e.message for e in errors]


def reschedule(feed: Feed, *, initial: bool = False) -> None:
    """Recompute the feed's next run time (after any settings change); an active feed needs the minute tick.

    `initial` (activation) arms a Once feed, and an Interval feed whose initial sync has not come
    due yet runs it at its time, or at once when that time has passed (later runs stay anchored).
    """
    now = timezone.now()
    if feed.schedule_type == ScheduleType.ONCE:
        due = (feed.schedule_start or now) if initial else None
    elif initial and _initial_sync_pending(feed, now):
        due = feed.schedule_start
    else:
        due = scheduling.next_due(feed, now, inclusive=True)
    FeedSchedule.objects.update_or_create(feed=feed, defaults={"next_run_at": due})
    if feed.state == FeedState.ACTIVE:
        ensure_tick()


def _initial_sync_pending(feed: Feed, now: datetime) -> bool:
    """Return True for an Interval feed whose initial date and time has passed but never came due."""
    start, end = feed.schedule_start, feed.schedule_end
    if feed.schedule_type != ScheduleType.INTERVAL or start is None or start > now:
        return False
    if end is not None and end < now:
        return False  # the whole schedule is over
    return not FeedSchedule.objects.filter(feed=feed, last_due_at__isnull=False).exists()


def pause(feed: Feed, user: Any, request: HttpRequest | None = None) -> None:
    """Stop scheduling the feed; a running run stops after its current page; raises RunRefused."""
    if feed.state != FeedState.ACTIVE:
        raise RunRefused("Only an active sync can be paused.")
    feed.state = FeedState.PAUSED
    feed.last_modified_by = user
    with transaction.atomic():
        feed.save(update_fields=["state", "last_modified_by", "last_modified_on"])
        waiting = SyncRun.objects.filter(queue.main_runs(feed.pk), state=RunState.QUEUED)
        cancelled = {"state": RunState.CANCELLED, "finished_at": timezone.now(), "next_retry_at": None}
        waiting.filter(attempt=0).update(error=PAUSED_BEFORE_START, **cancelled)
        waiting.filter(attempt__gt=0).update(error=PAUSED_BEFORE_RETRY, **cancelled)
        audit.record(feed.workspace, user, "pause", feed.name, feed=feed, request=request)


def resume(feed: Feed, user: Any, request: HttpRequest | None = None) -> SyncRun:
    """Make a paused feed active again and queue ONE catch-up run (missed intervals are not replayed)."""
    if feed.state != FeedState.PAUSED:
        raise RunRefused("Only a paused sync can be resumed.")
    feed.state = FeedState.ACTIVE
    feed.last_modified_by = user
    with transaction.atomic():
        feed.save(update_fields=["state", "last_modified_by", "last_modified_on"])
        reschedule(feed)
        run = _enqueue(feed, user, RunKind.CATCH_UP, wait_if_busy=True)
        queue.dispatch_waiting(feed.pk)
        audit.record(feed.workspace, user, "resume", feed.name, feed=feed, request=request)
    return run


def delete_feed(feed: Feed, user: Any, request: HttpRequest | None = None) -> None:
    """Delete the feed, its schedule, runs and checkpoint, and the automatic mapping only it used.

    The profiles it synced stay; a DeletedFeed row keeps the name their lineage shows.
    """
    workspace, name, mapping = feed.workspace, feed.name, feed.field_transformation
    with transaction.atomic():
        if feed.state != FeedState.DRAFT:  # a draft never ran, so no profile names it
            # Profiles keep the feed's id as lineage: the tombstone keeps its name for them.
            DeletedFeed.objects.update_or_create(
                pk=feed.pk,
                defaults={
                    "workspace": workspace,
                    "name": name,
                    "deleted_at": timezone.now(),
                    "deleted_by": user if getattr(user, "is_authenticated", False) else None,
                },
            )
        feed.delete()
        # The API names a pipeline's automatic mapping "<pipeline id>-mapping": left behind, a new pipeline of
        # that id would take it over although it was made for another data model's columns.
        if (
            mapping is not None
            and mapping.slug == automatic_mapping_id(feed.slug)
            and not mapping.feeds.exists()
        ):
            mapping.delete()
        audit.record(workspace, user, "delete", name, request=request)


def automatic_mapping_id(feed_slug: str) -> str:
    """Return the id of the mapping made for a feed created without one (by the API)."""
    return f"{feed_slug}-mapping"[:100]


def run_now(feed: Feed, user: Any, request: HttpRequest | None = None) -> SyncRun:
    """Queue a manual run for a person (Run Sync, the API's trigger) and record it; raises RunRefused."""
    with transaction.atomic():
        run = request_run(feed, user, kind=RunKind.MANUAL)
        audit.record(feed.workspace, user, "run", feed.name, feed=feed, request=request)
    return run


def request_run(feed: Feed, user: Any, kind: str = RunKind.MANUAL) -> SyncRun:
    """Queue a run now and return it; raises RunRefused when the feed is busy, paused or a draft."""
    if feed.state == FeedState.DRAFT:
        raise RunRefused("Activate the feed before running it.")
    if feed.state == FeedState.PAUSED:
        raise RunRefused("This sync is paused. Resume it to run it.")
    with transaction.atomic():
        run = _enqueue(feed, user, kind, wait_if_busy=False)
        queue.dispatch_waiting(feed.pk)
    return run


def owed_windows(feed: Feed) -> list[SyncRun]:
    """Return the historical windows not written yet: failed or cancelled ones, and those queued or running."""
    backfill = SyncRun.objects.filter(feed=feed, kind=RunKind.BACKFILL)
    return list(backfill.filter(Q(owed=True) | Q(state__in=ACTIVE_STATES)).order_by("window_from", "pk"))


def restart_run(run: SyncRun, user: Any, request: HttpRequest | None = None) -> bool:
    """Requeue a running run whose worker seems stuck; True when it was running and is now requeued."""
    with transaction.atomic():
        restarted = queue.restart(run)
        if restarted:
            feed = run.feed
            audit.record(feed.workspace, user, "restart", f"run #{run.number}", feed=feed, request=request)
    return restarted


def _enqueue(
    feed: Feed, user: Any, kind: str, *, wait_if_busy: bool, logical: datetime | None = None
) -> SyncRun:
    """Create a queued main run; when busy, wait behind the running one (or refuse). Coalesces waiting runs.

    A run waiting for its retry covers the request and starts now. Historical windows still owed are
    queued again with it.
    """
    active = SyncRun.objects.filter(queue.main_runs(feed.pk), state__in=ACTIVE_STATES)
    waiting = active.filter(state=RunState.QUEUED).first()
    retrying = waiting is not None and waiting.next_retry_at is not None
    if not wait_if_busy and active.exists() and not (retrying and not active.filter(state=RunState.RUNNING)):
        raise RunRefused(BUSY)
    queue.requeue_owed(feed.pk, user)
    if waiting is not None:
        if retrying:
            queue.retry_now(waiting)
        return waiting  # the waiting run reads from the checkpoint: it covers this request too
    try:
        with transaction.atomic():
            return SyncRun.objects.create(
                feed=feed,
                kind=kind,
                created_by=user if getattr(user, "pk", None) else None,
                logical_date=logical,
            )
    except IntegrityError:
        raise RunRefused(BUSY) from None


def _queue_backfill(feed: Feed, user: Any) -> None:
    """Split history from the feed's historical start to now into windows run as separate tasks.

    The windows are of the timestamp field (of the iterator when that is the timestamp field).
    """
    days = getattr(settings, "WSYNC_BACKFILL_WINDOW_DAYS", 30)
    if feed.sync_mode != SyncMode.INCREMENTAL or feed.from_time is None or not days:
        return
    kind = iterator_kind(feed.iterator_type)
    if kind is IteratorKind.NUMBER:
        return  # no clock to split at: the first main run reads the history instead
    now = timezone.now()
    by_field = _has_timestamp_field(feed)
    runs = []
    lower: windows.Bound | None
    upper: windows.Bound | None
    # History past the iterator's end (`until`) is never read: no windows after it (plan caps the last one).
    end = min(now, feed.until_time) if feed.until_time is not None and not by_field else now
    for lower_at, upper_at in windows.split(feed.from_time, end, days):
        if by_field:
            lower, upper, window = lower_at, upper_at, _since_window(lower_at, upper_at)
        else:
            lower = windows.from_instant(lower_at, kind, feed.timezone)
            upper = windows.from_instant(upper_at, kind, feed.timezone)
            window = {"lower": windows.encode(lower), "upper": windows.encode(upper)}
        runs.append(
            SyncRun(
                feed=feed,
                kind=RunKind.BACKFILL,
                created_by=user if getattr(user, "pk", None) else None,
                window=window,
                window_from=windows.display(lower),
                window_to=windows.display(upper),
            )
        )
    SyncRun.objects.bulk_create(runs)
    # The main runs start where the backfill ends (closed start: the boundary value is read twice).
    split = windows.from_instant(now, kind, feed.timezone)
    Checkpoint.objects.update_or_create(
        feed=feed,
        defaults={
            "iterator": feed.iterator,
            "iterator_type": feed.iterator_type,
            "value": windows.encode(split),
        },
    )


def _has_timestamp_field(feed: Feed) -> bool:
    # The engine checks the field's type when the window runs, and says so in the run's error.
    name = feed.data_model.timestamp_field if feed.data_model is not None else ""
    return bool(name) and name != feed.iterator


def _since_window(lower_at: datetime, upper_at: datetime) -> dict[str, Any]:
    return {
        "lower": None,
        "upper": None,
        "since": windows.encode(lower_at),
        "until": windows.encode(upper_at),
    }


def tick(feed_id: int) -> SyncRun | None:
    """Do what is due for one feed: recover dead runs, retries, and the scheduled run; return a new run."""
    queue.recover_stale(feed_id)
    queue.retry_due(feed_id)
    feed = Feed.objects.filter(pk=feed_id, state=FeedState.ACTIVE).first()
    created = None
    if feed is not None:
        created = _due_run(feed)
    queue.redispatch_lost(feed_id)
    return created


def _due_run(feed: Feed) -> SyncRun | None:
    now = timezone.now()
    schedule = FeedSchedule.objects.filter(feed=feed, next_run_at__lte=now).first()
    if schedule is None:
        return None
    due = schedule.next_run_at
    kind = RunKind.ONCE if feed.schedule_type == ScheduleType.ONCE else RunKind.SCHEDULED
    with transaction.atomic():
        # Missed slots are not replayed: the next slot is the first one after now.
        next_at = None if kind == RunKind.ONCE else scheduling.next_due(feed, now)
        FeedSchedule.objects.filter(pk=schedule.pk).update(next_run_at=next_at, last_due_at=due)
        return _enqueue(feed, None, kind, wait_if_busy=True, logical=due)
