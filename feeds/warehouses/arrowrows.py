"""Arrow record batches to our plain-Python rows, for the providers whose drivers speak Arrow.

Values of types wsync reads as STRING arrive as text, as on PostgreSQL: TIME as ISO 8601
(`13:45:30.123456`), UUID in its canonical form, INTERVAL as an ISO 8601 duration
(`P1Y2M3DT4H5M6.5S`; months and days are kept apart, as the warehouses keep them).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from feeds.warehouses.base import Column, FieldType, Page, WirePage

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
    """Cut Arrow batches or tables of any size into pages of exactly page_size rows (the last may be short).

    Each page stays Arrow data, digested row by row over its buffers, and is turned into Python rows only
    when the engine asks: a full sync never converts the rows it already holds.
    """
    digester = _Digester()
    pending: list[Any] = []
    held = 0

    def page_of(parts: list[Any]) -> Page:
        table = pa.Table.from_batches([b for p in parts for b in _batches_of(p)])
        return WirePage(
            columns, table, lambda t: rows_of(t, columns), digester.digests(table), pick=_take_rows
        )

    try:
        for batch in batches:
            offset = 0
            while offset < batch.num_rows:
                part = batch.slice(offset, page_size - held)
                offset += part.num_rows
                pending.append(part)
                held += part.num_rows
                if held == page_size:
                    yield page_of(pending)
                    pending, held = [], 0
        if held:
            yield page_of(pending)
    finally:
        digester.close()


def _batches_of(part: Any) -> list[Any]:
    return part.to_batches() if isinstance(part, pa.Table) else [part]


def _take_rows(table: Any, positions: Sequence[int]) -> Any:
    return table.take(pa.array(positions, type=pa.int64()))


class _Digester:
    """A 64-bit digest of each row of an Arrow table, hashed by an in-memory DuckDB over the Arrow buffers.

    ~2 µs a row and no Python value made, against converting every row first. DuckDB's hash of the row
    (as a struct) is positional and typed; the engine salts it with the page's columns. A table DuckDB
    cannot scan gets no digests (None): the engine then digests its rows itself.
    """

    def __init__(self) -> None:
        self.connection: Any = None

    def digests(self, table: pa.Table) -> list[int] | None:
        import duckdb
        import numpy as np  # here, not at the top: a web process does not load numpy

        try:
            if self.connection is None:
                self.connection = duckdb.connect(
                    config={"threads": 1, "enable_external_access": False, "preserve_insertion_order": True}
                )
            self.connection.register("page", table)
            try:
                ((_, found),) = self.connection.sql("SELECT hash(page) FROM page").fetchnumpy().items()
            finally:
                self.connection.unregister("page")
        except duckdb.Error:
            return None
        return np.asarray(found, dtype=np.uint64).view(np.int64).tolist()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
