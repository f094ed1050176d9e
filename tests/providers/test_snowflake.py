"""Snowflake provider against fakesnow's server through the real connector (see tests/standins)."""

from __future__ import annotations

import json
import sys
import urllib.request
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from feeds.warehouses.base import Column, FieldType, ReadWindow, WarehouseError, check_setting, with_default
from feeds.warehouses.snowflake import SnowflakeWarehouse, map_error
from tests.providers.memory import MemoryProbe

T0 = datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC)
T1 = datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
T2 = datetime(2024, 3, 1, 11, 0, 0, tzinfo=UTC)


def _field(name: str) -> Any:
    return next(f for f in SnowflakeWarehouse.fields if f.name == name)


def _pem(encrypted_with: str | None = None) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption: Any = serialization.NoEncryption()
    if encrypted_with:
        encryption = serialization.BestAvailableEncryption(encrypted_with.encode())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return pem.decode()


def _ids(pages: list[Any]) -> list[int]:
    return [row[pages[0].column_index("ID")] for page in pages for row in page.rows]


def _python_size(rows: list[tuple[Any, ...]]) -> int:
    return sum(sys.getsizeof(row) + sum(sys.getsizeof(v) for v in row) for row in rows)


DAYS = (date(2024, 2, 29), date(2024, 3, 1), date(2024, 3, 2))


@pytest.fixture
def events(snowflake_sql: Any) -> None:
    """5 rows at T0, 35 rows (3.5 pages of 10) at T1, 5 rows at T2: as NTZ (UTC wall clock), TZ,
    LTZ, epoch milliseconds and seconds, and a DATE that is one day per group."""
    snowflake_sql(
        "CREATE TABLE events (id INT, ntz TIMESTAMP_NTZ, tz TIMESTAMP_TZ, ms NUMBER(18,0), "
        "ltz TIMESTAMP_LTZ, s NUMBER(18,0), day DATE)"
    )
    rows = []
    for i in range(45):
        group = 0 if i < 5 else 1 if i < 40 else 2
        at = (T0, T1, T2)[group]
        stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")
        ms, s = int(at.timestamp() * 1000), int(at.timestamp())
        rows.append(
            f"({i}, '{stamp}'::TIMESTAMP_NTZ, '{stamp} +00:00'::TIMESTAMP_TZ, {ms}, "
            f"'{stamp} +00:00'::TIMESTAMP_LTZ, {s}, '{DAYS[group].isoformat()}'::DATE)"
        )
    snowflake_sql("INSERT INTO events VALUES " + ", ".join(rows))


def test_it_checks_a_working_connection(snowflake_config: dict[str, Any]) -> None:
    result = SnowflakeWarehouse(snowflake_config).check()
    assert result.ok, result.message


def test_it_reports_a_wrong_password_as_permanent(snowflake_config: dict[str, Any]) -> None:
    result = SnowflakeWarehouse({**snowflake_config, "password": "not-the-password"}).check()
    assert not result.ok
    assert result.message == "Snowflake refused the user name or password. Check both and try again."
    assert result.permanent is True
    assert result.field == "password"


def test_it_connects_with_an_encrypted_key_pair(
    snowflake_config: dict[str, Any], snowflake_standin: Any
) -> None:
    config = {
        **snowflake_config,
        "password": "",
        "private_key": snowflake_standin.private_key_pem,
        "private_key_passphrase": snowflake_standin.passphrase,
    }
    assert SnowflakeWarehouse.validate_config(config) == {}
    warehouse = SnowflakeWarehouse(config)
    assert warehouse.check().ok
    # The stand-in verified the connector's JWT against the user's public key; now a query.
    assert warehouse.preview("SELECT 42 AS answer", 5).rows == [(42,)]
    warehouse.close()


def test_it_reports_a_key_the_user_does_not_have_as_permanent(snowflake_config: dict[str, Any]) -> None:
    config = {**snowflake_config, "password": "", "private_key": _pem()}
    result = SnowflakeWarehouse(config).check()
    assert not result.ok
    assert "refused the private key" in result.message
    assert result.permanent is True
    assert result.field == "private_key"


