"""BigQuery provider against bqemulator through the real google-cloud-bigquery client.

The provider authenticates for real: google-auth signs a JWT with the service-account key and
exchanges it at the stand-in's token endpoint, which checks the signature (see tests/standins).
"""

from __future__ import annotations

import concurrent.futures
import json
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from feeds.warehouses.base import FieldType, ReadWindow, WarehouseError
from feeds.warehouses.bigquery import BigQueryWarehouse, map_error
from tests.providers.memory import MemoryProbe
from tests.standins.bigquery import service_account_key

T0 = datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC)
T1 = datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
T2 = datetime(2024, 3, 1, 11, 0, 0, tzinfo=UTC)


def _field(name: str) -> Any:
    return next(f for f in BigQueryWarehouse.fields if f.name == name)


def _ids(pages: list[Any]) -> list[int]:
    return [row[pages[0].column_index("id")] for page in pages for row in page.rows]


def _python_size(rows: list[tuple[Any, ...]]) -> int:
    return sum(sys.getsizeof(row) + sum(sys.getsizeof(v) for v in row) for row in rows)


@pytest.fixture
def events(bigquery_sql: Any) -> None:
    """5 rows at T0, 35 rows (3.5 pages of 10) at T1, 5 rows at T2, as TIMESTAMP, DATETIME, ms and s."""
    bigquery_sql(
        "CREATE TABLE events AS SELECT id, at AS ts, DATETIME(at) AS dt, UNIX_MILLIS(at) AS ms, "
        "UNIX_SECONDS(at) AS s, DATE(at) AS day FROM UNNEST(GENERATE_ARRAY(0, 44)) AS id, "
        "UNNEST([CASE WHEN id < 5 THEN TIMESTAMP '2024-03-01 09:00:00+00' "
        "WHEN id < 40 THEN TIMESTAMP '2024-03-01 10:00:00.123456+00' "
        "ELSE TIMESTAMP '2024-03-01 11:00:00+00' END]) AS at"
    )


def test_it_checks_a_working_connection(bigquery_config: dict[str, Any]) -> None:
    result = BigQueryWarehouse(bigquery_config).check()
    assert result.ok, result.message


def test_it_reports_a_key_google_does_not_know_as_permanent(
    bigquery_config: dict[str, Any], bigquery_standin: Any
) -> None:
    # Same account, but a key whose public half Google never registered: the signature fails.
    stranger, _ = service_account_key(bigquery_config["service_account_id"], bigquery_standin.token_uri)
    result = BigQueryWarehouse({**bigquery_config, "service_account_key": stranger}).check()
    assert not result.ok
    assert result.message.startswith("Google refused the service account key")
    assert result.permanent is True
    assert result.field == "service_account_key"


def test_it_maps_a_missing_dataset_to_a_friendly_message(bigquery_config: dict[str, Any]) -> None:
    result = BigQueryWarehouse({**bigquery_config, "dataset_id": "no_such_dataset"}).check()
    assert not result.ok
    assert result.message == "The dataset was not found in this project: check the dataset ID and region."
    assert (result.permanent, result.field) == (True, "dataset_id")


def test_it_validates_the_key_against_the_account_id(bigquery_config: dict[str, Any]) -> None:
    assert BigQueryWarehouse.validate_config(bigquery_config) == {}
    other = {**bigquery_config, "service_account_id": "someone@wsync-test.iam.gserviceaccount.com"}
    message = BigQueryWarehouse.validate_config(other)["service_account_id"]
    assert message.startswith("Your service account ID must match the source account key")
    not_json = BigQueryWarehouse.validate_config({**bigquery_config, "service_account_key": "{oops"})
    assert "upload the .json key file" in not_json["service_account_key"]
    user_key = json.dumps({"type": "authorized_user", "client_id": "x"})
    wrong_type = BigQueryWarehouse.validate_config({**bigquery_config, "service_account_key": user_key})
    assert "not a service account key" in wrong_type["service_account_key"]
    broken = json.loads(bigquery_config["service_account_key"]) | {
        "private_key": "-----BEGIN PRIVATE KEY-----"
    }
    damaged = BigQueryWarehouse.validate_config(
        {**bigquery_config, "service_account_key": json.dumps(broken)}
    )
    assert "private_key is damaged" in damaged["service_account_key"]


