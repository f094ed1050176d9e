"""Alert rules: when a feed has an incident (a failed run, Faulted, late), tell the people its admins chose.

One incident per feed at a time: it opens once (one alert, however many retries or runs fail meanwhile) and
resolves once, when the feed is well again (a resolved message). `evaluate` runs every minute on a worker
(feeds.ops.tasks.minute) and reads only the database, so it needs no hook in the engine (docs/operations.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from feeds.accounts.models import Workspace
from feeds.models import Feed, FeedState, Frequency, Health, ScheduleType
from feeds.ops import deliver
from feeds.ops.models import AlertSettings, Incident, IncidentKind
from feeds.sync.models import RunState, SyncRun
from feeds.sync.scheduling import STEPS

log = logging.getLogger(__name__)
DEFAULT_LATE_AFTER_INTERVALS = 3
MONTH = timedelta(days=31)


@dataclass(frozen=True)
class Problem:
    kind: str
    summary: str
    run_id: int | None = None


def evaluate(now: datetime | None = None) -> list[Incident]:
    """Open an incident for each feed newly unwell and resolve those now well; return the ones changed."""
    now = now or timezone.now()
    late_after = dict(AlertSettings.objects.values_list("workspace_id", "late_after_intervals"))
    open_now = {i.feed_id: i for i in Incident.objects.filter(resolved_at__isnull=True)}
    changed = []
    for feed in _feeds():
        problem = problem_of(feed, now, late_after.get(feed.workspace_id, DEFAULT_LATE_AFTER_INTERVALS))
        incident = open_now.get(feed.pk)
        if problem is not None and incident is None:
            incident = _open(feed, problem, now)
        elif problem is None and incident is not None:
            incident = _resolve(incident, now)
        else:
            continue
        if incident is not None:
            changed.append(incident)
    return changed


def problem_of(feed: Feed, now: datetime, late_after_intervals: int) -> Problem | None:
    """Return what is wrong with the feed (annotated by `_feeds`), most serious first; None when it is well."""
    if feed.status == Health.FAULTED:
        message = (feed.errors or [{}])[0].get("message", "")
        return Problem(IncidentKind.FAULTED, message or "The feed is faulted.", feed.last_run_id)  # type: ignore[attr-defined]
    if feed.last_state == RunState.FAILED:  # type: ignore[attr-defined]
        return Problem(IncidentKind.FAILED, feed.last_error or "The run failed.", feed.last_run_id)  # type: ignore[attr-defined]
    interval = interval_of(feed)
    if feed.state != FeedState.ACTIVE or interval is None:
        return None
    started = [t for t in (feed.activated_on, feed.schedule_start) if t is not None] or [feed.created_on]
    since = feed.last_success or max(started)  # type: ignore[attr-defined]
    if now - since > late_after_intervals * interval:
        return Problem(
            IncidentKind.LATE,
            f"No successful run since {since:%Y-%m-%d %H:%M} UTC, more than {late_after_intervals} × its "
            f"{feed.get_frequency_display().lower()} interval.",
        )
    return None


def interval_of(feed: Feed) -> timedelta | None:
    """Return the time between the feed's scheduled runs; None unless it runs on an interval."""
    if feed.schedule_type != ScheduleType.INTERVAL or not feed.frequency:
        return None
    return MONTH if feed.frequency == Frequency.MONTHLY else STEPS[Frequency(feed.frequency)]


def history(workspace: Workspace, limit: int = 50) -> list[Incident]:
    """Return the workspace's latest incidents with their deliveries, newest first."""
    incidents = (
        Incident.objects.filter(workspace=workspace).select_related("feed").prefetch_related("deliveries")
    )
    return list(incidents[:limit])


def _feeds() -> list[Feed]:
    """Return the non-draft feeds with their last finished run and last success, in one query."""
    finished = SyncRun.objects.filter(feed=OuterRef("pk"), state__in=(RunState.FAILED, RunState.SUCCEEDED))
    latest = finished.order_by("-finished_at", "-pk")
    successes = (
        SyncRun.objects.filter(feed=OuterRef("pk"), state=RunState.SUCCEEDED).order_by().values("feed")
    )
    return list(
        Feed.objects.exclude(state=FeedState.DRAFT)
        .select_related("workspace")
        .annotate(
            last_run_id=Subquery(latest.values("pk")[:1]),
            last_state=Subquery(latest.values("state")[:1]),
            last_error=Subquery(latest.values("error")[:1]),
            last_success=Subquery(successes.annotate(at=Max("finished_at")).values("at")[:1]),
        )
    )


def _open(feed: Feed, problem: Problem, now: datetime) -> Incident | None:
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                workspace=feed.workspace,
                feed=feed,
                kind=problem.kind,
                summary=problem.summary,
                run_id=problem.run_id,
                opened_at=now,
            )
    except IntegrityError:  # another evaluation opened it a moment ago and tells people itself
        return None
    log.warning("feed %s: incident opened (%s)", feed.pk, problem.kind)
    deliver.tell(incident, "opened")
    return incident


def _resolve(incident: Incident, now: datetime) -> Incident | None:
    resolved = Incident.objects.filter(pk=incident.pk, resolved_at__isnull=True).update(resolved_at=now)
    if not resolved:
        return None  # another evaluation resolved it
    incident.resolved_at = now
    log.info("feed %s: incident resolved", incident.feed_id)
    deliver.tell(incident, "resolved")
    return incident
