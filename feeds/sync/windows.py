"""Iterator values in each kind: normalising, encoding for JSON, lookback and backfill windows;
and the data model's timestamp field, which the Sync Start Date and backfill windows filter.

Window bounds are Python values of the iterator's kind (base.iterator_kind): aware datetimes
for timestamps, dates, and ints for epoch and number iterators.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from feeds.warehouses.base import TIME_TYPES, IteratorKind, Since, WarehouseError

if TYPE_CHECKING:
    from feeds.models import Feed

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


def timestamp_field(feed: Feed, iterator: str) -> tuple[str, str] | None:
    """Return (column, type) of the model's timestamp field unless it is unset or is `iterator`.

    When it is the iterator, the iterator bounds carry the Sync Start Date (as they always did).
    Raises WarehouseError when the field is no longer a date or time column of the model.
    """
    model = feed.data_model
    name = model.timestamp_field if model is not None else ""
    if model is None or not name or name == iterator:
        return None
    column_type = next((c.get("type") for c in model.columns if c.get("name") == name), None)
    if column_type not in TIME_TYPES:
        raise WarehouseError(
            f"The timestamp field “{name}” is no longer a date or time column of the data model. "
            "Pick the timestamp field again on the data model step.",
            permanent=True,
            field="timestamp_field",
        )
    return name, str(column_type)


def since(feed: Feed, iterator: str, start: datetime | None, end: datetime | None = None) -> Since | None:
    """Return the filter `start <= timestamp field (<= end)` when that field is not `iterator`, else None."""
    column = timestamp_field(feed, iterator) if start is not None else None
    if column is None or start is None:
        return None
    return Since(column[0], column[1], start, end)
