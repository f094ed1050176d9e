"""Iterator values in each kind: normalising, encoding for JSON, lookback and backfill windows.

Window bounds are Python values of the iterator's kind (base.iterator_kind): aware datetimes
for timestamps, dates, and ints for epoch and number iterators.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from feeds.warehouses.base import IteratorKind

Bound = datetime | date | int


def normalise(value: Any, kind: IteratorKind, zone: str) -> Bound | None:
    """Return a warehouse iterator value as a comparable bound (naive times read in `zone`)."""
    if value is None:
        return None
    if kind is IteratorKind.TIMESTAMP:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(zone))
        return datetime.fromisoformat(str(value))
    if kind is IteratorKind.DATE:
        return value.date() if isinstance(value, datetime) else value
    return int(value)


def page_bounds(values: Iterable[Any], kind: IteratorKind, zone: str) -> tuple[Bound, Bound] | None:
    """Return (min, max) of a page's iterator values, ignoring NULLs; None for none."""
    seen = [v for v in (normalise(x, kind, zone) for x in values) if v is not None]
    if not seen:
        return None
    return min(seen), max(seen)


def encode(value: Bound | None) -> Any:
    """Return a JSON-ready form of a bound."""
    if isinstance(value, date):
        return value.isoformat()
    return value


def decode(value: Any, kind: IteratorKind) -> Bound | None:
    """Return the bound `encode` made."""
    if value is None:
        return None
    if kind is IteratorKind.TIMESTAMP:
        return datetime.fromisoformat(value)
    if kind is IteratorKind.DATE:
        return date.fromisoformat(value)
    return int(value)


def display(value: Bound | None) -> str:
    """Return a bound as the run pages show it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def from_instant(moment: datetime, kind: IteratorKind, zone: str) -> Bound | None:
    """Return an instant (run start, historical start) in the iterator's kind; None for numbers."""
    if kind is IteratorKind.TIMESTAMP:
        return moment
    if kind is IteratorKind.DATE:
        return moment.astimezone(ZoneInfo(zone)).date()
    if kind is IteratorKind.EPOCH_MS:
        return int(moment.timestamp() * 1000)
    if kind is IteratorKind.EPOCH_S:
        return int(moment.timestamp())
    return None  # plain numbers have no clock


def minus_lookback(value: Bound, kind: IteratorKind, seconds: int) -> Bound:
    """Return the bound moved back by the lookback (days rounded up for dates; none for numbers)."""
    if not seconds:
        return value
    if kind is IteratorKind.TIMESTAMP:
        return value - timedelta(seconds=seconds)  # type: ignore[operator]
    if kind is IteratorKind.DATE:
        return value - timedelta(days=math.ceil(seconds / 86400))  # type: ignore[operator]
    if kind is IteratorKind.EPOCH_MS:
        return int(value) - seconds * 1000  # type: ignore[arg-type]
    if kind is IteratorKind.EPOCH_S:
        return int(value) - seconds  # type: ignore[arg-type]
    return value


def split(start: datetime, end: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """Return consecutive [from, to] instants of `days` each covering start..end (closed ends meet)."""
    windows = []
    lower = start
    while lower < end:
        upper = min(lower + timedelta(days=days), end)
        windows.append((lower, upper))
        lower = upper
    return windows
