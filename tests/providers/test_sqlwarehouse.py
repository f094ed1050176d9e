"""SqlWarehouse.preview, derived once for every provider: the `limit + 1` probe, the cap, and its stopwatch,
read on a clock the test moves (a real clock could report anything from 0 up)."""

from __future__ import annotations

from typing import Any, ClassVar

from feeds.warehouses.base import Column, FieldType
from feeds.warehouses.sqlwarehouse import SqlWarehouse


class ManualClock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SlowList(SqlWarehouse):
    """A provider whose warehouse is a list of rows that takes `answer_seconds` to answer each query."""

    kind, dialect = "list", "duckdb"
    fields: ClassVar[tuple] = ()
    iterator_types: ClassVar[tuple[str, ...]] = ()

    def __init__(self, rows: int, answer_seconds: float, clock: ManualClock) -> None:
        super().__init__({})
        self.rows, self.answer_seconds, self.clock, self.asked = rows, answer_seconds, clock, 0

    def _fetch(self, sql: str, rows: int, seconds: float) -> tuple[tuple[Column, ...], list[tuple[Any, ...]]]:
        self.asked = rows
        self.clock.now += self.answer_seconds
        return (Column("n", FieldType.INTEGER),), [(n,) for n in range(min(rows, self.rows))]


def test_the_preview_reports_the_time_the_warehouse_took_and_caps_the_rows():
    clock = ManualClock()
    warehouse = SlowList(50, 1.25, clock)
    clock.now += 7  # time before the preview starts is not the warehouse's
    preview = warehouse.preview("SELECT n FROM list", 10)
    assert preview.elapsed_ms == 1250
    assert warehouse.asked == 11 and [r[0] for r in preview.rows] == list(range(10))
    assert preview.truncated is True


def test_a_model_with_exactly_the_cap_is_not_truncated_and_a_fast_answer_takes_zero_ms():
    warehouse = SlowList(10, 0.0004, ManualClock())
    preview = warehouse.preview("SELECT n FROM list", 10)
    assert (len(preview.rows), preview.truncated, preview.elapsed_ms) == (10, False, 0)
