"""Databricks (Delta Sharing) provider against the local sharing server, through the real delta-sharing client."""

from __future__ import annotations

import itertools
import json
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from feeds.warehouses.base import FieldType, ReadWindow, WarehouseError
from feeds.warehouses.databricks.provider import DatabricksWarehouse
from feeds.warehouses.databricks.tableref import SQL_EXPLANATION, parse_table_ref
from feeds.warehouses.databricks.window import file_may_match
from feeds.warehouses.registry import provider_class
from tests.standins.delta_sharing import DeltaSharingStandin
from tests.standins.delta_tables import BOUNDARY, BOUNDARY_FIRST_ID, BOUNDARY_LAST_ID, USERS_ROWS, updated_at

FIELDS = {f.name: f for f in DatabricksWarehouse.fields}


@pytest.fixture
def warehouse(delta_sharing: DeltaSharingStandin) -> DatabricksWarehouse:
    return DatabricksWarehouse(delta_sharing.config())


def ids_of(pages: Any, column: int = 0) -> list[int]:
    return [row[column] for page in pages for row in page.rows]


def expected_ids(predicate: Any) -> set[int]:
    return {i for i in range(1, USERS_ROWS + 1) if predicate(updated_at(i))}


# --- check -------------------------------------------------------------------------------------


def test_it_is_registered_under_databricks() -> None:
    assert provider_class("databricks") is DatabricksWarehouse
    assert DatabricksWarehouse.has_sql is False
    assert DatabricksWarehouse.dialect == "databricks"


def test_it_checks_the_connection(warehouse: DatabricksWarehouse) -> None:
    result = warehouse.check()
    assert result.ok, result.message
    assert "users" in result.message and "wsync_share" in result.message


def test_it_checks_with_endpoint_and_token_instead_of_a_profile(delta_sharing: DeltaSharingStandin) -> None:
    config = delta_sharing.config(
        profile_file="", endpoint=delta_sharing.endpoint, bearer_token=delta_sharing.token
    )
    assert DatabricksWarehouse(config).check().ok


@pytest.mark.parametrize("mode", ["profile_file", "bearer_token"])
def test_it_reports_a_wrong_token_as_permanent(delta_sharing: DeltaSharingStandin, mode: str) -> None:
    if mode == "profile_file":
        config = delta_sharing.config(profile_file=delta_sharing.profile_text(bearerToken="wrong-token"))
    else:
        config = delta_sharing.config(
            profile_file="", endpoint=delta_sharing.endpoint, bearer_token="wrong-token"
        )
    result = DatabricksWarehouse(config).check()
    assert not result.ok
    assert result.permanent is True
    assert result.field == mode
    assert "refused the bearer token" in result.message and "wrong-token" not in result.message


def test_it_reports_an_unknown_share(delta_sharing: DeltaSharingStandin) -> None:
    result = DatabricksWarehouse(delta_sharing.config(provider="no_such_share")).check()
    assert (result.ok, result.permanent, result.field) == (False, True, "provider")
    assert "“no_such_share”" in result.message and "not found" in result.message


def test_it_reports_an_unknown_schema(delta_sharing: DeltaSharingStandin) -> None:
    result = DatabricksWarehouse(delta_sharing.config(schema="no_such_schema")).check()
    assert (result.ok, result.permanent, result.field) == (False, True, "schema")


def test_it_reports_a_share_not_granted(delta_sharing: DeltaSharingStandin) -> None:
    result = DatabricksWarehouse(delta_sharing.config(provider="forbidden_share")).check()
    assert (result.ok, result.permanent, result.field) == (False, True, "provider")
    assert "GRANT SELECT ON SHARE forbidden_share" in result.message


def test_it_reports_an_unreachable_server_as_retryable(delta_sharing: DeltaSharingStandin) -> None:
    config = delta_sharing.config(
        profile_file=delta_sharing.profile_text(endpoint="http://127.0.0.1:9/sharing")
    )
    result = DatabricksWarehouse(config).check()
    assert (result.ok, result.permanent, result.field) == (False, False, "profile_file")
    assert "Could not reach the sharing server" in result.message


