"""PostgreSQL provider against a real PostgreSQL (the throwaway cluster in tests/standins)."""

from __future__ import annotations

import tracemalloc
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from feeds.warehouses.base import FieldType, ReadWindow, WarehouseError
from feeds.warehouses.postgres import PostgresWarehouse
from tests.standins.postgres_fixtures import PgDatabase, free_port


def run_sql(db: PgDatabase, *statements: str) -> None:
    """Run setup SQL as the test role (it owns the database)."""
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=db.cluster.port, dbname=db.database, user=db.user, password=db.password
    ) as conn:
        for statement in statements:
            conn.execute(statement)


# --- check ---------------------------------------------------------------------------------


def test_it_checks_the_connection(pg_database: PgDatabase) -> None:
    result = PostgresWarehouse(pg_database.config()).check()
    assert result.ok, result.message


def test_it_reports_a_wrong_password_as_permanent(pg_database: PgDatabase) -> None:
    result = PostgresWarehouse(pg_database.config(password="not-the-password")).check()
    assert not result.ok
    assert result.message == "The user name or password is wrong. Check both and try again."
    assert result.permanent is True
    assert result.field == "password"


def test_it_reports_a_missing_database(pg_database: PgDatabase) -> None:
    result = PostgresWarehouse(pg_database.config(database="no_such_db")).check()
    assert not result.ok
    assert "“no_such_db” does not exist" in result.message
    assert (result.permanent, result.field) == (True, "database")


def test_it_reports_a_refused_connection_as_retryable(pg_database: PgDatabase) -> None:
    result = PostgresWarehouse(pg_database.config(port=free_port())).check()
    assert not result.ok
    assert "refused the connection" in result.message
    assert result.permanent is False


def test_it_reports_an_unknown_host(pg_database: PgDatabase) -> None:
    result = PostgresWarehouse(pg_database.config(host="no-such-host.invalid")).check()
    assert not result.ok
    assert "could not be found" in result.message
    assert result.field == "host"


def test_it_reports_a_missing_grant(pg_database: PgDatabase) -> None:
    with pg_database.admin() as conn:
        conn.execute("CREATE TABLE hidden (id int)")  # owned by the superuser, not granted
    with pytest.raises(WarehouseError) as info:
        PostgresWarehouse(pg_database.config()).describe("SELECT * FROM hidden")
    assert "missing a permission" in info.value.message
    assert info.value.permanent is True


def test_it_refuses_a_loopback_host_unless_allowed(pg_database: PgDatabase, settings: Any) -> None:
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = False
    warehouse = PostgresWarehouse(pg_database.config(host="localhost"))
    result = warehouse.check()
    assert not result.ok and result.field == "host"
    assert "private network address" in result.message
    with pytest.raises(WarehouseError):
        warehouse.describe("SELECT 1")


# --- describe / preview ----------------------------------------------------------------------


def test_it_describes_names_and_types(pg_database: PgDatabase) -> None:
    run_sql(
        pg_database,
        'CREATE TABLE people (id bigint, "Email" text, score numeric(12,2), seen timestamptz, '
        "born date, local_ts timestamp, attrs jsonb, tags text[], active boolean, ratio float8)",
    )
    columns = PostgresWarehouse(pg_database.config()).describe("SELECT * FROM people")
    assert [(c.name, c.type) for c in columns] == [
        ("id", FieldType.INTEGER),
        ("Email", FieldType.STRING),
        ("score", FieldType.DECIMAL),
        ("seen", FieldType.TIMESTAMP_TZ),
        ("born", FieldType.DATE),
        ("local_ts", FieldType.TIMESTAMP),
        ("attrs", FieldType.JSON),
        ("tags", FieldType.ARRAY),
        ("active", FieldType.BOOLEAN),
        ("ratio", FieldType.FLOAT),
    ]
    assert columns[2].warehouse_type == "numeric(12,2)"


def test_it_reports_a_query_mistake_plainly(pg_database: PgDatabase) -> None:
    with pytest.raises(WarehouseError) as info:
        PostgresWarehouse(pg_database.config()).describe("SELECT * FROM nowhere")
    assert info.value.message.startswith("The warehouse rejected the query:")
    assert "nowhere" in info.value.message


def test_it_caps_the_preview(pg_database: PgDatabase) -> None:
    warehouse = PostgresWarehouse(pg_database.config())
    preview = warehouse.preview("SELECT g AS n FROM generate_series(1, 50) AS g", 10)
    assert [r[0] for r in preview.rows] == list(range(1, 11))
    assert preview.truncated is True
    assert preview.elapsed_ms >= 0
    small = warehouse.preview("SELECT g AS n FROM generate_series(1, 10) AS g", 10)
    assert len(small.rows) == 10 and small.truncated is False


