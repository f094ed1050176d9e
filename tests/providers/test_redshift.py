"""Redshift provider: the real redshift_connector through the wire-protocol proxy to PostgreSQL."""

from __future__ import annotations

import tracemalloc
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from feeds.warehouses.base import Column, FieldType, ReadWindow, WarehouseError
from feeds.warehouses.pgfamily import clean_rows
from feeds.warehouses.redshift import TEXT_JSON, RedshiftWarehouse, type_name
from tests.standins.postgres_fixtures import free_port
from tests.standins.redshift import RedshiftDatabase


def config(rs: RedshiftDatabase, **overrides: Any) -> dict[str, Any]:
    return rs.config(**overrides)


def run_sql(rs: RedshiftDatabase, *statements: str) -> None:
    """Run setup SQL as the test role (it owns the database)."""
    import psycopg

    db = rs.db
    with psycopg.connect(
        host="127.0.0.1", port=db.cluster.port, dbname=db.database, user=db.user, password=db.password
    ) as conn:
        for statement in statements:
            conn.execute(statement)


# --- check ---------------------------------------------------------------------------------


def test_it_checks_the_connection(redshift_database: RedshiftDatabase) -> None:
    result = RedshiftWarehouse(config(redshift_database)).check()
    assert result.ok, result.message


def test_it_reports_a_wrong_password_as_permanent(redshift_database: RedshiftDatabase) -> None:
    result = RedshiftWarehouse(config(redshift_database, password="not-the-password")).check()
    assert not result.ok
    assert result.message == "The user name or password is wrong. Check both and try again."
    assert result.permanent is True
    assert result.field == "password"


def test_it_reports_a_missing_database(redshift_database: RedshiftDatabase) -> None:
    result = RedshiftWarehouse(config(redshift_database, database="no_such_db")).check()
    assert not result.ok
    assert "“no_such_db” does not exist" in result.message
    assert (result.permanent, result.field) == (True, "database")


def test_it_reports_a_refused_connection_as_retryable(redshift_database: RedshiftDatabase) -> None:
    result = RedshiftWarehouse(config(redshift_database, port=free_port())).check()
    assert not result.ok
    assert "refused the connection" in result.message
    assert result.permanent is False


def test_it_reports_an_unknown_host(redshift_database: RedshiftDatabase) -> None:
    result = RedshiftWarehouse(config(redshift_database, host="no-such-host.invalid")).check()
    assert not result.ok
    assert "could not be found" in result.message
    assert result.field == "host"


def test_it_reports_a_missing_grant(redshift_database: RedshiftDatabase) -> None:
    with redshift_database.db.admin() as conn:
        conn.execute("CREATE TABLE hidden (id int)")  # owned by the superuser, not granted
    with pytest.raises(WarehouseError) as info:
        RedshiftWarehouse(config(redshift_database)).describe("SELECT * FROM hidden")
    assert "missing a permission" in info.value.message
    assert info.value.permanent is True


def test_it_refuses_a_loopback_host_unless_allowed(
    redshift_database: RedshiftDatabase, settings: Any
) -> None:
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = False
    warehouse = RedshiftWarehouse(config(redshift_database, host="localhost"))
    result = warehouse.check()
    assert not result.ok and result.field == "host"
    assert "private network address" in result.message
    with pytest.raises(WarehouseError):
        warehouse.describe("SELECT 1")


# --- describe / preview ----------------------------------------------------------------------


def test_it_describes_names_and_types(redshift_database: RedshiftDatabase) -> None:
    run_sql(
        redshift_database,
        'CREATE TABLE people (id bigint, "Email" text, score numeric(12,2), seen timestamptz, '
        "born date, local_ts timestamp, attrs jsonb, tags text[], active boolean, ratio float8)",
    )
    columns = RedshiftWarehouse(config(redshift_database)).describe("SELECT * FROM people")
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
    assert [c.warehouse_type for c in columns[:4]] == ["bigint", "text", "numeric", "timestamptz"]