def test_it_refuses_an_expired_profile_without_connecting(delta_sharing: DeltaSharingStandin) -> None:
    profile = delta_sharing.profile_text(expirationTime="2020-01-01T00:00:00.0Z")
    result = DatabricksWarehouse(delta_sharing.config(profile_file=profile)).check()
    assert (result.ok, result.field) == (False, "profile_file")
    assert "expired on 2020-01-01" in result.message and "ROTATE TOKEN" in result.message


def test_it_refuses_a_host_resolving_to_loopback(delta_sharing: DeltaSharingStandin, settings: Any) -> None:
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = False
    endpoint = delta_sharing.endpoint.replace("http://127.0.0.1", "https://localhost")
    config = delta_sharing.config(profile_file="", endpoint=endpoint, bearer_token=delta_sharing.token)
    result = DatabricksWarehouse(config).check()
    assert (result.ok, result.permanent, result.field) == (False, True, "endpoint")
    assert "private network address" in result.message


# --- the data model ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT email, updated_at FROM other.sales.users",
            ("other", "sales", "users", ("email", "updated_at")),
        ),
        ("SELECT * FROM sales.users;", ("wsync_share", "sales", "users", None)),
        ("wsync_share.crm.users", ("wsync_share", "crm", "users", None)),
        ("users", ("wsync_share", "crm", "users", None)),
        ("select `first name` from users", ("wsync_share", "crm", "users", ("first name",))),
    ],
)
def test_it_reads_the_data_model_as_a_table_reference(sql: str, expected: tuple[Any, ...]) -> None:
    ref = parse_table_ref(sql, share="wsync_share", schema="crm")
    assert (ref.share, ref.schema, ref.table, ref.columns) == expected


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT * FROM users WHERE plan = 'pro'", "Remove WHERE"),
        ("SELECT * FROM users u JOIN orders o ON u.id = o.user_id", "Remove JOIN"),
        ("SELECT plan FROM users GROUP BY plan", "Remove GROUP BY"),
        ("SELECT * FROM users ORDER BY id", "Remove ORDER BY"),
        ("SELECT * FROM users LIMIT 5", "Remove LIMIT"),
        ("SELECT DISTINCT plan FROM users", "Remove DISTINCT"),
        ("SELECT upper(email) FROM users", "Remove the expression"),
        ("SELECT email AS mail FROM users", "Remove the rename"),
        ("SELECT id, ID FROM users", "only once"),
        ("WITH u AS (SELECT 1) SELECT * FROM u", "Remove WITH"),
        ("SELECT * FROM (SELECT * FROM users)", "not a subquery"),
        ("SELECT * FROM users VERSION AS OF 3", "table option"),
        ("DELETE FROM users", "one simple SELECT"),
        ("SELECT * FROM users; SELECT 1", "one simple SELECT"),
        ("", "Name the shared table"),
    ],
)
def test_it_refuses_sql_beyond_a_table_and_columns(sql: str, named: str) -> None:
    with pytest.raises(WarehouseError) as caught:
        parse_table_ref(sql, share="s", schema="c")
    assert named in caught.value.message
    assert "Delta Sharing has no SQL engine" in caught.value.message
    assert caught.value.field == "sql" and caught.value.permanent


def test_it_offers_the_no_sql_explanation_to_the_wizard() -> None:
    assert DatabricksWarehouse.data_model_help() == SQL_EXPLANATION
    assert "filters by the iterator column" in SQL_EXPLANATION


# --- describe / preview ------------------------------------------------------------------------


def test_it_describes_the_shared_table(warehouse: DatabricksWarehouse) -> None:
    columns = {c.name: (c.type, c.warehouse_type) for c in warehouse.describe("types")}
    assert columns == {
        "id": (FieldType.INTEGER, "BIGINT"),
        "name": (FieldType.STRING, "STRING"),
        "created_at": (FieldType.TIMESTAMP_TZ, "TIMESTAMP"),
        "birthday": (FieldType.DATE, "DATE"),
        "amount": (FieldType.DECIMAL, "DECIMAL(18,4)"),
        "big": (FieldType.DECIMAL, "DECIMAL(38,10)"),
        "ratio": (FieldType.FLOAT, "DOUBLE"),
        "visits": (FieldType.INTEGER, "INT"),
        "active": (FieldType.BOOLEAN, "BOOLEAN"),
        "tags": (FieldType.ARRAY, "ARRAY<STRING>"),
        "address": (FieldType.JSON, "STRUCT<city: STRING, zip: INT>"),
        "attributes": (FieldType.JSON, "MAP<STRING, STRING>"),
        "region": (FieldType.STRING, "STRING"),
    }


