"""Template filters the feed pages share."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone

register = template.Library()


@register.filter
def as_json(value: Any, indent: int | None = None) -> str:
    """Return the value as JSON text, as the rejected-rows CSV writes it (`null`, not Python's `None`)."""
    return json.dumps(value, default=str, ensure_ascii=False, indent=indent)


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
