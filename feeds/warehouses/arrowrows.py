"""Arrow record batches to our plain-Python rows, for the providers whose drivers speak Arrow."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from feeds.warehouses.base import Column, FieldType


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


def batch_rows(batch: pa.RecordBatch, columns: tuple[Column, ...]) -> list[tuple[Any, ...]]:
    """Return the batch as row tuples; JSON text columns are decoded, column by column (fast)."""
    values = []
    for index, column in enumerate(columns):
        items = batch.column(index).to_pylist()
        if column.type is FieldType.JSON and column.warehouse_type.upper() == "JSON":
            items = [json.loads(v) if isinstance(v, str) else v for v in items]
        values.append(items)
    return list(zip(*values, strict=True)) if values else []
