"""Schedule math (anchored on the initial sync time in UTC) and the feeds the minute tick visits.

django-q2's own schedule types drift (each next run is computed from the last one, and a monthly
run on the 31st would slide to the 28th for good), so wsync keeps its own anchored clock
(FeedSchedule.next_run_at: start + k × frequency). wsync's one django-q2 Schedule (`feeds.tick`) runs the
sync step `tasks.tick` every minute for all feeds; it ticks the active feeds that have something to do (a
run due, queued or running), so a thousand idle feeds cost one query a minute, not a thousand schedules.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from feeds.models import Feed, FeedState, Frequency, ScheduleType

STEPS = {
    Frequency.HOURLY: timedelta(hours=1),
    Frequency.DAILY: timedelta(days=1),
    Frequency.WEEKLY: timedelta(weeks=1),
}


def add_months(start: datetime, months: int) -> datetime:
    """Return start + months, the day clamped to the month's end (Jan 31 + 1 → Feb 28/29)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def occurrence(start: datetime, frequency: str, k: int) -> datetime:
    """Return the k-th anchored run time: start + k × frequency, always computed from the anchor."""
    if frequency == Frequency.MONTHLY:
        return add_months(start, k)
    return start + k * STEPS[Frequency(frequency)]


def first_index_at_or_after(start: datetime, frequency: str, moment: datetime) -> int:
    """Return the smallest k with occurrence(start, frequency, k) >= moment (0 when moment <= start)."""
    if moment <= start:
        return 0
    if frequency == Frequency.MONTHLY:
        k = max((moment.year - start.year) * 12 + moment.month - start.month - 1, 0)
    else:
        k = int((moment - start) / STEPS[Frequency(frequency)])
    while occurrence(start, frequency, k) < moment:
        k += 1
    return k


def next_run_times(
    schedule_type: str,
    frequency: str | None,
    start: datetime | None,
    count: int = 5,
    now: datetime | None = None,
) -> list[datetime]:
    """Return the next `count` run times (UTC) at or after now; [] for On Demand, one for Once."""
    now = (now or timezone.now()).astimezone(UTC)
    if schedule_type == ScheduleType.ON_DEMAND:
        return []
    if schedule_type == ScheduleType.ONCE:
        return [max(start.astimezone(UTC), now) if start else now]
    if not frequency or start is None:
        return []
    start = start.astimezone(UTC)
    k = first_index_at_or_after(start, frequency, now)
    return [occurrence(start, frequency, k + i) for i in range(count)]


def next_due(feed: Feed, after: datetime, *, inclusive: bool = False) -> datetime | None:
    """Return the feed's first interval run time after `after` (or at it), or None when none is left."""
    if feed.schedule_type != ScheduleType.INTERVAL or not feed.frequency or feed.schedule_start is None:
        return None
    start = feed.schedule_start.astimezone(UTC)
    k = first_index_at_or_after(start, feed.frequency, after)
    moment = occurrence(start, feed.frequency, k)
    if moment == after and not inclusive:
        moment = occurrence(start, feed.frequency, k + 1)
    if feed.schedule_end and moment > feed.schedule_end:
        return None
    return moment


def feeds_to_tick() -> list[int]:
    """Return the active feeds with something for the tick to do: a scheduled run due, or runs queued or running.

    The others have nothing to recover, retry, start or dispatch (`service.tick`), so they are not visited.
    """
    from feeds.sync.models import ACTIVE_STATES, FeedSchedule, SyncRun

    due = FeedSchedule.objects.filter(feed=OuterRef("pk"), next_run_at__lte=timezone.now())
    busy = SyncRun.objects.filter(feed=OuterRef("pk"), state__in=ACTIVE_STATES)
    active = Feed.objects.filter(state=FeedState.ACTIVE).filter(Q(Exists(due)) | Q(Exists(busy)))
    return list(active.order_by("pk").values_list("pk", flat=True))
