"""The DuckDB provider against real DuckDB files."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import pytest

from feeds.warehouses.base import FieldType, ReadWindow, WarehouseError
from feeds.warehouses.duckdb import DuckDBWarehouse
from tests.providers.memory import MemoryProbe


@pytest.fixture
def warehouse_file(tmp_path, settings):
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path)]
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            """CREATE TABLE types AS SELECT
                TIMESTAMPTZ '2026-03-01 10:00:00.123456+02' AS zoned,
                TIMESTAMP '2026-03-01 10:00:00.654321' AS naive,
                DATE '2026-03-01' AS day,
                12345.6789::DECIMAL(18, 4) AS amount,
                NULL::VARCHAR AS nothing,
                'Zoë 🚀 東京' AS name,
                [1, 2, 3] AS numbers,
                {'plan': 'pro', 'seats': 3} AS detail,
                '{"a": [1, 2]}'::JSON AS doc"""
        )
        # 3 pages' worth of rows on one iterator value, and rows either side of it.
        con.execute(
            """CREATE TABLE users AS SELECT i AS id, 'u' || i AS email,
                CASE WHEN i < 100 THEN TIMESTAMPTZ '2026-01-01 00:00:00+00'
                     WHEN i < 400 THEN TIMESTAMPTZ '2026-02-01 00:00:00+00'
                     ELSE TIMESTAMPTZ '2026-03-01 00:00:00+00' END AS updated_at
               FROM range(500) t(i)"""
        )
        con.execute("CREATE TABLE big AS SELECT i AS id, repeat('x', 200) AS pad FROM range(200000) t(i)")
    return path


def test_it_checks_an_existing_file(warehouse_file):
    assert DuckDBWarehouse({"path": str(warehouse_file)}).check().ok


def test_it_explains_a_missing_file_on_the_path_field(tmp_path, settings):
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path)]  # outside the roots it would not even say whether it exists
    result = DuckDBWarehouse({"path": str(tmp_path / "missing.duckdb")}).check()
    assert not result.ok and result.permanent and result.field == "path"
    assert "does not exist" in result.message


def test_it_refuses_files_outside_the_allowed_folders(warehouse_file, settings):
    settings.WSYNC_DUCKDB_ROOTS = ["/srv/elsewhere"]
    errors = DuckDBWarehouse.validate_config({"path": str(warehouse_file)})
    assert "/srv/elsewhere" in errors["path"]


def test_it_validates_the_path_field():
    (field,) = DuckDBWarehouse.fields
    with pytest.raises(ValueError, match="full path"):
        field.validate("relative/file.duckdb")


def test_it_describes_names_and_types(warehouse_file):
    columns = {
        c.name: c.type for c in DuckDBWarehouse({"path": str(warehouse_file)}).describe("SELECT * FROM types")
    }
    assert columns == {
        "zoned": FieldType.TIMESTAMP_TZ,
        "naive": FieldType.TIMESTAMP,
        "day": FieldType.DATE,
        "amount": FieldType.DECIMAL,
        "nothing": FieldType.STRING,
        "name": FieldType.STRING,
        "numbers": FieldType.ARRAY,
        "detail": FieldType.JSON,
        "doc": FieldType.JSON,
    }


def test_it_keeps_types_intact(warehouse_file):
    (row,) = DuckDBWarehouse({"path": str(warehouse_file)}).preview("SELECT * FROM types", 10).rows
    zoned, naive, day, amount, nothing, name, numbers, detail, doc = row
    assert zoned == datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert naive == datetime(2026, 3, 1, 10, 0, 0, 654321) and naive.tzinfo is None
    assert day == date(2026, 3, 1)
    assert amount == Decimal("12345.6789")
    assert nothing is None and name == "Zoë 🚀 東京"
    assert numbers == [1, 2, 3] and detail == {"plan": "pro", "seats": 3} and doc == {"a": [1, 2]}


def test_it_previews_while_a_read_of_the_same_file_is_open(warehouse_file):
    # The review step samples the model while a sync may be reading the file: both share DuckDB's one
    # locked instance, and the second still reads zoned timestamps in UTC.
    pages = DuckDBWarehouse({"path": str(warehouse_file)}).read("SELECT * FROM users", None, page_size=100)
    first = next(iter(pages))
    (row,) = DuckDBWarehouse({"path": str(warehouse_file)}).preview("SELECT zoned FROM types", 1).rows
    assert (
        row[0] == datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
        and row[0].utcoffset().total_seconds() == 0
    )
    assert len(first) == 100


def test_it_caps_previews(warehouse_file):
    preview = DuckDBWarehouse({"path": str(warehouse_file)}).preview("SELECT * FROM users", 10)
    assert len(preview.rows) == 10 and preview.truncated


def test_it_refuses_anything_but_one_select(warehouse_file):
    with pytest.raises(WarehouseError, match="DELETE") as raised:
        DuckDBWarehouse({"path": str(warehouse_file)}).preview("DELETE FROM users", 10)
    assert raised.value.field == "sql"


def test_it_loses_no_row_sharing_the_boundary_value(warehouse_file):
    warehouse = DuckDBWarehouse({"path": str(warehouse_file)})
    boundary = datetime(2026, 2, 1, tzinfo=UTC)
    first = ReadWindow("updated_at", "timestamptz", upper=boundary)
    second = ReadWindow("updated_at", "timestamptz", lower=boundary)
    ids_first = [r[0] for p in warehouse.read("SELECT * FROM users", first, 100) for r in p.rows]
    ids_second = [r[0] for p in warehouse.read("SELECT * FROM users", second, 100) for r in p.rows]
    assert set(ids_first) | set(ids_second) == set(range(500))
    assert set(ids_first) & set(ids_second) == set(range(100, 400))  # re-read at the boundary, never lost


def test_it_streams_large_reads_in_pages_with_bounded_memory(warehouse_file):
    warehouse = DuckDBWarehouse({"path": str(warehouse_file)})
    probe, seen = MemoryProbe(), 0
    for page in probe.watch(warehouse.read("SELECT * FROM big", None, 5000)):
        seen += sum(len(row[1]) for row in page.rows)
    assert probe.sizes == [5000] * 40 and seen == 200_000 * 200
    # The whole result is over 40 MB of Python strings (about 70 MB with the tuples); a page is
    # under 2 MB. Arrow record batches live outside tracemalloc, so RSS is bounded too.
    assert probe.python_peak < 20_000_000, probe
    assert probe.rss_growth < 40_000_000, probe


def test_it_compares_a_naive_iterator_as_wall_clock_time_in_the_users_zone(warehouse_file):
    with duckdb.connect(str(warehouse_file)) as con:
        con.execute("CREATE TABLE visits (id INT, seen_at TIMESTAMP)")
        con.execute(
            "INSERT INTO visits VALUES (1, '2026-03-01 10:30'), (2, '2026-03-01 11:00'), (3, '2026-03-01 12:00')"
        )
    lower = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # 11:00 in Berlin
    window = ReadWindow("seen_at", "timestamp", lower, None, timezone="Europe/Berlin")
    pages = list(DuckDBWarehouse({"path": str(warehouse_file)}).read("SELECT * FROM visits", window, 10))
    assert [r[0] for p in pages for r in p.rows] == [2, 3]
    assert pages[0].rows[0][1] == datetime(2026, 3, 1, 11, 0) and pages[0].rows[0][1].tzinfo is None
    utc = ReadWindow("seen_at", "timestamp", lower, None)  # UTC unless the user sets a zone
    rows = [
        r
        for p in DuckDBWarehouse({"path": str(warehouse_file)}).read("SELECT * FROM visits", utc, 10)
        for r in p.rows
    ]
    assert [r[0] for r in rows] == [1, 2, 3]


def test_it_stops_a_slow_preview(warehouse_file, settings):
    settings.WSYNC_PREVIEW_TIMEOUT = 1
    slow = "SELECT count(*) AS n FROM range(100000000) AS a(i), range(100000) AS b(j) WHERE a.i + b.j = -1"
    started = time.monotonic()
    with pytest.raises(WarehouseError) as raised:
        DuckDBWarehouse({"path": str(warehouse_file)}).preview(slow, 10)
    assert raised.value.message == "The query took too long and was stopped. Add filters or a LIMIT."
    assert raised.value.permanent is False
    assert time.monotonic() - started < 10  # stopped at about 1 s, not run to the end


def test_it_reads_time_uuid_and_interval_as_text(warehouse_file):
    sql = (
        "SELECT TIME '13:45:30.123456' AS at, UUID 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS u, "
        "INTERVAL '1 year 2 months 3 days 04:05:06.5' AS span, NULL::TIME AS nothing"
    )
    warehouse = DuckDBWarehouse({"path": str(warehouse_file)})
    columns = warehouse.describe(sql)
    assert [c.type for c in columns] == [FieldType.STRING] * 4
    (row,) = [r for p in warehouse.read(sql, None, 10) for r in p.rows]
    assert row == ("13:45:30.123456", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "P1Y2M3DT4H5M6.5S", None)
    assert warehouse.preview(sql, 5).rows == [row]