def test_it_names_the_field_in_validation_messages() -> None:
    _field("project_id").validate("my-project-123")
    _field("service_account_id").validate("wsync-reader@my-project-123.iam.gserviceaccount.com")
    with pytest.raises(ValueError, match="^Project ID: use the project's ID"):
        _field("project_id").validate("My Project")
    with pytest.raises(ValueError, match="^Dataset ID: use letters"):
        _field("dataset_id").validate("marketing-exports")
    with pytest.raises(ValueError, match="^Service account ID: enter the service account's email"):
        _field("service_account_id").validate("me@gmail.com")
    with pytest.raises(ValueError, match="^Region: enter the dataset's location"):
        _field("region").validate("eu west")
    with pytest.raises(ValueError, match="^API endpoint: enter a full URL"):
        _field("api_endpoint").validate("bigquery.example.com")


def test_it_declares_its_form_and_iterator_types() -> None:
    assert [f.name for f in BigQueryWarehouse.fields] == [
        "project_id",
        "dataset_id",
        "region",
        "service_account_id",
        "service_account_key",
        "api_endpoint",
    ]
    assert {f.name for f in BigQueryWarehouse.fields if f.secret} == {"service_account_key"}
    assert BigQueryWarehouse.iterator_types == (
        "timestamp",
        "datetime",
        "date",
        "timestamp_unixtime_ms",
        "timestamp_unixtime_s",
    )
    assert BigQueryWarehouse.dialect == "bigquery"


def test_it_fills_prepare_steps_with_typed_names() -> None:
    config = {
        "project_id": "acme-data",
        "dataset_id": "crm",
        "service_account_id": "sync@acme-data.iam.gserviceaccount.com",
    }
    text = "\n".join(step.code for step in BigQueryWarehouse.prepare_steps(config))
    assert "gcloud iam service-accounts create sync --project=acme-data" in text
    assert (
        '--member="serviceAccount:sync@acme-data.iam.gserviceaccount.com" --role="roles/bigquery.jobUser"'
        in text
    )
    assert "ON SCHEMA `acme-data.crm`" in text
    assert "<dataset>" in "\n".join(step.code for step in BigQueryWarehouse.prepare_steps({}))


def test_it_refuses_a_loopback_host_when_private_hosts_are_not_allowed(
    bigquery_config: dict[str, Any], settings: Any
) -> None:
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = False
    result = BigQueryWarehouse(bigquery_config).check()
    assert not result.ok
    assert "private network address" in result.message
    assert result.field == "api_endpoint"


def test_it_describes_names_and_types_with_a_dry_run(
    bigquery_config: dict[str, Any], bigquery_sql: Any
) -> None:
    bigquery_sql(
        "CREATE TABLE people (id INT64, score NUMERIC, email STRING, seen TIMESTAMP, local_seen DATETIME, "
        "born DATE, vip BOOL, ratio FLOAT64, address STRUCT<city STRING, zip STRING>, tags ARRAY<STRING>, "
        "traits JSON)"
    )
    columns = BigQueryWarehouse(bigquery_config).describe("SELECT * FROM people")
    assert [(c.name, c.type) for c in columns] == [
        ("id", FieldType.INTEGER),
        ("score", FieldType.DECIMAL),
        ("email", FieldType.STRING),
        ("seen", FieldType.TIMESTAMP_TZ),
        ("local_seen", FieldType.TIMESTAMP),
        ("born", FieldType.DATE),
        ("vip", FieldType.BOOLEAN),
        ("ratio", FieldType.FLOAT),
        ("address", FieldType.JSON),
        ("tags", FieldType.ARRAY),
        ("traits", FieldType.JSON),
    ]
    assert columns[9].warehouse_type == "ARRAY<STRING>"


def test_it_maps_a_missing_table_to_a_friendly_error(bigquery_config: dict[str, Any]) -> None:
    with pytest.raises(WarehouseError) as caught:
        BigQueryWarehouse(bigquery_config).preview("SELECT * FROM no_such_table", 5)
    assert caught.value.message == "A table or view in the query was not found: check the query."
    assert (caught.value.permanent, caught.value.field) == (True, None)


def _api_error(kind: str, message: str) -> Exception:
    from google.api_core import exceptions

    return getattr(exceptions, kind)(message)


NO_GRANT = (
    "The service account lacks a permission: grant it BigQuery Job User on the project and BigQuery "
    "Data Viewer on the dataset."
)