def test_it_refuses_a_bad_pem_or_wrong_passphrase_at_validation(snowflake_config: dict[str, Any]) -> None:
    base = {**snowflake_config, "password": ""}
    garbled = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"
    assert (
        "paste the whole PEM"
        in SnowflakeWarehouse.validate_config({**base, "private_key": garbled})["private_key"]
    )
    encrypted = _pem(encrypted_with="right")
    wrong = SnowflakeWarehouse.validate_config(
        {**base, "private_key": encrypted, "private_key_passphrase": "x"}
    )
    assert wrong == {"private_key_passphrase": "The private key passphrase is wrong: check it and try again."}
    missing = SnowflakeWarehouse.validate_config({**base, "private_key": encrypted})
    assert "enter its passphrase" in missing["private_key_passphrase"]
    with pytest.raises(ValueError, match="paste the whole PEM"):
        _field("private_key").validate("just some text")


def test_it_asks_for_exactly_one_of_password_and_private_key(snowflake_config: dict[str, Any]) -> None:
    neither = SnowflakeWarehouse.validate_config({**snowflake_config, "password": ""})
    assert neither == {"password": "Enter a password or a private key (exactly one of them)."}
    both = SnowflakeWarehouse.validate_config({**snowflake_config, "private_key": _pem()})
    assert "exactly one" in both["private_key"]


def test_it_names_the_field_in_validation_messages() -> None:
    for good in ("xy12345", "xy12345.eu-west-1", "xy12345.eu-west-1.aws", "myorg-myaccount"):
        _field("account_identifier").validate(good)
    with pytest.raises(ValueError, match="without https://"):
        _field("account_identifier").validate("https://xy12345.snowflakecomputing.com")
    with pytest.raises(ValueError, match="^Account identifier: use your account locator"):
        _field("account_identifier").validate("my account!")
    with pytest.raises(ValueError, match="^Warehouse: use letters"):
        _field("warehouse").validate("my warehouse")
    with pytest.raises(ValueError, match="^Port: enter a number"):
        _field("port").validate("99999")
    with pytest.raises(ValueError, match="^Protocol: enter https"):
        _field("protocol").validate("ftp")


# mParticle's v2 connection `config` for Snowflake, as its API reference shows it, without the settings of
# mParticle's own S3 unload (storage_integration, aws_*), which the API handles: no `environment` in it.
MPARTICLE_V2_CONFIG = {
    "account_identifier": "xy12345.eu-west-1.aws",
    "region": "eu-west-1",
    "warehouse": "WSYNC_WH",
    "database": "ANALYTICS",
    "role": "WSYNC_READER",
    "user": "WSYNC_USER",
    "password": "a-long-password",
}


def test_it_accepts_mparticle_s_v2_connection_without_an_environment() -> None:
    # Each setting is read the way the wizard's form and the API read it (issue 21: "Environment is required").
    for spec in SnowflakeWarehouse.fields:
        check_setting(spec, with_default(spec, MPARTICLE_V2_CONFIG.get(spec.name)))
    assert SnowflakeWarehouse.validate_config(MPARTICLE_V2_CONFIG) == {}
    environment = _field("environment")
    assert environment.required is False and environment.secret is False  # kept and shown when given
    check_setting(environment, "dev")


def test_it_declares_its_form_and_iterator_types() -> None:
    names = [f.name for f in SnowflakeWarehouse.fields]
    assert "name" not in names
    assert _field("environment").choices == (("prod", "Production"), ("dev", "Development"))
    assert {f.name for f in SnowflakeWarehouse.fields if f.secret} == {
        "password",
        "private_key",
        "private_key_passphrase",
    }
    assert SnowflakeWarehouse.dialect == "snowflake"
    assert "timestamp_unixtime_ms" in SnowflakeWarehouse.iterator_types


def test_it_fills_prepare_steps_with_typed_names() -> None:
    config = {"user": "SYNC_BOT", "role": "SYNC_READ", "warehouse": "SMALL_WH", "database": "MARKETING"}
    text = "\n".join(step.code for step in SnowflakeWarehouse.prepare_steps(config))
    assert "GRANT USAGE ON WAREHOUSE SMALL_WH TO ROLE SYNC_READ;" in text
    assert "GRANT SELECT ON ALL TABLES IN DATABASE MARKETING TO ROLE SYNC_READ;" in text
    assert "GRANT ROLE SYNC_READ TO USER SYNC_BOT;" in text
    assert "<database>" in "\n".join(step.code for step in SnowflakeWarehouse.prepare_steps({}))


