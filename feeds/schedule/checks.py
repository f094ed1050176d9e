"""The iterator sample check: how a chosen iterator column behaves on the first rows of the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from feeds.models import Connection
from feeds.warehouses.base import WarehouseError
from feeds.warehouses.registry import open_warehouse

SAMPLE_ROWS = 1000


@dataclass(frozen=True)
class IteratorCheck:
    rows: int = 0
    nulls: int = 0
    ties: int = 0  # rows that share their iterator value with another row
    future: int = 0
    zoned: bool | None = None  # None: not a timestamp column
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    def share(self, count: int) -> float:
        return round(100 * count / self.rows, 1) if self.rows else 0.0


def sample_iterator(
    connection: Connection, sql: str, column: str, now: datetime | None = None
) -> IteratorCheck:
    """Return the check of `column` on the model's first rows; a warehouse failure becomes `error`."""
    try:
        warehouse = open_warehouse(connection.provider, connection.warehouse_config())
        try:
            preview = warehouse.preview(sql, SAMPLE_ROWS)
        finally:
            warehouse.close()
    except WarehouseError as error:
        return IteratorCheck(error=error.message)
    names = [c.name for c in preview.columns]
    if column not in names:
        return IteratorCheck(error=f"The column “{column}” is not in the data model's query.")
    index = names.index(column)
    return summarize([row[index] for row in preview.rows], now or datetime.now(UTC))


def summarize(values: list[Any], now: datetime) -> IteratorCheck:
    """Return counts and warnings for a sample of iterator values."""
    present = [v for v in values if v is not None]
    nulls = len(values) - len(present)
    counts: dict[Any, int] = {}
    for v in present:
        counts[v] = counts.get(v, 0) + 1
    ties = sum(c for c in counts.values() if c > 1)
    stamps = [v for v in present if isinstance(v, datetime)]
    zoned = None if not stamps else all(v.tzinfo is not None for v in stamps)
    future = sum(1 for v in present if _after(v, now))
    check = IteratorCheck(len(values), nulls, ties, future, zoned)
    return IteratorCheck(check.rows, nulls, ties, future, zoned, _warnings(check))


def _after(value: Any, now: datetime) -> bool:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)) > now
    if isinstance(value, date):
        return value > now.date()
    return False


def _warnings(check: IteratorCheck) -> list[str]:
    warnings = []
    if check.nulls:
        warnings.append(
            f"{check.share(check.nulls)}% of the sampled rows have no value in this column; "
            "incremental runs never read them."
        )
    if check.rows and check.ties > check.rows / 2:
        warnings.append(
            "Most sampled rows share their value with another row; that is safe (the boundary is re-read), "
            "but a column that changes with every update keeps runs small."
        )
    if check.future:
        warnings.append(
            f"{check.future} sampled row{'s' if check.future != 1 else ''} lie in the future; "
            "the watermark jumps ahead and rows changed before that time are skipped until then."
        )
    if check.zoned is False:
        warnings.append(
            "This column has no time zone; wsync reads it as UTC wall-clock time. Check that the warehouse "
            "writes it in UTC."
        )
    return warnings