# The client's own exceptions, with the messages BigQuery sends for each case.
@pytest.mark.parametrize(
    ("error", "message", "permanent", "field"),
    [
        pytest.param(
            lambda: _api_error(
                "Forbidden",
                "GET https://bigquery.googleapis.com/bigquery/v2/projects/p/datasets/d: Access Denied: "
                "Dataset p:d: Permission bigquery.datasets.get denied on dataset p:d (or it may not exist).",
            ),
            NO_GRANT,
            True,
            "service_account_id",
            id="403-missing-grant",
        ),
        pytest.param(
            lambda: _api_error(
                "Forbidden",
                "POST https://bigquery.googleapis.com/bigquery/v2/projects/p/jobs: Access Denied: Project p: "
                "User does not have bigquery.jobs.create permission in project p.",
            ),
            NO_GRANT,
            True,
            "service_account_id",
            id="403-no-job-user",
        ),
        pytest.param(
            lambda: _api_error("Forbidden", "Exceeded rate limits: too many table update operations"),
            "BigQuery is not answering right now. It will be retried.",
            False,
            None,
            id="403-rate-limit",
        ),
        pytest.param(
            lambda: _api_error(
                "Forbidden", "Quota exceeded: Your project exceeded quota for free query bytes"
            ),
            "The BigQuery quota is used up for now. It will be retried.",
            False,
            None,
            id="403-quota",
        ),
        pytest.param(
            concurrent.futures.TimeoutError,
            "BigQuery did not answer in time. It will be retried.",
            False,
            None,
            id="job-result-timeout",
        ),
        pytest.param(
            lambda: _api_error(
                "DeadlineExceeded", "Deadline of 30.0s exceeded while calling target function"
            ),
            "BigQuery is not answering right now. It will be retried.",
            False,
            None,
            id="deadline-exceeded",
        ),
        pytest.param(
            lambda: _api_error("NotFound", "Not found: Dataset p:marketing was not found in location EU"),
            "The dataset was not found in this project: check the dataset ID and region.",
            True,
            "dataset_id",
            id="404-dataset",
        ),
    ],
)
def test_it_maps_client_errors_to_plain_words(
    error: Any, message: str, permanent: bool, field: str | None
) -> None:
    mapped = map_error(error())
    assert (mapped.message, mapped.permanent, mapped.field) == (message, permanent, field)


def test_it_reads_time_and_interval_as_text(bigquery_config: dict[str, Any]) -> None:
    # BigQuery has no UUID type (GENERATE_UUID() is a STRING).
    sql = "SELECT TIME '13:45:30.123456' AS at, INTERVAL '1-2 3 4:5:6.5' YEAR TO SECOND AS span"
    warehouse = BigQueryWarehouse(bigquery_config)
    rows = [r for p in warehouse.read(sql, None, 10) for r in p.rows]
    assert rows == [("13:45:30.123456", "P1Y2M3DT4H5M6.5S")]
    assert [c.type for c in warehouse.describe(sql)] == [FieldType.STRING, FieldType.STRING]


def test_it_caps_preview_rows(bigquery_config: dict[str, Any], events: None) -> None:
    warehouse = BigQueryWarehouse(bigquery_config)
    preview = warehouse.preview("SELECT * FROM events ORDER BY id", 7)
    assert [row[0] for row in preview.rows] == list(range(7))
    assert preview.truncated is True
    whole = warehouse.preview("SELECT * FROM events WHERE id < 3", 7)
    assert (len(whole.rows), whole.truncated) == (3, False)


@pytest.mark.parametrize(
    ("iterator", "iterator_type", "lower", "upper"),
    [
        ("ts", "timestamp", T1, T1),
        # An aware bound against a DATETIME column compares as wall-clock time in UTC.
        ("dt", "datetime", T1.astimezone(timezone(timedelta(hours=-5))), T1),
        ("ms", "timestamp_unixtime_ms", int(T1.timestamp() * 1000), int(T1.timestamp() * 1000)),
        ("s", "timestamp_unixtime_s", int(T1.timestamp()), int(T1.timestamp())),
    ],
)
def test_it_reads_boundary_rows_across_pages_without_loss_or_duplicates(
    bigquery_config: dict[str, Any], events: None, iterator: str, iterator_type: str, lower: Any, upper: Any
) -> None:
    warehouse = BigQueryWarehouse(bigquery_config)
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