def test_it_reports_a_query_mistake_plainly(redshift_database: RedshiftDatabase) -> None:
    with pytest.raises(WarehouseError) as info:
        RedshiftWarehouse(config(redshift_database)).describe("SELECT * FROM nowhere")
    assert info.value.message.startswith("The warehouse rejected the query:")
    assert "nowhere" in info.value.message


def test_it_caps_the_preview(redshift_database: RedshiftDatabase) -> None:
    warehouse = RedshiftWarehouse(config(redshift_database))
    preview = warehouse.preview("SELECT g AS n FROM generate_series(1, 50) AS g", 10)
    assert [r[0] for r in preview.rows] == list(range(1, 11))
    assert preview.truncated is True
    assert preview.elapsed_ms >= 0
    small = warehouse.preview("SELECT g AS n FROM generate_series(1, 10) AS g", 10)
    assert len(small.rows) == 10 and small.truncated is False


def test_it_stops_a_slow_preview(redshift_database: RedshiftDatabase, settings: Any) -> None:
    settings.WSYNC_PREVIEW_TIMEOUT = 1
    with pytest.raises(WarehouseError) as info:
        RedshiftWarehouse(config(redshift_database)).preview("SELECT pg_sleep(5) AS slow", 10)
    assert "took too long" in info.value.message
    assert info.value.permanent is False


# --- read ----------------------------------------------------------------------------------


def test_it_reads_windows_without_losing_rows_on_the_boundary(redshift_database: RedshiftDatabase) -> None:
    t1, t2, t3 = (datetime(2026, 1, d, 12, 0, 0, 123456, tzinfo=UTC) for d in (1, 2, 3))
    run_sql(
        redshift_database,
        "CREATE TABLE events (id int, kind text, updated_at timestamptz)",
        f"INSERT INTO events SELECT g, 'a%b', '{t1.isoformat()}' FROM generate_series(1, 40) g",
        f"INSERT INTO events SELECT g, 'a%b', '{t2.isoformat()}' FROM generate_series(41, 340) g",
        f"INSERT INTO events SELECT g, 'a%b', '{t3.isoformat()}' FROM generate_series(341, 380) g",
    )
    # The LIKE '%' checks that the model's own percent signs survive parameter binding.
    sql = "SELECT id, updated_at FROM events WHERE kind LIKE 'a%'"
    warehouse = RedshiftWarehouse(config(redshift_database))

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


def test_it_compares_a_zoneless_iterator_as_wall_clock_time(redshift_database: RedshiftDatabase) -> None:
    run_sql(
        redshift_database,
        "CREATE TABLE visits (id int, at timestamp)",
        "INSERT INTO visits VALUES (1, '2026-03-01 10:30'), (2, '2026-03-01 11:00'), (3, '2026-03-01 12:00')",
    )
    lower = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # 11:00 in Berlin
    window = ReadWindow("at", "timestamp", lower, None, timezone="Europe/Berlin")
    pages = list(RedshiftWarehouse(config(redshift_database)).read("SELECT * FROM visits", window, 10))
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
    redshift_database: RedshiftDatabase,
    iterator_type: str,
    expression: str,
    lower: Any,
    upper: Any,
    expected: list[int],
) -> None:
    sql = f"SELECT g AS id, {expression} AS it FROM generate_series(1, 10) AS g"
    window = ReadWindow("it", iterator_type, lower, upper)
    pages = RedshiftWarehouse(config(redshift_database)).read(sql, window, 2)
    assert [r[0] for p in pages for r in p.rows] == expected


