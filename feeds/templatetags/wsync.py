"""Template filters the feed pages share."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django import template

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """Return the value as JSON text, as the rejected-rows CSV writes it (`null`, not Python's `None`)."""
    return json.dumps(value, default=str, ensure_ascii=False)


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
