"""Template filters the feed pages share."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """Return the value as JSON text, as the rejected-rows CSV writes it (`null`, not Python's `None`)."""
    return json.dumps(value, default=str, ensure_ascii=False)
