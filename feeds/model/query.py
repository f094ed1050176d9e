"""Run Query for the data-model step: the first rows, their columns and types, and how long it took."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from feeds.mapping.rules import auto_mappings
from feeds.models import Connection
from feeds.warehouses.base import Column, FieldType, WarehouseError
from feeds.warehouses.registry import open_warehouse

TIMESTAMP_TYPES = {FieldType.TIMESTAMP_TZ, FieldType.TIMESTAMP, FieldType.DATE}


@dataclass(frozen=True)
class QueryOutcome:
    ok: bool
    columns: list[dict[str, str]] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    elapsed_ms: int = 0
    truncated: bool = False
    error: str = ""

    @property
    def display_rows(self) -> list[list[str | None]]:
        """Return the rows as text for the preview table (timestamps in ISO form with their zone)."""
        return [[cell_text(v) for v in row] for row in self.rows]


def cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def column_dicts(columns: tuple[Column, ...] | list[Column]) -> list[dict[str, str]]:
    """Return columns in the shape DataModel.columns stores."""
    return [{"name": c.name, "type": str(c.type), "warehouse_type": c.warehouse_type} for c in columns]


def run_query(connection: Connection, sql: str, limit: int) -> QueryOutcome:
    """Return the first `limit` rows of the model; a warehouse failure comes back as its message."""
    try:
        warehouse = open_warehouse(connection.provider, connection.warehouse_config())
    except WarehouseError as error:
        return QueryOutcome(False, error=error.message)
    try:
        preview = warehouse.preview(sql, limit)
    except WarehouseError as error:
        return QueryOutcome(False, error=error.message)
    finally:
        warehouse.close()
    return QueryOutcome(
        True, column_dicts(preview.columns), preview.rows, preview.elapsed_ms, preview.truncated
    )


def timestamp_candidates(columns: list[dict[str, str]]) -> list[str]:
    """Return the columns that can serve as the timestamp field (instants, wall-clock times, dates)."""
    return [c["name"] for c in columns if c.get("type") in TIMESTAMP_TYPES]


def auto_mapped(columns: list[dict[str, str]]) -> dict[str, str]:
    """Return {column: destination} for the columns the mapping step maps automatically (reserved names)."""
    names = [c["name"] for c in columns]
    return {
        m["source"]: m["destination"]
        for m in auto_mappings(names, "user_attributes")
        if m.get("mapping_type") == "column" and m.get("source") in names
    }
