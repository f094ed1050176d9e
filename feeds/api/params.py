"""Whole numbers from query parameters and path segments, checked before they reach Python's int() or SQL.

`str.isdigit()` accepts "²" and other Unicode digits that int() refuses, and a number past 2**63 overflows
the database's integer columns: both used to end in a 500. Only ASCII digits within bounds pass here.
"""

from __future__ import annotations

import re

from feeds.api.errors import Invalid

ASCII_DIGITS = re.compile(r"[0-9]{1,18}")  # 18 digits stay below 2**63 - 1, the largest database id
MAX_ID = 2**63 - 1


def id_from_path(segment: str) -> int | None:
    """Return the database id a path segment names, or None when it cannot name one (a 404 for the caller)."""
    if not ASCII_DIGITS.fullmatch(segment):
        return None
    return int(segment)


def whole_number(raw: str | None, name: str, *, default: int, minimum: int = 1, maximum: int = 10**9) -> int:
    """Return the query parameter `name` as a whole number in [minimum, maximum]; raises Invalid naming it."""
    if raw is None:
        return default
    value = int(raw) if ASCII_DIGITS.fullmatch(raw.strip()) else None
    if value is None or not minimum <= value <= maximum:
        raise Invalid(
            f"“{name}” must be a whole number from {minimum:,} to {maximum:,} (digits 0-9 only).", field=name
        )
    return value