def test_it_keeps_types_intact(redshift_database: RedshiftDatabase) -> None:
    run_sql(
        redshift_database,
        "CREATE TABLE t (zoned timestamptz, plain timestamp, d date, amount numeric(38,10), n int, "
        "name text, attrs jsonb, doc json, nums int[], words text[], ok boolean, f float8, u uuid)",
        "INSERT INTO t VALUES ('2026-05-06 07:08:09.123456+02', '2026-05-06 07:08:09.654321', '2026-05-06', "
        "'12345678901234567890.1234567890', 7, 'Zoë 東京 🚀', '{\"a\": [1, {\"b\": null}]}', '[1, \"x\"]', "
        "'{1,2,3}', '{\"x y\",z}', true, 1.5, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')",
        "INSERT INTO t VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    warehouse = RedshiftWarehouse(config(redshift_database))
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
    # (A table, because sqlglot's Redshift dialect drops `::json` casts: Redshift has no JSON type.)
    run_sql(
        redshift_database,
        "CREATE TABLE scalars (j jsonb, k json)",
        "INSERT INTO scalars VALUES ('\"just text\"', '42')",
    )
    scalar = warehouse.preview("SELECT * FROM scalars", 1).rows
    assert scalar == [("just text", 42)]
    assert warehouse.preview("SELECT * FROM t", 5).rows == rows


def test_it_streams_a_large_read_in_pages_with_bounded_memory(redshift_database: RedshiftDatabase) -> None:
    sql = "SELECT g AS id, repeat('x', 200) || g AS pad FROM generate_series(1, 200000) AS g"
    warehouse = RedshiftWarehouse(config(redshift_database))
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
    return next(f for f in RedshiftWarehouse.fields if f.name == name)


def test_it_validates_fields_with_messages_that_say_how_to_fix_them() -> None:
    with pytest.raises(ValueError, match="Port must be a number between 1 and 65535"):
        field("port").validate("99999")
    with pytest.raises(ValueError, match="Host must be a bare host name"):
        field("host").validate("https://db.example.com/")
    with pytest.raises(ValueError, match="Database is required"):
        field("database").validate(" ")
    field("host").validate("my-cluster.abc123xyz.eu-west-1.redshift.amazonaws.com")
    assert field("password").secret is True
    assert field("port").default == 5439 and field("allow_unencrypted").default is False
    with pytest.raises(ValueError, match=r"AWS IAM role ARN must look like arn:aws:iam::123456789012:role/"):
        field("aws_iam_role_arn").validate("arn:aws:iam::1234:role/reader")
    with pytest.raises(ValueError, match="AWS IAM role ARN must look like"):
        field("aws_iam_role_arn").validate("arn:aws:iam::123456789012:user/reader")
    field("aws_iam_role_arn").validate("arn:aws:iam::123456789012:role/data/wsync-reader")
    with pytest.raises(ValueError, match="AWS region must be a region code such as eu-west-1"):
        field("region").validate("Ireland")
    with pytest.raises(ValueError, match="Cluster identifier must be"):
        field("cluster_identifier").validate("My Cluster")


def test_it_validates_the_sign_in_method_as_a_whole() -> None:
    assert RedshiftWarehouse.validate_config({"auth_method": "password", "password": "x"}) == {}
    missing = RedshiftWarehouse.validate_config({"auth_method": "password"})
    assert "Password is required" in missing["password"]
    assert "auth_method" in RedshiftWarehouse.validate_config({"auth_method": "kerberos"})
    iam = RedshiftWarehouse.validate_config({"auth_method": "iam", "host": "10.0.0.5"})
    assert "AWS IAM role ARN is required for IAM sign-in" in iam["aws_iam_role_arn"]
    assert "Cluster identifier is required for IAM sign-in" in iam["cluster_identifier"]
    assert "AWS region is required for IAM sign-in" in iam["region"]
    from_host = {
        "auth_method": "iam",
        "host": "analytics.abc123xyz.eu-west-1.redshift.amazonaws.com",
        "aws_iam_role_arn": "arn:aws:iam::123456789012:role/wsync-reader",
    }
    assert RedshiftWarehouse.validate_config(from_host) == {}


def test_it_refuses_iam_sign_in_with_missing_settings_before_calling_aws() -> None:
    result = RedshiftWarehouse(
        {"auth_method": "iam", "host": "10.0.0.5", "user": "u", "database": "d"}
    ).check()
    assert not result.ok and result.permanent
    assert result.field == "aws_iam_role_arn"


def test_it_fills_the_prepare_steps_with_the_typed_names() -> None:
    typed = {"user": "wsync_reader", "database": "crm", "schema": "marts"}
    code = "\n".join(s.code for s in RedshiftWarehouse.prepare_steps(typed))
    assert 'CREATE USER "wsync_reader" PASSWORD' in code
    assert 'GRANT USAGE ON SCHEMA "marts" TO "wsync_reader"' in code
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA "marts" TO "wsync_reader"' in code
    assert 'ALTER DEFAULT PRIVILEGES IN SCHEMA "marts" GRANT SELECT ON TABLES TO "wsync_reader"' in code
    assert "GRANT CONNECT" not in code  # Redshift has no CONNECT privilege
    iam = {**typed, "auth_method": "iam", "aws_iam_role_arn": "arn:aws:iam::123456789012:role/wsync-reader"}
    iam |= {"cluster_identifier": "analytics", "region": "eu-west-1"}
    policy = RedshiftWarehouse.prepare_steps(iam)[-1]
    assert "arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics/wsync_reader" in policy.code
    assert "arn:aws:iam::123456789012:role/wsync-reader" in policy.title
    empty = "\n".join(s.code for s in RedshiftWarehouse.prepare_steps({}))
    assert '"<user>"' in empty and 'GRANT USAGE ON SCHEMA "public"' in empty  # the field's default


def test_it_asks_for_the_schema_the_grant_steps_use() -> None:
    # Only what the form declares reaches prepare_steps: a schema without a field stays "<schema>".
    typed = {"user": "wsync_reader", "database": "crm", "schema": "marts"}
    config = {f.name: typed.get(f.name, f.default) for f in RedshiftWarehouse.fields}
    code = "\n".join(s.code for s in RedshiftWarehouse.prepare_steps(config))
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA "marts" TO "wsync_reader"' in code
    assert "<schema>" not in code
    assert (field("schema").required, field("schema").default) == (False, "public")
    with pytest.raises(ValueError, match="^Schema must be a schema name such as public or marts"):
        field("schema").validate("my schema")


def test_it_decodes_super_values_that_arrive_as_json_text() -> None:
    # PostgreSQL has no SUPER type, so the proxy cannot produce OID 4000; this checks our half.
    assert type_name(4000) == "super" and type_name(1007) == "integer[]"
    columns = [Column("payload", FieldType.JSON, "super")]
    assert clean_rows(columns, [['{"a": [1, 2]}'], ['"text"'], [None]], TEXT_JSON) == [
        ({"a": [1, 2]},),
        ("text",),
        (None,),
    ]


def test_it_does_not_connect_when_constructed() -> None:
    RedshiftWarehouse({"host": "no-such-host.invalid", "password": str(uuid.uuid4())})


# --- IAM sign-in -----------------------------------------------------------------------------

ARN = "arn:aws:iam::123456789012:role/wsync-reader"
ROLE_KEYS = {"AccessKeyId": "ASIAEXAMPLEKEY", "SecretAccessKey": "s3cr3t", "SessionToken": "t0ken"}
CLUSTER_ENDPOINT = "analytics.abc123xyz.eu-west-1.redshift.amazonaws.com"


def iam_config(**overrides: Any) -> dict[str, Any]:
    base = {
        "auth_method": "iam",
        "host": CLUSTER_ENDPOINT,
        "port": 5439,
        "database": "crm",
        "user": "wsync_reader",
        "aws_iam_role_arn": ARN,
    }
    return {**base, **overrides}


def test_it_hands_the_connector_iam_options_for_a_valid_config() -> None:
    warehouse = RedshiftWarehouse(iam_config())
    asked: list[tuple[str, str | None]] = []
    warehouse.assume_role = lambda arn, region: asked.append((arn, region)) or ROLE_KEYS
    kwargs = warehouse._connect_kwargs(CLUSTER_ENDPOINT, 30)
    assert asked == [(ARN, "eu-west-1")]  # the regional STS endpoint of the cluster
    assert kwargs == {
        "host": CLUSTER_ENDPOINT,
        "port": 5439,
        "database": "crm",
        "ssl": True,
        "timeout": 30,
        "application_name": "wsync",
        "iam": True,
        "db_user": "wsync_reader",
        "user": "",
        "password": "",
        "auto_create": False,
        "cluster_identifier": "analytics",
        "region": "eu-west-1",
        "access_key_id": "ASIAEXAMPLEKEY",
        "secret_access_key": "s3cr3t",
        "session_token": "t0ken",
    }


def test_it_prefers_the_typed_cluster_and_region_over_the_host() -> None:
    config = iam_config(
        host="redshift.internal.example.com", cluster_identifier="prod-dwh", region="us-east-2"
    )
    warehouse = RedshiftWarehouse(config)
    warehouse.assume_role = lambda arn, region: ROLE_KEYS
    kwargs = warehouse._connect_kwargs(config["host"], 30)
    assert (kwargs["cluster_identifier"], kwargs["region"]) == ("prod-dwh", "us-east-2")


def _client_error(code: str, message: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, "AssumeRole")


def _aws_cases() -> list[Any]:
    from botocore import exceptions as boto

    denied = "User: arn:aws:iam::999:user/wsync is not authorized to perform: sts:AssumeRole"
    return [
        pytest.param(
            _client_error("AccessDenied", denied), "AWS refused access", True, "aws_iam_role_arn", id="denied"
        ),
        pytest.param(
            _client_error("Throttling", "Rate exceeded"), "AWS is busy right now", False, None, id="throttled"
        ),
        pytest.param(
            _client_error("ValidationError", "1 validation error detected"),
            "AWS did not accept the role ARN",
            True,
            "aws_iam_role_arn",
            id="bad-arn",
        ),
        pytest.param(
            _client_error("InvalidClientTokenId", "The security token included in the request is invalid"),
            "AWS did not accept wsync's own AWS credentials",
            True,
            None,
            id="wsync-keys",
        ),
        pytest.param(
            _client_error("RegionDisabledException", "STS is not activated in this region"),
            "AWS sign-in (STS) is turned off for this region",
            True,
            "region",
            id="region-off",
        ),
        pytest.param(
            boto.EndpointConnectionError(endpoint_url="https://sts.eu-west-1.amazonaws.com"),
            "wsync could not reach AWS",
            False,
            None,
            id="network",
        ),
        pytest.param(
            boto.ReadTimeoutError(endpoint_url="https://sts.eu-west-1.amazonaws.com"),
            "wsync could not reach AWS",
            False,
            None,
            id="read-timeout",
        ),
        pytest.param(
            boto.NoCredentialsError(), "wsync has no AWS credentials", True, None, id="no-credentials"
        ),
        pytest.param(
            _client_error("SomethingNew", "raw AWS text"),
            "AWS sign-in failed for a reason",
            False,
            None,
            id="unknown",
        ),
    ]


@pytest.mark.parametrize(("error", "says", "permanent", "field"), _aws_cases())
def test_it_explains_aws_sign_in_errors_in_plain_words(
    error: Exception, says: str, permanent: bool, field: str | None
) -> None:
    warehouse = RedshiftWarehouse(iam_config())

    def refuse(arn: str, region: str | None) -> Any:
        raise error

    warehouse.assume_role = refuse
    result = warehouse.check()
    assert (result.ok, result.permanent, result.field) == (False, permanent, field)
    assert result.message.startswith(says)
    assert str(error) not in result.message  # never botocore's own text


def test_it_maps_get_cluster_credentials_errors_too() -> None:
    from feeds.warehouses.redshift import aws_error

    error = aws_error(_client_error("ClusterNotFound", "Cluster analytics not found."))
    assert (error.permanent, error.field) == (True, "cluster_identifier")
    assert error.message.startswith("AWS has no Redshift cluster with this identifier")