def test_it_refuses_a_loopback_host_when_private_hosts_are_not_allowed(
    snowflake_config: dict[str, Any], settings: Any
) -> None:
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = False
    result = SnowflakeWarehouse({**snowflake_config, "host": "localhost"}).check()
    assert not result.ok
    assert "private network address" in result.message
    assert result.field == "host"


def test_it_describes_names_and_types(snowflake_config: dict[str, Any], snowflake_sql: Any) -> None:
    snowflake_sql(
        "CREATE TABLE people (id INT, score NUMBER(10,2), email VARCHAR, seen TIMESTAMP_TZ, "
        "local_seen TIMESTAMP_NTZ, born DATE, vip BOOLEAN, ratio FLOAT, traits VARIANT)"
    )
    columns = SnowflakeWarehouse(snowflake_config).describe("SELECT * FROM people")
    assert [(c.name, c.type) for c in columns] == [
        ("ID", FieldType.INTEGER),
        ("SCORE", FieldType.DECIMAL),
        ("EMAIL", FieldType.STRING),
        ("SEEN", FieldType.TIMESTAMP_TZ),
        ("LOCAL_SEEN", FieldType.TIMESTAMP),
        ("BORN", FieldType.DATE),
        ("VIP", FieldType.BOOLEAN),
        ("RATIO", FieldType.FLOAT),
        ("TRAITS", FieldType.JSON),
    ]
    assert columns[1].warehouse_type == "NUMBER(10,2)"


def test_it_maps_a_missing_table_to_a_friendly_error(snowflake_config: dict[str, Any]) -> None:
    with pytest.raises(WarehouseError) as caught:
        SnowflakeWarehouse(snowflake_config).describe("SELECT * FROM no_such_table")
    assert (
        caught.value.message == "A table or view in the query does not exist, or this role may not read it."
    )
    assert caught.value.permanent is True


def test_it_caps_preview_rows(snowflake_config: dict[str, Any], events: None) -> None:
    preview = SnowflakeWarehouse(snowflake_config).preview("SELECT * FROM events ORDER BY id", 7)
    assert len(preview.rows) == 7
    assert preview.truncated is True
    whole = SnowflakeWarehouse(snowflake_config).preview("SELECT * FROM events WHERE id < 3", 7)
    assert (len(whole.rows), whole.truncated) == (3, False)


@pytest.mark.parametrize(
    ("iterator", "iterator_type", "lower", "upper"),
    [
        ("TZ", "timestamp_tz", T1, T1),
        # An aware bound against a zone-less column compares as wall-clock time in UTC.
        ("NTZ", "timestamp_ntz", T1.astimezone(timezone(timedelta(hours=-5))), T1),
        ("MS", "timestamp_unixtime_ms", int(T1.timestamp() * 1000), int(T1.timestamp() * 1000)),
        ("LTZ", "timestamp_ltz", T1, T1),
        ("DAY", "date", DAYS[1], DAYS[1]),
        ("S", "timestamp_unixtime_s", int(T1.timestamp()), int(T1.timestamp())),
    ],
)
def test_it_reads_boundary_rows_across_pages_without_loss_or_duplicates(
    snowflake_config: dict[str, Any], events: None, iterator: str, iterator_type: str, lower: Any, upper: Any
) -> None:
    warehouse = SnowflakeWarehouse(snowflake_config)
    window = ReadWindow(iterator, iterator_type, lower=lower, upper=upper)
    pages = list(warehouse.read("SELECT * FROM events", window, page_size=10))
    assert [len(p.rows) for p in pages] == [10, 10, 10, 5]
    assert sorted(_ids(pages)) == list(range(5, 40))
    before = list(
        warehouse.read("SELECT * FROM events", ReadWindow(iterator, iterator_type, upper=upper), 10)
    )
    after = list(warehouse.read("SELECT * FROM events", ReadWindow(iterator, iterator_type, lower=lower), 10))
    assert sorted(_ids(before)) == list(range(40))
    assert sorted(_ids(after)) == list(range(5, 45))
    warehouse.close()