def test_it_describes_a_column_selection_in_its_order(warehouse: DatabricksWarehouse) -> None:
    columns = warehouse.describe("SELECT UPDATED_AT, email FROM users")
    assert [c.name for c in columns] == ["updated_at", "email"]  # names as the table spells them


def test_it_names_an_unknown_column(warehouse: DatabricksWarehouse) -> None:
    with pytest.raises(WarehouseError) as caught:
        warehouse.describe("SELECT nope FROM users")
    assert "no column “nope”" in caught.value.message and "updated_at" in caught.value.message


def test_it_reports_an_unknown_table(warehouse: DatabricksWarehouse) -> None:
    with pytest.raises(WarehouseError) as caught:
        warehouse.describe("no_such_table")
    assert caught.value.field == "sql" and "ADD TABLE" in caught.value.message


def test_it_refuses_timestamp_ntz_columns(warehouse: DatabricksWarehouse) -> None:
    with pytest.raises(WarehouseError) as caught:
        warehouse.describe("SELECT * FROM events_ntz")
    assert "“local_time”" in caught.value.message and "TIMESTAMP_NTZ" in caught.value.message
    assert "CAST(local_time AS TIMESTAMP)" in caught.value.message
    assert [c.name for c in warehouse.describe("SELECT id FROM events_ntz")] == ["id"]


def test_it_previews_with_a_row_cap(warehouse: DatabricksWarehouse) -> None:
    preview = warehouse.preview("SELECT id, email FROM users", 25)
    assert len(preview.rows) == 25 and preview.truncated
    assert [c.name for c in preview.columns] == ["id", "email"]
    small = warehouse.preview("types", 25)
    assert len(small.rows) == 3 and not small.truncated


# --- read --------------------------------------------------------------------------------------


def test_it_delivers_types_intact(warehouse: DatabricksWarehouse) -> None:
    pages = list(warehouse.read("types", None, 100))
    rows = {
        row[0]: dict(zip([c.name for c in pages[0].columns], row, strict=True))
        for p in pages
        for row in p.rows
    }
    first, second, third = rows[1], rows[2], rows[3]
    assert first["name"] == "Zoë Ñandú 東京 🚀"
    assert first["created_at"] == datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert first["created_at"].utcoffset() == timedelta(0)
    assert first["birthday"] == date(1990, 5, 17)
    assert first["amount"] == Decimal("12345678901234.5678")
    assert first["big"] == Decimal("1234567890123456789012345678.0123456789")
    assert (first["ratio"], first["visits"], first["active"]) == (0.25, 7, True)
    assert first["tags"] == ["vip", "ünï"]
    assert first["address"] == {"city": "Kraków", "zip": 30001}
    assert first["attributes"] == {"tier": "gold"}
    assert (first["region"], second["region"]) == ("eu", "us")  # partition values filled in
    assert second["name"] == "" and second["tags"] == [] and second["attributes"] is None
    assert {k for k, v in third.items() if v is None} == {
        "name",
        "created_at",
        "birthday",
        "amount",
        "big",
        "active",
        "tags",
    }
    assert isinstance(third["visits"], int)  # NULLs elsewhere in an integer column do not turn it into floats


def test_it_reads_a_window_ordered_by_a_zoned_timestamp(warehouse: DatabricksWarehouse) -> None:
    window = ReadWindow(
        "created_at",
        "timestamp",
        lower=datetime(2024, 1, 2, 4, 4, 5, 678901, tzinfo=UTC) - timedelta(hours=1),
    )
    rows = [r for p in warehouse.read("SELECT id, created_at FROM types", window, 10) for r in p.rows]
    assert rows == [(1, datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC))]


