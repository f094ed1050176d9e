"""What PostgreSQL and Redshift do alike, tested once for both against the same real server.

PostgreSQL is the throwaway cluster (tests/standins/postgres_fixtures.py) through psycopg; Redshift is the
same cluster through the real redshift_connector and the wire-protocol proxy (tests/standins/redshift.py).
The error messages are checked against the server's real words, one test per mapped message.
"""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from feeds.warehouses import pgfamily
from feeds.warehouses.base import FieldType, ReadWindow, WarehouseError
from feeds.warehouses.postgres import PostgresWarehouse
from feeds.warehouses.redshift import RedshiftWarehouse
from feeds.warehouses.sqlwarehouse import SqlWarehouse
from tests.standins.postgres_fixtures import GHOST, REFUSED, PgDatabase, free_port


@dataclass(frozen=True)
class Member:
    """One provider of the family, on a database of its own."""

    kind: str
    cls: type[SqlWarehouse]
    db: PgDatabase
    config: Callable[..., dict[str, Any]]

    def warehouse(self, **overrides: Any) -> SqlWarehouse:
        return self.cls(self.config(**overrides))

    def run_sql(self, *statements: str) -> None:
        """Run setup SQL as the test role (it owns the database)."""
        import psycopg

        db = self.db
        with psycopg.connect(
            host="127.0.0.1", port=db.cluster.port, dbname=db.database, user=db.user, password=db.password
        ) as conn:
            for statement in statements:
                conn.execute(statement)

    def add_role(self, *options: str) -> tuple[str, str]:
        """Create a role with an md5 password (the Redshift client cannot do SCRAM); return (name, password)."""
        name, password = f"wsync_r_{uuid.uuid4().hex[:10]}", f"pw-{uuid.uuid4().hex}"
        with self.db.cluster.admin() as conn:
            conn.execute("SET password_encryption = 'md5'")
            conn.execute(f"CREATE ROLE {name} {' '.join(options)} PASSWORD '{password}'")
        return name, password


@pytest.fixture(params=["postgres", "redshift"])
def member(request: pytest.FixtureRequest) -> Member:
    if request.param == "postgres":
        db = request.getfixturevalue("pg_database")
        return Member("postgres", PostgresWarehouse, db, db.config)
    rs = request.getfixturevalue("redshift_database")
    return Member("redshift", RedshiftWarehouse, rs.db, rs.config)


def failed_check(member: Member, **overrides: Any) -> tuple[str, bool, str | None]:
    result = member.warehouse(**overrides).check()
    assert not result.ok, result.message
    return result.message, result.permanent, result.field


# --- check, and each mapped message against the server's real words ------------------------------------


def test_it_checks_the_connection(member: Member) -> None:
    result = member.warehouse().check()
    assert result.ok, result.message
    assert result.message in ("Connected to PostgreSQL.", "Connected to Amazon Redshift.")


def test_a_wrong_password(member: Member) -> None:
    # PostgreSQL: 28P01 'password authentication failed for user "…"'.
    assert failed_check(member, password="not-the-password") == (
        "The user name or password is wrong. Check both and try again.",
        True,
        "password",
    )


def test_a_user_that_does_not_exist_is_not_blamed_on_the_database(member: Member) -> None:
    # PostgreSQL: 28000 'role "wsync_ghost" does not exist' (a trust rule, as on the server of issue 20).
    assert failed_check(member, user=GHOST) == (
        f"The user “{GHOST}” does not exist on this warehouse. Check the user name, or create the user "
        "(see “Prepare your warehouse”).",
        True,
        "user",
    )


def test_a_user_behind_a_password_rule_is_a_wrong_login(member: Member) -> None:
    # With a password rule PostgreSQL does not tell a missing role from a wrong password (28P01).
    message, permanent, field = failed_check(member, user=f"wsync_nobody_{uuid.uuid4().hex[:6]}")
    assert (message, permanent, field) == (pgfamily.BAD_LOGIN[0], True, "password")


def test_a_user_that_may_not_log_in(member: Member) -> None:
    # PostgreSQL: 28000 'role "…" is not permitted to log in'.
    name, password = member.add_role("NOLOGIN")
    message, permanent, field = failed_check(member, user=name, password=password)
    assert message.startswith(f"The user “{name}” exists but may not log in.")
    assert (permanent, field) == (True, "user")


def test_a_login_the_server_s_rules_refuse(member: Member) -> None:
    # PostgreSQL: 28000 'pg_hba.conf rejects connection for host "127.0.0.1", user "wsync_refused", …'.
    message, permanent, field = failed_check(member, user=REFUSED)
    assert message.startswith(f"The warehouse does not let the user “{REFUSED}” connect to the database")
    assert "pg_hba.conf" in message and (permanent, field) == (True, "user")


def test_a_missing_database(member: Member) -> None:
    # PostgreSQL: 3D000 'database "no_such_db" does not exist'.
    assert failed_check(member, database="no_such_db") == (
        "The database “no_such_db” does not exist. Check the database name.",
        True,
        "database",
    )


