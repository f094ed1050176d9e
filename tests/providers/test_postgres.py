"""PostgreSQL provider against a real PostgreSQL (the throwaway cluster in tests/standins): psycopg's side.

What PostgreSQL does like Redshift (check, errors, windows, types, streaming) is in test_pg_family.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from feeds.warehouses.base import WarehouseError
from feeds.warehouses.postgres import PostgresWarehouse
from tests.standins.postgres_fixtures import PgDatabase


def run_sql(db: PgDatabase, *statements: str) -> None:
    """Run setup SQL as the test role (it owns the database)."""
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=db.cluster.port, dbname=db.database, user=db.user, password=db.password
    ) as conn:
        for statement in statements:
            conn.execute(statement)


# --- read ----------------------------------------------------------------------------------


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