def test_it_loses_and_duplicates_nothing_across_windows_sharing_a_boundary_value(
    warehouse: DatabricksWarehouse,
) -> None:
    warehouse.sort_memory = "8MB"  # DuckDB sorts with little memory, spilling to disk
    lower, step = BOUNDARY - timedelta(seconds=700), timedelta(microseconds=1)
    first = ReadWindow("updated_at", "timestamp", lower=lower, upper=BOUNDARY)
    second = ReadWindow(
        "updated_at", "timestamp", lower=BOUNDARY + step, upper=BOUNDARY + timedelta(seconds=3500)
    )
    sql = "SELECT id, updated_at FROM users"
    pages_one, pages_two = list(warehouse.read(sql, first, 1000)), list(warehouse.read(sql, second, 1000))
    assert [len(p.rows) for p in pages_one][:-1] == [1000] * (len(pages_one) - 1)
    stamps = [r[1] for p in pages_one + pages_two for r in p.rows]
    assert stamps == sorted(stamps)
    ids_one, ids_two = ids_of(pages_one), ids_of(pages_two)
    assert (
        sum(1 for s in stamps if s == BOUNDARY) == BOUNDARY_LAST_ID - BOUNDARY_FIRST_ID + 1
    )  # 3 pages' worth
    assert len(ids_one) + len(ids_two) == len(set(ids_one) | set(ids_two))
    assert set(ids_one) == expected_ids(lambda t: lower <= t <= BOUNDARY)
    assert set(ids_two) == expected_ids(lambda t: BOUNDARY + step <= t <= BOUNDARY + timedelta(seconds=3500))


@pytest.mark.parametrize(
    ("column", "iterator_type", "lower", "upper", "as_value"),
    [
        ("updated_day", "date", date(2024, 3, 2), date(2024, 3, 2), lambda t: t.date()),
        (
            "updated_ms",
            "timestamp_unixtime_ms",
            1709337000000,
            1709337600000,
            lambda t: int(t.timestamp() * 1000),
        ),
        ("updated_s", "timestamp_unixtime_s", 1709337000, 1709337600, lambda t: int(t.timestamp())),
        ("id", "integer", 150_000, 150_499, None),
    ],
)
def test_it_filters_and_orders_by_each_iterator_type(
    warehouse: DatabricksWarehouse, column: str, iterator_type: str, lower: Any, upper: Any, as_value: Any
) -> None:
    window = ReadWindow(column, iterator_type, lower=lower, upper=upper)
    sql = f"SELECT id, {column} FROM users" if column != "id" else "SELECT id, email FROM users"
    pages = list(warehouse.read(sql, window, 5000))
    values = [r[1] if column != "id" else r[0] for p in pages for r in p.rows]
    assert values == sorted(values) and values
    if as_value is None:
        assert set(ids_of(pages)) == set(range(lower, upper + 1))
    else:
        assert set(ids_of(pages)) == expected_ids(lambda t: lower <= as_value(t) <= upper)


def test_it_requires_the_iterator_in_the_column_list(warehouse: DatabricksWarehouse) -> None:
    with pytest.raises(WarehouseError) as caught:
        list(warehouse.read("SELECT id FROM users", ReadWindow("updated_at", "timestamp"), 10))
    assert caught.value.field == "iterator" and "Add it to the column list" in caught.value.message


def test_it_refuses_an_iterator_of_the_wrong_type(warehouse: DatabricksWarehouse) -> None:
    with pytest.raises(WarehouseError) as caught:
        list(warehouse.read("users", ReadWindow("email", "timestamp"), 10))
    assert caught.value.field == "iterator" and "STRING" in caught.value.message


