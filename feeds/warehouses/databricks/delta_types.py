"""Delta schema types to wsync's, and Delta Sharing's parquet record batches to plain-Python rows."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from feeds.warehouses.base import Column, FieldType, WarehouseError
from feeds.warehouses.databricks.tableref import TableRef

if TYPE_CHECKING:
    import pyarrow as pa

# --- Delta types -------------------------------------------------------------------------------

_PRIMITIVES: dict[str, tuple[FieldType, str, str]] = {
    "string": (FieldType.STRING, "STRING", "string"),
    "long": (FieldType.INTEGER, "BIGINT", "int64"),
    "integer": (FieldType.INTEGER, "INT", "int32"),
    "short": (FieldType.INTEGER, "SMALLINT", "int16"),
    "byte": (FieldType.INTEGER, "TINYINT", "int8"),
    "float": (FieldType.FLOAT, "FLOAT", "float32"),
    "double": (FieldType.FLOAT, "DOUBLE", "float64"),
    "boolean": (FieldType.BOOLEAN, "BOOLEAN", "bool_"),
    "binary": (FieldType.BINARY, "BINARY", "binary"),
    "date": (FieldType.DATE, "DATE", "date32"),
}


class UnsupportedType(Exception):
    pass


def delta_type(spec: Any) -> tuple[FieldType, str, pa.DataType]:
    """Return (our type, Databricks' type name, the Arrow type to read into) for a Delta schema type."""
    import pyarrow as pa

    if isinstance(spec, dict):
        return _complex_type(spec)
    if spec in _PRIMITIVES:
        field_type, name, arrow = _PRIMITIVES[spec]
        return field_type, name, getattr(pa, arrow)()
    if spec == "timestamp":  # Delta timestamps are instants stored in UTC
        return FieldType.TIMESTAMP_TZ, "TIMESTAMP", pa.timestamp("us", tz="UTC")
    if match := re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", str(spec)):
        precision, scale = int(match[1]), int(match[2])
        return FieldType.DECIMAL, f"DECIMAL({precision},{scale})", pa.decimal128(precision, scale)
    raise UnsupportedType(str(spec))


def _complex_type(spec: dict[str, Any]) -> tuple[FieldType, str, pa.DataType]:
    import pyarrow as pa

    if spec["type"] == "array":
        _, name, arrow = delta_type(spec["elementType"])
        return FieldType.ARRAY, f"ARRAY<{name}>", pa.list_(arrow)
    if spec["type"] == "map":
        _, key_name, key = delta_type(spec["keyType"])
        _, value_name, value = delta_type(spec["valueType"])
        return FieldType.JSON, f"MAP<{key_name}, {value_name}>", pa.map_(key, value)
    if spec["type"] == "struct":
        parts = [(f["name"], delta_type(f["type"])) for f in spec["fields"]]
        name = ", ".join(f"{n}: {t[1]}" for n, t in parts)
        return FieldType.JSON, f"STRUCT<{name}>", pa.struct([(n, t[2]) for n, t in parts])
    raise UnsupportedType(spec["type"])


@dataclass(frozen=True)
class DeltaField:
    column: Column
    arrow: pa.DataType
    partition: bool

    @property
    def name(self) -> str:
        return self.column.name


def table_fields(metadata: Any, ref: TableRef) -> list[DeltaField]:
    """Return the selected columns of a table's Delta schema, in the data model's order."""
    schema = json.loads(metadata.schema_string)
    by_name = {f["name"].lower(): f for f in schema["fields"]}
    wanted = ref.columns or tuple(f["name"] for f in schema["fields"])
    partitions = {p.lower() for p in metadata.partition_columns or ()}
    fields = []
    for name in wanted:
        spec = by_name.get(name.lower())
        if spec is None:
            known = ", ".join(f["name"] for f in schema["fields"])
            raise WarehouseError(
                f"The table {ref.table} has no column “{name}”. Its columns are: {known}.",
                permanent=True,
                field="sql",
            )
        fields.append(_field(spec, partitions))
    return fields


def _field(spec: dict[str, Any], partitions: set[str]) -> DeltaField:
    try:
        field_type, type_name, arrow = delta_type(spec["type"])
    except UnsupportedType as error:
        raise _type_error(spec["name"], str(error)) from None
    column = Column(spec["name"], field_type, type_name, bool(spec.get("nullable", True)))
    return DeltaField(column, arrow, spec["name"].lower() in partitions)


def _type_error(column: str, type_name: str) -> WarehouseError:
    if type_name == "timestamp_ntz":
        return WarehouseError(
            f"The column “{column}” is a TIMESTAMP_NTZ (timestamp without time zone), which Delta Sharing "
            "cannot serve. In Databricks, share a view that casts it, e.g. "
            f"CAST({column} AS TIMESTAMP) AS {column}, or leave the column out of the data model.",
            permanent=True,
            field="sql",
        )
    return WarehouseError(
        f"The column “{column}” has the type {type_name}, which wsync cannot read through Delta Sharing. "
        "Leave it out of the column list, or share a view that casts it to STRING.",
        permanent=True,
        field="sql",
    )


# --- Arrow batches to rows ---------------------------------------------------------------------


def _partition_array(value: str | None, arrow: pa.DataType, length: int) -> pa.Array:
    import pyarrow as pa

    if value is None or value == "":
        return pa.nulls(length, arrow)
    typed = pa.array([value], pa.string())
    if pa.types.is_timestamp(arrow):  # partition values are written as wall-clock UTC text
        typed = typed.cast(pa.timestamp("us"))
    return pa.repeat(typed.cast(arrow)[0], length)


def conform(
    batch: pa.RecordBatch, fields: Sequence[DeltaField], partition_values: Mapping[str, str]
) -> pa.RecordBatch:
    """Return the batch with exactly the selected columns, in order, typed as the Delta schema says."""
    import pyarrow as pa

    names = batch.schema.names
    lowered = {str(v).lower(): v for v in partition_values}
    arrays = []
    for field in fields:
        if field.partition:
            value = partition_values.get(lowered.get(field.name.lower(), field.name))
            arrays.append(_partition_array(value, field.arrow, batch.num_rows))
        elif field.name in names:
            arrays.append(_cast(batch.column(field.name), field))
        else:  # a column added after this file was written
            arrays.append(pa.nulls(batch.num_rows, field.arrow))
    return pa.RecordBatch.from_arrays(arrays, names=[f.name for f in fields])


def _cast(array: pa.Array, field: DeltaField) -> pa.Array:
    import pyarrow as pa

    if array.type.equals(field.arrow):
        return array
    try:
        # INT96/nanosecond timestamps from Spark writers become UTC microseconds (Delta's precision).
        return array.cast(field.arrow, safe=not pa.types.is_timestamp(field.arrow))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if pa.types.is_nested(field.arrow):
            return array  # same shape, different child names: to_pylist reads it just as well
        raise


def batch_rows(batch: pa.RecordBatch, fields: Sequence[DeltaField]) -> list[tuple[Any, ...]]:
    """Plain-Python rows; MAP columns become dicts."""
    import pyarrow as pa

    values = []
    for index, field in enumerate(fields):
        items = batch.column(index).to_pylist()
        if pa.types.is_map(field.arrow):
            items = [dict(v) if v is not None else None for v in items]
        values.append(items)
    return list(zip(*values, strict=True)) if values else []
