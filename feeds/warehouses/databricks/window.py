"""Which rows of a shared table a read window keeps: file statistics to skip files, Arrow filters for rows.

The sharing server does not filter, so wsync applies the window itself after reading.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from feeds.warehouses.base import FieldType, IteratorKind, ReadWindow

if TYPE_CHECKING:
    import pyarrow as pa

# --- the window --------------------------------------------------------------------------------

KIND_TYPES = {
    IteratorKind.TIMESTAMP: {FieldType.TIMESTAMP_TZ},
    IteratorKind.DATE: {FieldType.DATE},
    IteratorKind.EPOCH_MS: {FieldType.INTEGER},
    IteratorKind.EPOCH_S: {FieldType.INTEGER},
    IteratorKind.NUMBER: {FieldType.INTEGER},
}


def _bound(value: Any, kind: IteratorKind, timezone: str) -> Any:
    if kind is IteratorKind.TIMESTAMP and isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(
            tzinfo=ZoneInfo(timezone)
        )  # a naive bound is wall-clock time in the window's zone
    if kind is IteratorKind.DATE and isinstance(value, datetime):
        return value.date()
    return value


def window_filter(batch: pa.RecordBatch, index: int, window: ReadWindow) -> pa.RecordBatch:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = batch.column(index)
    mask = None
    for bound, compare in ((window.lower, pc.greater_equal), (window.upper, pc.less_equal)):
        if bound is not None:
            test = compare(column, pa.scalar(_bound(bound, window.kind, window.timezone), type=column.type))
            mask = test if mask is None else pc.and_(mask, test)
    return since_filter(batch if mask is None else batch.filter(mask), window)


def since_filter(batch: pa.RecordBatch, window: ReadWindow) -> pa.RecordBatch:
    """Keep the rows inside the window's timestamp-field filter (the Sync Start Date, a backfill window)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if window.since is None:
        return batch
    column = batch.column(window.since.column)
    mask = None
    for value, compare in zip(window.since_values(), (pc.greater_equal, pc.less_equal), strict=False):
        test = compare(column, pa.scalar(value, type=column.type))
        mask = test if mask is None else pc.and_(mask, test)
    return batch.filter(mask)


def _stat(value: Any, kind: IteratorKind, *, widen: bool) -> Any:
    if kind is IteratorKind.TIMESTAMP:
        moment = datetime.fromisoformat(str(value))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        # Delta truncates timestamp statistics to milliseconds: a maximum may hide up to 999 µs.
        return moment + timedelta(milliseconds=1) if widen else moment
    if kind is IteratorKind.DATE:
        return date.fromisoformat(str(value))
    return int(value)


def file_may_match(stats_text: str | None, column: str, window: ReadWindow) -> bool:
    """False only when the file's statistics prove no row is inside the window (so it is not read)."""
    try:
        stats = json.loads(stats_text or "{}")
        low, high = stats.get("minValues", {}).get(column), stats.get("maxValues", {}).get(column)
        lower = _bound(window.lower, window.kind, window.timezone)
        upper = _bound(window.upper, window.kind, window.timezone)
        below = lower is not None and high is not None and _stat(high, window.kind, widen=True) < lower
        above = upper is not None and low is not None and _stat(low, window.kind, widen=False) > upper
        return not (below or above)
    except (ValueError, TypeError, AttributeError):
        return True  # unreadable statistics: read the file
