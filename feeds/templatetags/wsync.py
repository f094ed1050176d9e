"""Template filters the feed pages share."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone

from feeds.accounts.models import Membership
from feeds.models import Feed
from feeds.pages import access
from feeds.wizard import abandoned

register = template.Library()


@register.filter
def may_delete(membership: Membership | None, feed: Feed) -> bool:
    """`{% if membership|may_delete:feed %}`: the delete view's rule (feeds.pages.access.may_delete)."""
    return membership is not None and access.may_delete(membership, feed)


@register.filter
def draft_removed_on(feed: Feed) -> datetime | None:
    """Return when an untouched draft is removed (feeds.wizard.abandoned), or None for other feeds."""
    return abandoned.removal_time(feed)


@register.filter
def as_json(value: Any, indent: int | None = None) -> str:
    """Return the value as JSON text, as the rejected-rows CSV writes it (`null`, not Python's `None`)."""
    return json.dumps(value, default=str, ensure_ascii=False, indent=indent)


@register.filter
def lookup(mapping: dict[Any, Any] | None, key: Any) -> Any:
    """Return `mapping[key]`, or "" when it is missing (templates cannot index a dict by a variable)."""
    return (mapping or {}).get(key, "")


@register.filter
def unchanged(diffs: Iterable[Any]) -> list[Any]:
    """Return the review's field differences whose state is "unchanged" (shown folded away)."""
    return [d for d in diffs if getattr(d, "state", None) == "unchanged"]


@register.filter
def changed(diffs: Iterable[Any]) -> list[Any]:
    """Return the review's field differences that are new, changed or removed (shown first)."""
    return [d for d in diffs if getattr(d, "state", None) != "unchanged"]


@register.filter
def unchanged_count(profile: Any) -> int:
    """Return how many of a sample profile's identities and attributes the sync would leave as they are."""
    return len(unchanged(profile.identities)) + len(unchanged(profile.attributes))


@register.filter
def ago(moment: datetime | None) -> str:
    """Return "just now" within the first minute, else humanize's "5 minutes ago" (never "0 minutes ago")."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return str(naturaltime(moment))