def test_a_user_without_the_connect_grant(member: Member) -> None:
    # PostgreSQL: 42501 'permission denied for database "…"', DETAIL 'User does not have CONNECT privilege.'
    name, password = member.add_role("LOGIN")
    with member.db.cluster.admin() as conn:
        conn.execute(f"REVOKE CONNECT ON DATABASE {member.db.database} FROM PUBLIC")
    message, permanent, field = failed_check(member, user=name, password=password)
    assert message.startswith(f"The user “{name}” may not connect to the database “{member.db.database}”.")
    assert (permanent, field) == (True, "user")


def test_a_user_out_of_connections(member: Member) -> None:
    # PostgreSQL: 53300 'too many connections for role "…"'.
    name, password = member.add_role("LOGIN", "CONNECTION LIMIT 0")
    message, permanent, field = failed_check(member, user=name, password=password)
    assert message.startswith(f"The user “{name}” has used up its allowed connections right now.")
    assert (permanent, field) == (False, None)


def test_a_refused_connection_is_retryable(member: Member) -> None:
    message, permanent, field = failed_check(member, port=free_port())
    assert "refused the connection" in message
    assert (permanent, field) == (False, "port")


def test_an_unknown_host(member: Member) -> None:
    message, _, field = failed_check(member, host="no-such-host.invalid")
    assert "could not be found" in message and field == "host"


def test_a_missing_grant_on_a_table(member: Member) -> None:
    # PostgreSQL: 42501 'permission denied for table hidden'.
    with member.db.admin() as conn:
        conn.execute("CREATE TABLE hidden (id int)")  # owned by the superuser, not granted
    with pytest.raises(WarehouseError) as info:
        member.warehouse().describe("SELECT * FROM hidden")
    assert info.value.message.startswith(f"The user “{member.db.user}” is missing a permission to read")
    assert (info.value.permanent, info.value.field) == (True, None)


def test_a_missing_table_is_the_server_s_own_words(member: Member) -> None:
    # PostgreSQL: 42P01 'relation "nowhere" does not exist': a mistake in the SQL, not a missing database.
    with pytest.raises(WarehouseError) as info:
        member.warehouse().describe("SELECT * FROM nowhere")
    assert info.value.message == 'The warehouse rejected the query: relation "nowhere" does not exist'
    assert (info.value.permanent, info.value.field) == (True, None)


def test_a_slow_preview_is_stopped_by_the_server(member: Member, settings: Any) -> None:
    # PostgreSQL: 57014 'canceling statement due to statement timeout'.
    settings.WSYNC_PREVIEW_TIMEOUT = 1
    with pytest.raises(WarehouseError) as info:
        member.warehouse().preview("SELECT pg_sleep(5) AS slow", 10)
    assert info.value.message == pgfamily.TOO_SLOW[0]
    assert info.value.permanent is False


def test_it_refuses_a_loopback_host_unless_allowed(member: Member, settings: Any) -> None:
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = False
    warehouse = member.warehouse(host="localhost")
    result = warehouse.check()
    assert not result.ok and result.field == "host"
    assert "private network address" in result.message
    with pytest.raises(WarehouseError):
        warehouse.describe("SELECT 1")


def test_it_does_not_connect_when_constructed(member: Member) -> None:
    member.cls({"host": "no-such-host.invalid", "password": str(uuid.uuid4())})


# --- describe / preview ----------------------------------------------------------------------------------


def test_it_describes_names_and_types(member: Member) -> None:
    member.run_sql(
        'CREATE TABLE people (id bigint, "Email" text, score numeric(12,2), seen timestamptz, '
        "born date, local_ts timestamp, attrs jsonb, tags text[], active boolean, ratio float8)",
    )
    columns = member.warehouse().describe("SELECT * FROM people")
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
    # The warehouse's own names, for display: each driver names them its way.
    assert [c.warehouse_type for c in columns[:4]] == {
        "postgres": ["int8", "text", "numeric(12,2)", "timestamptz"],
        "redshift": ["bigint", "text", "numeric", "timestamptz"],
    }[member.kind]


def test_it_caps_the_preview(member: Member) -> None:
    warehouse = member.warehouse()
    preview = warehouse.preview("SELECT g AS n FROM generate_series(1, 50) AS g", 10)
    assert [r[0] for r in preview.rows] == list(range(1, 11))
    assert preview.truncated is True
    small = warehouse.preview("SELECT g AS n FROM generate_series(1, 10) AS g", 10)
    assert len(small.rows) == 10 and small.truncated is False


# --- read ------------------------------------------------------------------------------------------------


def test_it_reads_windows_without_losing_rows_on_the_boundary(member: Member) -> None:
    t1, t2, t3 = (datetime(2026, 1, d, 12, 0, 0, 123456, tzinfo=UTC) for d in (1, 2, 3))
    member.run_sql(
        "CREATE TABLE events (id int, kind text, updated_at timestamptz)",
        f"INSERT INTO events SELECT g, 'a%b', '{t1.isoformat()}' FROM generate_series(1, 40) g",
        f"INSERT INTO events SELECT g, 'a%b', '{t2.isoformat()}' FROM generate_series(41, 340) g",
        f"INSERT INTO events SELECT g, 'a%b', '{t3.isoformat()}' FROM generate_series(341, 380) g",
    )
    # The LIKE '%' checks that the model's own percent signs survive parameter binding.
    sql = "SELECT id, updated_at FROM events WHERE kind LIKE 'a%'"
    warehouse = member.warehouse()

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