def test_it_skips_files_whose_statistics_miss_the_window() -> None:
    stats = json.dumps(
        {"minValues": {"t": "2024-01-01T00:00:00.000Z"}, "maxValues": {"t": "2024-01-01T01:02:03.456Z"}}
    )
    inside = ReadWindow("t", "timestamp", lower=datetime(2024, 1, 1, 1, 2, 3, 456789, tzinfo=UTC))
    after = ReadWindow("t", "timestamp", lower=datetime(2024, 1, 1, 1, 2, 3, 457001, tzinfo=UTC))
    before = ReadWindow("t", "timestamp", upper=datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert file_may_match(stats, "t", inside)  # statistics are truncated to milliseconds
    assert not file_may_match(stats, "t", after)
    assert not file_may_match(stats, "t", before)
    assert file_may_match("not json", "t", before) and file_may_match(stats, "other", before)


def test_it_reads_nothing_for_a_window_before_all_rows(warehouse: DatabricksWarehouse) -> None:
    window = ReadWindow("updated_at", "timestamp", upper=datetime(2000, 1, 1, tzinfo=UTC))
    assert list(warehouse.read("users", window, 100)) == []


@pytest.mark.parametrize("windowed", [False, True])
def test_it_streams_200k_rows_in_pages_with_bounded_memory(
    warehouse: DatabricksWarehouse, windowed: bool
) -> None:
    warehouse.sort_memory = "32MB"  # DuckDB's own memory, outside both measures below (bench/ measures RSS)
    window = ReadWindow("updated_at", "timestamp") if windowed else None
    seen = bytearray(USERS_ROWS + 1)  # one byte per id: the check itself must not hold much memory
    sizes, arrow_peak, previous = [], 0, None
    pages = warehouse.read("users", window, 2000)
    first = next(pages)  # the first page imports the HTTP and parquet modules; count from here
    tracemalloc.start()
    try:
        for page in itertools.chain([first], pages):
            sizes.append(len(page.rows))
            for row in page.rows:
                seen[row[0]] += 1
            if windowed:
                assert previous is None or previous <= page.rows[0][2]
                previous = page.rows[-1][2]
            arrow_peak = max(arrow_peak, pa.total_allocated_bytes())
            del page
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen.count(1) == USERS_ROWS and sum(sizes) == USERS_ROWS  # each id exactly once
    assert set(sizes[:-1]) == {2000}
    # The whole result is about 14 MB as Arrow and about 80 MB as Python rows; the stream holds a few
    # pages, one record batch per file or sorted run, and spills the rest to disk. (Arrow memory is
    # sampled between pages: tracemalloc does not see it.)
    assert python_peak < 16 * 1024 * 1024, python_peak
    assert arrow_peak < 8 * 1024 * 1024, arrow_peak


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("provider", "share.name", "exactly as Databricks shows it"),
        ("schema", "my schema", "without dots or spaces"),
        ("endpoint", "ftp://example.com/sharing", "https://"),
        ("bearer_token", "abc def", "no spaces"),
        ("profile_file", "not json", "upload the .share file"),
        ("profile_file", '{"shareCredentialsVersion": 1}', "“endpoint”"),
        ("profile_file", '{"shareCredentialsVersion": 1, "endpoint": "https://x.example"}', "bearer token"),
    ],
)
def test_it_validates_each_field_with_a_fix(field: str, value: str, says: str) -> None:
    validate = FIELDS[field].validate
    assert validate is not None
    with pytest.raises(ValueError, match=says):
        validate(value)


def test_it_labels_the_share_field_for_what_it_is_sent_as(delta_sharing: DeltaSharingStandin) -> None:
    # The config key stays "provider" (saved configs), but the value is the share's name.
    assert (FIELDS["provider"].label, FIELDS["schema"].label) == ("Share", "Schema")
    assert "provider name" in FIELDS["provider"].help_text
    result = DatabricksWarehouse(delta_sharing.config(provider="wsync_share")).check()
    assert result.ok and "Connected to share wsync_share" in result.message


def test_it_marks_the_credentials_secret() -> None:
    assert {f.name for f in DatabricksWarehouse.fields if f.secret} == {"profile_file", "bearer_token"}


def test_it_requires_https_unless_private_hosts_are_allowed(settings: Any) -> None:
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = False
    profile = json.dumps(
        {"shareCredentialsVersion": 1, "endpoint": "http://sharing.example.com", "bearerToken": "t"}
    )
    problems = DatabricksWarehouse.validate_config({"provider": "s", "schema": "c", "profile_file": profile})
    assert "https://" in problems["profile_file"]
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = True
    assert (
        DatabricksWarehouse.validate_config({"provider": "s", "schema": "c", "profile_file": profile}) == {}
    )


