"""Abandoned drafts: a wizard left before Activate keeps its draft feed until it is removed.

The first Next of the wizard saves a draft (its connection, data model and mapping are edited in place).
A draft holds no feed name (Feed.holding_name), so an abandoned one keeps nobody from a name; its starter
or an admin may delete it from the feed pages, and one untouched for `WSYNC_DRAFT_DAYS` days (default 30;
0 keeps drafts for ever) is removed by the ops minute task, recorded in the audit log as done by wsync.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from feeds.models import Feed, FeedState


def max_age() -> timedelta | None:
    """Return how long an untouched draft is kept, or None when drafts are kept for ever."""
    days = int(getattr(settings, "WSYNC_DRAFT_DAYS", 30))
    return timedelta(days=days) if days > 0 else None


def removal_time(feed: Feed) -> datetime | None:
    """Return when the draft is removed unless someone edits it first; None for other feeds."""
    age = max_age()
    if feed.state != FeedState.DRAFT or age is None or feed.last_modified_on is None:
        return None
    return feed.last_modified_on + age


def remove_abandoned(now: datetime | None = None) -> int:
    """Delete the drafts untouched for longer than max_age(); return how many were deleted."""
    from feeds.sync import service  # the one delete (its audit entry and what goes with the feed)

    age = max_age()
    if age is None:
        return 0
    stale = Feed.objects.filter(state=FeedState.DRAFT, last_modified_on__lt=(now or timezone.now()) - age)
    removed = 0
    for pk in stale.values_list("pk", flat=True):
        with transaction.atomic():
            # Locked and checked again: a person may have edited or activated it since the list was read.
            feed = stale.select_for_update().filter(pk=pk).first()
            if feed is not None:
                service.delete_feed(feed, None)
                removed += 1
    return removed