def test_it_reads_a_naive_iterator_in_the_window_timezone(
    snowflake_config: dict[str, Any], events: None
) -> None:
    # The column holds wall clock 10:00:00.123456; in Paris (UTC+1 in March) that is 09:00 UTC.
    paris = datetime(2024, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
    window = ReadWindow("NTZ", "datetime", lower=paris, upper=paris, timezone="Europe/Paris")
    pages = list(SnowflakeWarehouse(snowflake_config).read("SELECT * FROM events", window, 100))
    assert sorted(_ids(pages)) == list(range(5, 40))


def test_it_keeps_types_intact(snowflake_config: dict[str, Any], snowflake_sql: Any) -> None:
    snowflake_sql(
        "CREATE TABLE typed (id INT, amount NUMBER(38,9), name VARCHAR, tz TIMESTAMP_TZ, "
        "ntz TIMESTAMP_NTZ, day DATE, flag BOOLEAN, ratio FLOAT, traits VARIANT, tags ARRAY, extra OBJECT, "
        "ltz TIMESTAMP_LTZ)"
    )
    snowflake_sql(
        "INSERT INTO typed SELECT 1, 12345678901234567890.123456789, 'Zoë 漢字 🚀', "
        "'2024-05-06 07:08:09.654321 +05:30'::TIMESTAMP_TZ, '2024-05-06 07:08:09.654321'::TIMESTAMP_NTZ, "
        '\'2024-05-06\'::DATE, TRUE, 0.25, PARSE_JSON(\'{"plan": "gold", "n": [1, 2]}\'), '
        "ARRAY_CONSTRUCT('a', 'b'), OBJECT_CONSTRUCT('k', 'v'), "
        "'2024-05-06 07:08:09.654321 -07:00'::TIMESTAMP_LTZ"
    )
    snowflake_sql("INSERT INTO typed (id) VALUES (2)")
    warehouse = SnowflakeWarehouse(snowflake_config)
    columns = {c.name: (c.type, c.warehouse_type) for c in warehouse.describe("SELECT * FROM typed")}
    assert columns["TZ"] == (FieldType.TIMESTAMP_TZ, "TIMESTAMP_TZ")
    # fakesnow describes TIMESTAMP_LTZ as TIMESTAMP_TZ; real Snowflake's type code is checked below.
    assert columns["LTZ"][0] == FieldType.TIMESTAMP_TZ
    (page,) = warehouse.read("SELECT * FROM typed ORDER BY id", None, 10)
    first, nulls = page.rows
    assert first == (
        1,
        Decimal("12345678901234567890.123456789"),
        "Zoë 漢字 🚀",
        # 07:08:09.654321 at +05:30 is 01:38:09.654321 UTC: the instant survives to the microsecond.
        datetime(2024, 5, 6, 7, 8, 9, 654321, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2024, 5, 6, 7, 8, 9, 654321),  # noqa: DTZ001 - TIMESTAMP_NTZ has no zone
        date(2024, 5, 6),
        True,
        0.25,
        {"plan": "gold", "n": [1, 2]},
        ["a", "b"],
        {"k": "v"},
        datetime(2024, 5, 6, 14, 8, 9, 654321, tzinfo=UTC),
    )
    assert first[3].utcoffset() is not None and first[11].utcoffset() is not None  # both aware
    assert first[4].tzinfo is None
    assert isinstance(first[0], int) and isinstance(first[1], Decimal)
    assert nulls == (2,) + (None,) * 11
    assert warehouse.preview("SELECT * FROM typed ORDER BY id", 5).rows == page.rows
    warehouse.close()


def test_it_describes_timestamp_ltz_as_a_zoned_timestamp() -> None:
    from snowflake.connector.constants import FIELD_NAME_TO_ID
    from snowflake.connector.cursor import ResultMetadata

    from feeds.warehouses.snowflake import _column

    for name in ("TIMESTAMP_LTZ", "TIMESTAMP_TZ", "TIMESTAMP_NTZ"):
        meta = ResultMetadata("SEEN", FIELD_NAME_TO_ID[name], None, None, 0, 9, True)
        expected = FieldType.TIMESTAMP if name == "TIMESTAMP_NTZ" else FieldType.TIMESTAMP_TZ
        assert _column(meta) == Column("SEEN", expected, name, True)


def test_it_reads_time_as_text(snowflake_config: dict[str, Any], snowflake_sql: Any) -> None:
    # Snowflake has no UUID or INTERVAL column type (UUID_STRING() is VARCHAR); TIME is the odd one.
    snowflake_sql("CREATE TABLE clock (id INT, seen_at TIME)")
    snowflake_sql("INSERT INTO clock VALUES (1, '13:45:30.123456'::TIME), (2, NULL)")
    warehouse = SnowflakeWarehouse(snowflake_config)
    assert [c.type for c in warehouse.describe("SELECT * FROM clock")] == [
        FieldType.INTEGER,
        FieldType.STRING,
    ]
    rows = [r for p in warehouse.read("SELECT * FROM clock ORDER BY id", None, 10) for r in p.rows]
    assert rows == [(1, "13:45:30.123456"), (2, None)]
    warehouse.close()


def test_it_streams_200k_rows_in_pages_with_bounded_memory(
    snowflake_config: dict[str, Any], snowflake_sql: Any, snowflake_standin: Any
) -> None:
    snowflake_sql(
        "CREATE TABLE big AS SELECT SEQ4() AS id, UUID_STRING() AS token, "
        "'padding padding padding padding padding' AS note FROM TABLE(GENERATOR(ROWCOUNT => 200000))"
    )
    served_url = f"http://127.0.0.1:{snowflake_standin.port}/wsync-served"
    served_before = json.load(urllib.request.urlopen(served_url))["chunks"]
    warehouse = SnowflakeWarehouse(snowflake_config)
    probe, one_page, ids = MemoryProbe(), 0, 0
    for page in probe.watch(warehouse.read("SELECT * FROM big", None, page_size=5000)):
        one_page = one_page or _python_size(page.rows)
        ids += len({row[0] for row in page.rows})
    warehouse.close()
    assert probe.sizes == [5000] * 40 and ids == 200_000
    whole_result = one_page * 40  # about 70 MB as Python rows
    assert probe.python_peak < whole_result / 4, (probe, whole_result)
    # The connector's Arrow chunks live outside tracemalloc and outside pyarrow's pool (it builds
    # them with nanoarrow), so the process's resident memory bounds them: about 12 MB here.
    assert probe.rss_growth < whole_result / 2, (probe, whole_result)
    # The stand-in served the result as remote chunks that the connector fetched as it went.
    assert json.load(urllib.request.urlopen(served_url))["chunks"] - served_before >= 19


def _sf_error(kind: str, msg: str, errno: int, sqlstate: str) -> Exception:
    from snowflake.connector import errors

    return getattr(errors, kind)(msg=msg, errno=errno, sqlstate=sqlstate)


NOT_KNOWN = "Snowflake does not know this account: check the account identifier (and region)."
NO_WAREHOUSE = "The warehouse does not exist or this role may not use it: check its name and USAGE grant."
NO_DATABASE = "The database does not exist or this role cannot see it: check its name and USAGE grant."
NO_ROLE = "The role does not exist or is not granted to this user."
TOO_SLOW = "The query took too long and was stopped. Try a smaller query."


# The connector's own messages for each case (what it raises against real Snowflake).
@pytest.mark.parametrize(
    ("kind", "errno", "sqlstate", "text", "message", "permanent", "field"),
    [
        pytest.param(
            "ForbiddenError",
            250001,
            "08001",
            "Failed to connect to DB. Verify the account name is correct: nosuch.snowflakecomputing.com:443. "
            "000403: HTTP 403: Forbidden",
            NOT_KNOWN,
            True,
            "account_identifier",
            id="unknown-account",
        ),
        pytest.param(
            "ServiceUnavailableError",
            250001,
            "08001",
            "Failed to connect to DB. Service is unavailable: xy12345.snowflakecomputing.com:443. "
            "HTTP 503: Service Unavailable",
            "Snowflake is unavailable right now. It will be retried.",
            False,
            None,
            id="service-unavailable",
        ),
        pytest.param(
            "OperationalError",
            250001,
            "08001",
            "Could not connect to Snowflake backend after 2 attempt(s).Aborting",
            "Could not reach Snowflake: check the account identifier. It will be retried.",
            False,
            "account_identifier",
            id="unreachable",
        ),
        pytest.param(
            "DatabaseError",
            390201,
            "08004",
            "The requested warehouse does not exist or not authorized.",
            NO_WAREHOUSE,
            True,
            "warehouse",
            id="login-no-warehouse",
        ),
        pytest.param(
            "ProgrammingError",
            606,
            "57P03",
            "No active warehouse selected in the current session.  Select an active warehouse with the "
            "'use warehouse' command.",
            NO_WAREHOUSE,
            True,
            "warehouse",
            id="query-no-warehouse",
        ),
        pytest.param(
            "DatabaseError",
            390201,
            "08004",
            "The requested database does not exist or not authorized.",
            NO_DATABASE,
            True,
            "database",
            id="login-no-database",
        ),
        pytest.param(
            "ProgrammingError",
            2003,
            "02000",
            "SQL compilation error:\nDatabase 'ANALYTICS' does not exist or not authorized.",
            NO_DATABASE,
            True,
            "database",
            id="query-no-database",
        ),
        pytest.param(
            "ProgrammingError",
            2003,
            "42S02",
            "SQL compilation error:\nObject 'WAREHOUSE_EVENTS' does not exist or not authorized.",
            "A table or view in the query does not exist, or this role may not read it.",
            True,
            None,
            id="table-named-like-a-warehouse",
        ),
        pytest.param(
            "DatabaseError",
            390189,
            "08004",
            "Role 'READER' specified in the connect string does not exist or not authorized. Contact your "
            "local system administrator, or attempt to login with another role, e.g. PUBLIC.",
            NO_ROLE,
            True,
            "role",
            id="no-role",
        ),
        pytest.param(
            "ProgrammingError",
            604,
            "57014",
            "SQL execution was cancelled by the client due to a timeout. Error message received from the "
            "server: SQL execution canceled",
            TOO_SLOW,
            False,
            None,
            id="client-timeout",
        ),
        pytest.param(
            "ProgrammingError",
            630,
            "57014",
            "Statement reached its statement or warehouse timeout of 30 second(s) and was canceled.",
            TOO_SLOW,
            False,
            None,
            id="statement-timeout",
        ),
        pytest.param(
            "OperationalError",
            250003,
            "08001",
            "Failed to get the response. Hanging? method: post, url: https://x.snowflakecomputing.com",
            "Snowflake did not answer in time. It will be retried.",
            False,
            None,
            id="no-answer",
        ),
    ],
)
def test_it_maps_connector_errors_to_plain_words(
    kind: str, errno: int, sqlstate: str, text: str, message: str, permanent: bool, field: str | None
) -> None:
    error = map_error(_sf_error(kind, text, errno, sqlstate))
    assert (error.message, error.permanent, error.field) == (message, permanent, field)


@pytest.mark.parametrize(
    ("overrides", "message", "field"),
    [
        ({"account_identifier": "nosuchaccount"}, NOT_KNOWN, "account_identifier"),
        ({"warehouse": "NO_SUCH_WH"}, NO_WAREHOUSE, "warehouse"),
        ({"database": "NO_SUCH_DB"}, NO_DATABASE, "database"),
        ({"role": "NO_SUCH_ROLE"}, NO_ROLE, "role"),
    ],
)
def test_it_explains_a_login_refused_for_a_missing_object(
    snowflake_config: dict[str, Any], overrides: dict[str, str], message: str, field: str
) -> None:
    # The stand-in answers these logins as Snowflake does (HTTP 403; codes 390201 and 390189).
    result = SnowflakeWarehouse({**snowflake_config, **overrides}).check()
    assert (result.ok, result.message, result.permanent, result.field) == (False, message, True, field)


def test_it_stops_a_slow_preview(snowflake_config: dict[str, Any], settings: Any) -> None:
    settings.WSYNC_PREVIEW_TIMEOUT = 1
    warehouse = SnowflakeWarehouse(snowflake_config)
    with pytest.raises(WarehouseError) as caught:
        warehouse.preview("SELECT SYSTEM$WAIT(20) AS slow", 5)
    warehouse.close()
    # The connector's own cancellation, not the SqlWarehouse bound (which says "did not answer within").
    assert (caught.value.message, caught.value.permanent) == (TOO_SLOW, False)


def test_it_refuses_a_model_that_writes(snowflake_config: dict[str, Any]) -> None:
    with pytest.raises(WarehouseError) as caught:
        SnowflakeWarehouse(snowflake_config).preview("DELETE FROM events", 5)
    assert caught.value.field == "sql"