def test_it_compares_a_zoneless_iterator_as_wall_clock_time(member: Member) -> None:
    member.run_sql(
        "CREATE TABLE visits (id int, at timestamp)",
        "INSERT INTO visits VALUES (1, '2026-03-01 10:30'), (2, '2026-03-01 11:00'), (3, '2026-03-01 12:00')",
    )
    lower = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # 11:00 in Berlin
    window = ReadWindow("at", "timestamp", lower, None, timezone="Europe/Berlin")
    pages = list(member.warehouse().read("SELECT * FROM visits", window, 10))
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
    member: Member, iterator_type: str, expression: str, lower: Any, upper: Any, expected: list[int]
) -> None:
    sql = f"SELECT g AS id, {expression} AS it FROM generate_series(1, 10) AS g"
    window = ReadWindow("it", iterator_type, lower, upper)
    pages = member.warehouse().read(sql, window, 2)
    assert [r[0] for p in pages for r in p.rows] == expected


def test_it_keeps_types_intact(member: Member) -> None:
    member.run_sql(
        "CREATE TABLE t (zoned timestamptz, plain timestamp, d date, amount numeric(38,10), n int, "
        "name text, attrs jsonb, doc json, nums int[], words text[], ok boolean, f float8, u uuid)",
        "INSERT INTO t VALUES ('2026-05-06 07:08:09.123456+02', '2026-05-06 07:08:09.654321', '2026-05-06', "
        "'12345678901234567890.1234567890', 7, 'Zoë 東京 🚀', '{\"a\": [1, {\"b\": null}]}', '[1, \"x\"]', "
        "'{1,2,3}', '{\"x y\",z}', true, 1.5, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')",
        "INSERT INTO t VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        # A JSON string scalar is already decoded by the driver and must not be decoded twice. (A table,
        # because sqlglot's Redshift dialect drops `::json` casts: Redshift has no JSON type.)
        "CREATE TABLE scalars (j jsonb, k json)",
        "INSERT INTO scalars VALUES ('\"just text\"', '42')",
    )
    warehouse = member.warehouse()
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
    assert warehouse.preview("SELECT * FROM scalars", 1).rows == [("just text", 42)]
    assert warehouse.preview("SELECT * FROM t", 5).rows == rows


def test_it_streams_a_large_read_in_pages_with_bounded_memory(member: Member) -> None:
    sql = "SELECT g AS id, repeat('x', 200) || g AS pad FROM generate_series(1, 200000) AS g"
    warehouse = member.warehouse()
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


# --- configuration ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [PostgresWarehouse, RedshiftWarehouse])
def test_it_validates_fields_with_messages_that_say_how_to_fix_them(cls: type[SqlWarehouse]) -> None:
    fields = {f.name: f for f in cls.fields}
    with pytest.raises(ValueError, match="Port must be a number between 1 and 65535"):
        fields["port"].validate("99999")  # type: ignore[misc]
    with pytest.raises(ValueError, match="Host must be a bare host name"):
        fields["host"].validate("https://db.example.com/")  # type: ignore[misc]
    with pytest.raises(ValueError, match="Database is required"):
        fields["database"].validate(" ")  # type: ignore[misc]
    with pytest.raises(ValueError, match="^Schema must be a schema name such as public or marts"):
        fields["schema"].validate("crm.marts")  # type: ignore[misc]
    fields["schema"].validate("analytics_2026")  # type: ignore[misc]
    assert (fields["schema"].required, fields["schema"].default) == (False, "public")
    assert fields["password"].secret is True
    assert fields["allow_unencrypted"].default is False


@pytest.mark.parametrize("cls", [PostgresWarehouse, RedshiftWarehouse])
def test_it_fills_the_grant_steps_with_the_schema_the_form_asks_for(cls: type[SqlWarehouse]) -> None:
    # Only what the form declares reaches prepare_steps: a schema without a field stays "<schema>".
    typed = {"user": "wsync_reader", "database": "crm", "schema": "marts"}
    config = {f.name: typed.get(f.name, f.default) for f in cls.fields}
    code = "\n".join(s.code for s in cls.prepare_steps(config))  # type: ignore[attr-defined]
    assert 'GRANT USAGE ON SCHEMA "marts" TO "wsync_reader"' in code
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA "marts" TO "wsync_reader"' in code
    assert 'ALTER DEFAULT PRIVILEGES IN SCHEMA "marts" GRANT SELECT ON TABLES TO "wsync_reader"' in code
    assert "<schema>" not in code
    empty = "\n".join(s.code for s in cls.prepare_steps({}))  # type: ignore[attr-defined]
    assert '"<user>"' in empty and 'GRANT USAGE ON SCHEMA "public"' in empty  # the field's default
