"""Arrow record batches to our plain-Python rows, for the providers whose drivers speak Arrow.

Values of types wsync reads as STRING arrive as text, as on PostgreSQL: TIME as ISO 8601
(`13:45:30.123456`), UUID in its canonical form, INTERVAL as an ISO 8601 duration
(`P1Y2M3DT4H5M6.5S`; months and days are kept apart, as the warehouses keep them).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from feeds.warehouses.base import Column, FieldType, Page

RowsOf = Callable[[Any, tuple[Column, ...]], list[tuple[Any, ...]]]


def arrow_field_type(data_type: pa.DataType) -> FieldType:
    """Return wsync's type for an Arrow type."""
    checks = (
        (pa.types.is_boolean, FieldType.BOOLEAN),
        (pa.types.is_integer, FieldType.INTEGER),
        (pa.types.is_floating, FieldType.FLOAT),
        (pa.types.is_decimal, FieldType.DECIMAL),
        (pa.types.is_date, FieldType.DATE),
        (pa.types.is_list, FieldType.ARRAY),
        (pa.types.is_large_list, FieldType.ARRAY),
        (pa.types.is_struct, FieldType.JSON),
        (pa.types.is_map, FieldType.JSON),
        (pa.types.is_binary, FieldType.BINARY),
    )
    if pa.types.is_timestamp(data_type):
        return FieldType.TIMESTAMP_TZ if data_type.tz else FieldType.TIMESTAMP
    for check, field_type in checks:
        if check(data_type):
            return field_type
    return FieldType.STRING


def iso_duration(months: int = 0, days: int = 0, seconds: Decimal = Decimal(0)) -> str:
    """Return an interval as an ISO 8601 duration, e.g. P1Y2M3DT4H5M6.5S; negative parts keep a sign."""
    years, rest_months = divmod(abs(months), 12)
    month_sign = -1 if months < 0 else 1
    clock_sign = -1 if seconds < 0 else 1
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    dated = ((month_sign * years, "Y"), (month_sign * rest_months, "M"), (days, "D"))
    clock = ((clock_sign * hours, "H"), (clock_sign * minutes, "M"), (clock_sign * secs, "S"))
    date_part = "".join(f"{n}{unit}" for n, unit in dated if n)
    time_part = "".join(f"{Decimal(n).normalize():f}{unit}" for n, unit in clock if n)
    if not date_part and not time_part:
        return "PT0S"
    return f"P{date_part}" + (f"T{time_part}" if time_part else "")


def plain_text(value: Any) -> Any:
    """Return a value of a STRING-mapped type (TIME, UUID, INTERVAL, ...) as text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, pa.MonthDayNano):
        return iso_duration(value.months, value.days, Decimal(value.nanoseconds) / 1_000_000_000)
    if isinstance(value, timedelta):
        micros = (value.days * 86_400 + value.seconds) * 10**6 + value.microseconds
        return iso_duration(seconds=Decimal(micros) / 10**6)
    return str(value)


_TEXT_TYPES = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)


def batch_rows(batch: pa.RecordBatch, columns: tuple[Column, ...]) -> list[tuple[Any, ...]]:
    """Return the batch as row tuples; JSON text columns are decoded, column by column (fast)."""
    values = []
    for index, column in enumerate(columns):
        array = batch.column(index)
        items = array.to_pylist()
        if column.type is FieldType.JSON and column.warehouse_type.upper() == "JSON":
            items = [json.loads(v) if isinstance(v, str) else v for v in items]
        elif column.type is FieldType.STRING and not any(t(array.type) for t in _TEXT_TYPES):
            items = [plain_text(v) for v in items]
        values.append(items)
    return list(zip(*values, strict=True)) if values else []


def exact_pages(
    batches: Iterable[Any], columns: tuple[Column, ...], page_size: int, rows_of: RowsOf = batch_rows
) -> Iterator[Page]:
    """Cut Arrow batches or tables of any size into pages of exactly page_size rows (the last may
    be short), converting only one page's slice to Python at a time."""
    pending: list[tuple[Any, ...]] = []
    for batch in batches:
        offset = 0
        while offset < batch.num_rows:
            part = batch.slice(offset, page_size - len(pending))
            offset += part.num_rows
            pending.extend(rows_of(part, columns))
            if len(pending) == page_size:
                yield Page(columns, pending)
                pending = []
    if pending:
        yield Page(columns, pending)