def test_it_stops_a_slow_preview(pg_database: PgDatabase, settings: Any) -> None:
    settings.WSYNC_PREVIEW_TIMEOUT = 1
    with pytest.raises(WarehouseError) as info:
        PostgresWarehouse(pg_database.config()).preview("SELECT pg_sleep(5) AS slow", 10)
    assert "took too long" in info.value.message
    assert info.value.permanent is False


# --- read ----------------------------------------------------------------------------------


def test_it_reads_windows_without_losing_rows_on_the_boundary(pg_database: PgDatabase) -> None:
    t1, t2, t3 = (datetime(2026, 1, d, 12, 0, 0, 123456, tzinfo=UTC) for d in (1, 2, 3))
    run_sql(
        pg_database,
        "CREATE TABLE events (id int, kind text, updated_at timestamptz)",
        f"INSERT INTO events SELECT g, 'a%b', '{t1.isoformat()}' FROM generate_series(1, 40) g",
        f"INSERT INTO events SELECT g, 'a%b', '{t2.isoformat()}' FROM generate_series(41, 340) g",
        f"INSERT INTO events SELECT g, 'a%b', '{t3.isoformat()}' FROM generate_series(341, 380) g",
    )
    # The LIKE '%' checks that the model's own percent signs survive parameter binding.
    sql = "SELECT id, updated_at FROM events WHERE kind LIKE 'a%'"
    warehouse = PostgresWarehouse(pg_database.config())

    def ids(lower: datetime | None, upper: datetime | None) -> list[int]:
        pages = list(warehouse.read(sql, ReadWindow("updated_at", "timestamptz", lower, upper), 100))
        assert all(len(p.rows) <= 100 for p in pages)
        stamps = [r[1] for p in pages for r in p.rows]
        assert stamps == sorted(stamps)  # ordered by the iterator
        return [r[0] for p in pages for r in p.rows]

    first, second = ids(None, t2), ids(t2, None)
    assert len(first) == len(set(first)) == 340
    assert len(second) == len(set(second)) == 340
    assert set(first) | set(second) == set(range(1, 381))
    assert set(first) & set(second) == set(range(41, 341))  # inclusive bounds: boundary rows in both
    assert sorted(ids(t2, t2)) == list(range(41, 341))


def test_it_compares_a_zoneless_iterator_as_wall_clock_time(pg_database: PgDatabase) -> None:
    run_sql(
        pg_database,
        "CREATE TABLE visits (id int, at timestamp)",
        "INSERT INTO visits VALUES (1, '2026-03-01 10:30'), (2, '2026-03-01 11:00'), (3, '2026-03-01 12:00')",
    )
    lower = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # 11:00 in Berlin
    window = ReadWindow("at", "timestamp", lower, None, timezone="Europe/Berlin")
    pages = list(PostgresWarehouse(pg_database.config()).read("SELECT * FROM visits", window, 10))
    assert [r[0] for p in pages for r in p.rows] == [2, 3]
    assert pages[0].rows[0][1] == datetime(2026, 3, 1, 11, 0)  # noqa: DTZ001 - naive stays naive


@pytest.mark.parametrize(
    ("iterator_type", "expression", "lower", "upper", "expected"),
    [
        ("integer", "g", 3, 5, [3, 4, 5]),
        ("date", "DATE '2026-01-01' + g", date(2026, 1, 3), date(2026, 1, 4), [2, 3]),
        ("timestamp_unixtime_ms", "g * 1000::bigint", 2000, 3000, [2, 3]),
        ("timestamp_unixtime_s", "g::bigint", 9, None, [9, 10]),
    ],
)
def test_it_windows_every_iterator_type(
    pg_database: PgDatabase, iterator_type: str, expression: str, lower: Any, upper: Any, expected: list[int]
) -> None:
    sql = f"SELECT g AS id, {expression} AS it FROM generate_series(1, 10) AS g"
    window = ReadWindow("it", iterator_type, lower, upper)
    pages = PostgresWarehouse(pg_database.config()).read(sql, window, 2)
    assert [r[0] for p in pages for r in p.rows] == expected