@pytest.mark.parametrize(
    ("config", "field", "says"),
    [
        (
            {"profile_file": "{}", "endpoint": "https://x.example", "bearer_token": "t"},
            "profile_file",
            "not both",
        ),
        ({}, "profile_file", "Upload the .share activation profile"),
        ({"endpoint": "https://x.example"}, "bearer_token", "Fill in the bearer token"),
        ({"bearer_token": "t"}, "endpoint", "Fill in the endpoint"),
        (
            {
                "profile_file": json.dumps(
                    {
                        "shareCredentialsVersion": 1,
                        "endpoint": "https://x.example",
                        "bearerToken": "t",
                        "expirationTime": "2021-11-12T00:12:29.0Z",
                    }
                )
            },
            "profile_file",
            "expired on 2021-11-12",
        ),
    ],
)
def test_it_validates_the_config_as_a_whole(config: dict[str, Any], field: str, says: str) -> None:
    problems = DatabricksWarehouse.validate_config({"provider": "s", "schema": "c", **config})
    assert says in problems[field]


def test_it_accepts_a_valid_profile_that_has_not_expired() -> None:
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    profile = json.dumps(
        {
            "shareCredentialsVersion": 1,
            "endpoint": "https://x.example",
            "bearerToken": "t",
            "expirationTime": later,
        }
    )
    assert (
        DatabricksWarehouse.validate_config({"provider": "s", "schema": "c", "profile_file": profile}) == {}
    )


def test_it_prepares_share_and_recipient_with_the_typed_names() -> None:
    steps = DatabricksWarehouse.prepare_steps({"provider": "marketing_share", "schema": "crm"})
    text = "\n".join(s.code + "\n" + s.note for s in steps)
    assert "CREATE SHARE IF NOT EXISTS marketing_share" in text
    assert "ALTER SHARE marketing_share\n  ADD TABLE <catalog>.crm.<table>" in text
    assert "CREATE RECIPIENT IF NOT EXISTS wsync_recipient" in text
    assert "GRANT SELECT ON SHARE marketing_share TO RECIPIENT wsync_recipient" in text
    assert "activation_link" in text and "DESCRIBE RECIPIENT wsync_recipient" in text
    placeholders = "\n".join(s.code for s in DatabricksWarehouse.prepare_steps({}))
    assert "CREATE SHARE IF NOT EXISTS <share>" in placeholders and "<schema>" in placeholders


def test_the_sort_gives_every_row_once_in_order_nulls_last_with_its_types() -> None:
    # What DuckDB's sort gives back (bench/databricks_sort.py measures its memory on a large table).
    import random

    from feeds.warehouses.databricks.sort import sorted_batches

    schema = pa.schema([("id", pa.int64()), ("at", pa.timestamp("us", tz="UTC")), ("pad", pa.string())])
    ids = list(range(60_000))
    random.Random(3).shuffle(ids)
    base = datetime(2024, 1, 1, tzinfo=UTC)

    def batches() -> Any:
        for start in range(0, len(ids), 10_000):
            part = ids[start : start + 10_000]
            stamps = [None if i % 1000 == 0 else base + timedelta(seconds=i // 3) for i in part]
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(part, pa.int64()),
                    pa.array(stamps, schema.field("at").type),
                    pa.array(["x" * 300] * len(part)),
                ],
                schema=schema,
            )

    out = list(sorted_batches(batches(), schema, "at", batch_rows=4096, memory_limit="64MB"))
    assert all(b.schema.equals(schema) for b in out)
    stamps = [s for b in out for s in b.column(1).to_pylist()]
    got = [i for b in out for i in b.column(0).to_pylist()]
    assert sorted(got) == sorted(ids)
    nulls = sum(1 for s in stamps if s is None)
    assert nulls == 60 and all(s is None for s in stamps[-nulls:])
    assert stamps[:-nulls] == sorted(stamps[:-nulls])