def test_it_reads_a_datetime_iterator_in_the_window_timezone(
    bigquery_config: dict[str, Any], events: None
) -> None:
    # The column holds wall clock 10:00:00.123456; in Paris (UTC+1 in March) that is 09:00 UTC.
    paris = datetime(2024, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
    window = ReadWindow("dt", "datetime", lower=paris, upper=paris, timezone="Europe/Paris")
    pages = list(BigQueryWarehouse(bigquery_config).read("SELECT * FROM events", window, 100))
    assert sorted(_ids(pages)) == list(range(5, 40))


def test_it_reads_a_date_iterator(bigquery_config: dict[str, Any], events: None) -> None:
    window = ReadWindow("day", "date", lower=date(2024, 3, 1), upper=date(2024, 3, 1))
    pages = list(BigQueryWarehouse(bigquery_config).read("SELECT * FROM events", window, 100))
    assert len(_ids(pages)) == 45


def test_it_keeps_types_intact_including_struct_array_and_json(
    bigquery_config: dict[str, Any], bigquery_sql: Any
) -> None:
    bigquery_sql(
        "CREATE TABLE typed AS SELECT 1 AS id, CAST('123456789012345.678' AS NUMERIC) AS amount, "
        "'Zoë 漢字 🚀' AS name, TIMESTAMP '2024-05-06 07:08:09.654321+00' AS ts, "
        "DATETIME '2024-05-06 07:08:09.654321' AS dt, DATE '2024-05-06' AS day, TRUE AS flag, 0.25 AS ratio, "
        "STRUCT('Paris' AS city, 75001 AS zip) AS address, ['a', 'b'] AS tags, "
        'JSON \'{"plan": "gold", "n": [1, 2]}\' AS traits'
    )
    bigquery_sql("INSERT INTO typed (id) VALUES (2)")
    (page,) = BigQueryWarehouse(bigquery_config).read("SELECT * FROM typed ORDER BY id", None, 10)
    first, nulls = page.rows
    assert first == (
        1,
        Decimal("123456789012345.678"),  # bqemulator's NUMERIC is DECIMAL(18,3)
        "Zoë 漢字 🚀",
        datetime(2024, 5, 6, 7, 8, 9, 654321, tzinfo=UTC),
        datetime(2024, 5, 6, 7, 8, 9, 654321),  # noqa: DTZ001 - DATETIME has no zone
        date(2024, 5, 6),
        True,
        0.25,
        {"city": "Paris", "zip": 75001},
        ["a", "b"],
        {"plan": "gold", "n": [1, 2]},
    )
    assert first[4].tzinfo is None
    # BigQuery has no NULL arrays: a missing ARRAY reads as [].
    assert nulls == (2, None, None, None, None, None, None, None, None, [], None)


def test_it_streams_200k_rows_in_pages_with_bounded_memory(
    bigquery_config: dict[str, Any], bigquery_sql: Any
) -> None:
    bigquery_sql(
        "CREATE TABLE big AS SELECT id, GENERATE_UUID() AS token, "
        "'padding padding padding padding padding' AS note FROM UNNEST(GENERATE_ARRAY(1, 200000)) AS id"
    )
    warehouse = BigQueryWarehouse(bigquery_config)
    probe, one_page, seen = MemoryProbe(), 0, bytearray(200_001)  # one byte per id: little memory
    # The client keeps each page's decoded JSON (and the first one) alive: about 3 pages' worth.
    for page in probe.watch(warehouse.read("SELECT * FROM big", None, page_size=2000)):
        one_page = one_page or _python_size(page.rows)
        for row in page.rows:
            seen[row[0]] += 1
    warehouse.close()
    assert probe.sizes == [2000] * 100 and seen.count(1) == 200_000
    whole_result = one_page * 100  # about 53 MB as Python rows
    assert probe.python_peak < whole_result / 4, (probe, whole_result)
    # RSS also holds what Python freed but kept, and the HTTP buffers: bounded all the same.
    assert probe.rss_growth < whole_result / 2, (probe, whole_result)


def test_it_refuses_a_model_that_writes(bigquery_config: dict[str, Any]) -> None:
    with pytest.raises(WarehouseError) as caught:
        BigQueryWarehouse(bigquery_config).preview("DROP TABLE events", 5)
    assert caught.value.field == "sql"


def test_it_explains_a_mistake_in_the_sql_in_bigquery_s_own_words(bigquery_config: dict[str, Any]) -> None:
    # The stand-in answers 400 "Query execution failed: Binder Error: Referenced column "nope" not found…"
    # (real BigQuery: "Unrecognized name: nope at [1:8]"); its sentence names the mistake.
    with pytest.raises(WarehouseError) as caught:
        BigQueryWarehouse(bigquery_config).preview("SELECT nope FROM (SELECT 1 AS a)", 5)
    assert caught.value.message.startswith("BigQuery could not run the query: ")
    assert "nope" in caught.value.message and "reason:" not in caught.value.message
    assert (caught.value.permanent, caught.value.field) == (True, "sql")