def test_it_keeps_types_intact(pg_database: PgDatabase) -> None:
    run_sql(
        pg_database,
        "CREATE TABLE t (zoned timestamptz, plain timestamp, d date, amount numeric(38,10), n int, "
        "name text, attrs jsonb, doc json, nums int[], words text[], ok boolean, f float8, u uuid)",
        "INSERT INTO t VALUES ('2026-05-06 07:08:09.123456+02', '2026-05-06 07:08:09.654321', '2026-05-06', "
        "'12345678901234567890.1234567890', 7, 'Zoë 東京 🚀', '{\"a\": [1, {\"b\": null}]}', '[1, \"x\"]', "
        "'{1,2,3}', '{\"x y\",z}', true, 1.5, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')",
        "INSERT INTO t VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    warehouse = PostgresWarehouse(pg_database.config())
    rows = [r for p in warehouse.read("SELECT * FROM t", None, 10) for r in p.rows]
    assert rows[0] == (
        datetime(2026, 5, 6, 5, 8, 9, 123456, tzinfo=UTC),
        datetime(2026, 5, 6, 7, 8, 9, 654321),  # noqa: DTZ001 - zoneless on purpose
        date(2026, 5, 6),
        Decimal("12345678901234567890.1234567890"),
        7,
        "Zoë 東京 🚀",
        {"a": [1, {"b": None}]},
        [1, "x"],
        [1, 2, 3],
        ["x y", "z"],
        True,
        1.5,
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    )
    assert rows[0][0].utcoffset() is not None and rows[0][1].tzinfo is None
    assert rows[1] == (None,) * 13
    # A JSON string scalar is already decoded by the driver and must not be decoded twice.
    scalar = warehouse.preview("""SELECT '"just text"'::jsonb AS j, '42'::json AS k""", 1).rows
    assert scalar == [("just text", 42)]
    assert warehouse.preview("SELECT * FROM t", 5).rows == rows


def test_it_reads_every_character_a_value_can_hold(pg_database: PgDatabase) -> None:
    # Reads travel as COPY text, where tabs, newlines, backslashes and NULL are escaped.
    texts = ["tab\there", "line\nbreak\r\n", "back\\slash", "\\N", "N", "", "a%b", "\x0b\x08\x0c"]
    run_sql(
        pg_database,
        "CREATE TABLE odd (id int, t text, b bytea, words text[], doc jsonb)",
        *(
            f"INSERT INTO odd VALUES ({i}, $q${t}$q$, convert_to($q${t}$q$, 'UTF8'), "
            f"ARRAY[$q${t}$q$, NULL, 'x\"y'], jsonb_build_object('k', $q${t}$q$))"
            for i, t in enumerate(texts)
        ),
        "INSERT INTO odd VALUES (99, NULL, NULL, NULL, NULL)",
    )
    warehouse = PostgresWarehouse(pg_database.config())
    sql = "SELECT * FROM odd WHERE t LIKE '%' OR t IS NULL ORDER BY id"  # a percent sign and no parameters
    pages = list(warehouse.read(sql, None, 3))
    rows = [r for p in pages for r in p.rows]
    assert [r[1] for r in rows] == [*texts, None]
    assert [bytes(r[2]) for r in rows[:-1]] == [t.encode() for t in texts]
    assert [r[3] for r in rows[:-1]] == [[t, None, 'x"y'] for t in texts]
    assert [r[4] for r in rows[:-1]] == [{"k": t} for t in texts]
    assert rows[-1] == (99, None, None, None, None)
    assert rows == warehouse.preview(sql, 20).rows  # the same values a SELECT gives


def test_it_digests_each_row_as_sent_and_decodes_on_demand(pg_database: PgDatabase) -> None:
    run_sql(
        pg_database,
        "CREATE TABLE d (id int, v text)",
        "INSERT INTO d VALUES (1, 'same'), (2, 'same'), (3, 'other'), (4, NULL), (5, '')",
    )
    warehouse = PostgresWarehouse(pg_database.config())
    (page,) = warehouse.read("SELECT v FROM d ORDER BY id", None, 10)
    assert page.digests is not None and len(page.digests) == len(page) == 5
    assert page.digests[0] == page.digests[1]  # equal rows, equal digests
    assert len(set(page.digests[1:])) == 4  # NULL and the empty text are told apart
    assert page.take([2, 4]).rows == [("other",), ("",)]
    assert page.rows == [("same",), ("same",), ("other",), (None,), ("",)]


def test_it_ends_a_read_stopped_midway_and_explains_an_error_midway(pg_database: PgDatabase) -> None:
    import psycopg

    warehouse = PostgresWarehouse(pg_database.config())
    pages = warehouse.read("SELECT g FROM generate_series(1, 100000) AS g", None, 1000)
    assert len(next(pages)) == 1000
    pages.close()  # what the engine does when a feed is paused mid-run
    db = pg_database
    with psycopg.connect(
        host="127.0.0.1", port=db.cluster.port, dbname=db.database, user=db.user, password=db.password
    ) as conn:
        (open_reads,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'wsync'"
        ).fetchone()
    assert open_reads == 0

    failing = "SELECT 1 / (5000 - g) AS x FROM generate_series(1, 9000) AS g"
    with pytest.raises(WarehouseError) as caught:
        list(warehouse.read(failing, None, 1000))
    assert "Traceback" not in caught.value.message and caught.value.message


def test_it_refuses_a_model_that_tries_to_end_the_copy_early(pg_database: PgDatabase, tmp_path: Any) -> None:
    # Reads wrap the model in COPY (...) TO STDOUT: breaking out of it could reach TO PROGRAM.
    marker = tmp_path / "ran"
    warehouse = PostgresWarehouse(pg_database.config())
    for sql in (
        f"SELECT 1) TO PROGRAM 'touch {marker}' --",
        f"SELECT 1 AS a\n) AS m) TO PROGRAM 'touch {marker}'; COPY (SELECT 1",
    ):
        with pytest.raises(WarehouseError) as caught:
            list(warehouse.read(sql, None, 10))
        assert caught.value.field == "sql"
    assert not marker.exists()


def test_it_streams_a_large_read_in_pages_with_bounded_memory(pg_database: PgDatabase) -> None:
    sql = "SELECT g AS id, repeat('x', 200) || g AS pad FROM generate_series(1, 200000) AS g"
    warehouse = PostgresWarehouse(pg_database.config())
    sizes, total_chars = [], 0
    tracemalloc.start()
    try:
        for page in warehouse.read(sql, None, 5000):
            sizes.append(len(page.rows))
            total_chars += sum(len(r[1]) for r in page.rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sizes == [5000] * 40
    # The whole result holds over 40 MB of strings alone; a page is about 1 MB.
    assert total_chars > 40_000_000
    assert peak < 12_000_000, f"peak {peak} bytes: the read is not streaming"


# --- configuration -------------------------------------------------------------------------


def field(name: str) -> Any:
    return next(f for f in PostgresWarehouse.fields if f.name == name)


def test_it_validates_fields_with_messages_that_say_how_to_fix_them() -> None:
    with pytest.raises(ValueError, match="Port must be a number between 1 and 65535"):
        field("port").validate("99999")
    with pytest.raises(ValueError, match="Host must be a bare host name"):
        field("host").validate("https://db.example.com/")
    with pytest.raises(ValueError, match="Database is required"):
        field("database").validate(" ")
    field("host").validate("db.example.com")
    assert field("password").secret is True
    assert field("sslmode").default == "require"
    problems = PostgresWarehouse.validate_config({"sslmode": "sometimes", "password": ""})
    assert "TLS mode must be one of: require, verify-ca, verify-full" in problems["sslmode"]
    assert "Password is required" in problems["password"]
    assert PostgresWarehouse.validate_config({"sslmode": "require", "password": "x"}) == {}


def test_it_fills_the_prepare_steps_with_the_typed_names() -> None:
    steps = PostgresWarehouse.prepare_steps({"user": "wsync_reader", "database": "crm", "schema": "marts"})
    code = "\n".join(s.code for s in steps)
    assert 'CREATE ROLE "wsync_reader" LOGIN PASSWORD' in code
    assert 'GRANT USAGE ON SCHEMA "marts" TO "wsync_reader"' in code
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA "marts" TO "wsync_reader"' in code
    assert 'ALTER DEFAULT PRIVILEGES IN SCHEMA "marts" GRANT SELECT ON TABLES TO "wsync_reader"' in code
    assert 'GRANT CONNECT ON DATABASE "crm"' in code
    empty = "\n".join(s.code for s in PostgresWarehouse.prepare_steps({}))
    assert '"<user>"' in empty and 'GRANT USAGE ON SCHEMA "public"' in empty  # the field's default


def test_it_asks_for_the_schema_the_grant_steps_use() -> None:
    # Only what the form declares reaches prepare_steps: a schema without a field stays "<schema>".
    typed = {"user": "wsync_reader", "database": "crm", "schema": "marts"}
    config = {f.name: typed.get(f.name, f.default) for f in PostgresWarehouse.fields}
    code = "\n".join(s.code for s in PostgresWarehouse.prepare_steps(config))
    assert 'GRANT USAGE ON SCHEMA "marts" TO "wsync_reader"' in code and "<schema>" not in code
    assert (field("schema").required, field("schema").default) == (False, "public")
    field("schema").validate("analytics_2026")
    with pytest.raises(ValueError, match="^Schema must be a schema name such as public or marts"):
        field("schema").validate("crm.marts")


def test_it_does_not_connect_when_constructed() -> None:
    PostgresWarehouse({"host": "no-such-host.invalid", "password": str(uuid.uuid4())})
