"""Google BigQuery provider: the official client with a service-account key.

Reads page through the query's RowIterator (`page_size` rows per API call) without the Storage
Read API, so only one page is in memory; describe is a dry run (no bytes billed). Window bounds
are named query parameters with explicit BigQuery types.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from feeds.warehouses.arrowrows import iso_duration, plain_text
from feeds.warehouses.base import (
    Column,
    ConfigField,
    FieldType,
    IteratorKind,
    Page,
    PrepareStep,
    ReadWindow,
    WarehouseError,
    WirePage,
    wire_digests,
    wrap_model,
)
from feeds.warehouses.outbound import guard_host, mount_guard
from feeds.warehouses.sqlwarehouse import SqlWarehouse

logger = logging.getLogger(__name__)

SCOPES = ("https://www.googleapis.com/auth/bigquery",)
GOOGLE_HOSTS = ("googleapis.com",)  # Google's own token / API hosts need no private-host check
_PROJECT_RE = re.compile(r"^([a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_DATASET_RE = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
_EMAIL_RE = re.compile(r"^[a-z0-9-]+@[a-z0-9.-]+\.gserviceaccount\.com$")
_REGION_RE = re.compile(r"^[A-Za-z]+[A-Za-z0-9-]*$")

_TYPE_MAP: dict[str, FieldType] = {
    "INTEGER": FieldType.INTEGER,
    "INT64": FieldType.INTEGER,
    "FLOAT": FieldType.FLOAT,
    "FLOAT64": FieldType.FLOAT,
    "NUMERIC": FieldType.DECIMAL,
    "BIGNUMERIC": FieldType.DECIMAL,
    "BOOLEAN": FieldType.BOOLEAN,
    "BOOL": FieldType.BOOLEAN,
    "STRING": FieldType.STRING,
    "BYTES": FieldType.BINARY,
    "TIMESTAMP": FieldType.TIMESTAMP_TZ,
    "DATETIME": FieldType.TIMESTAMP,
    "DATE": FieldType.DATE,
    "RECORD": FieldType.JSON,
    "STRUCT": FieldType.JSON,
    "JSON": FieldType.JSON,
    "RANGE": FieldType.JSON,
}
_PARAM_TYPES = {IteratorKind.DATE: "DATE", IteratorKind.EPOCH_MS: "INT64", IteratorKind.EPOCH_S: "INT64"}


def _validate_project(value: Any) -> None:
    if not _PROJECT_RE.match(str(value or "").strip()):
        raise ValueError(
            "Project ID: use the project's ID (6–30 lowercase letters, digits and hyphens, like "
            "my-project-123), not its display name."
        )


def _validate_dataset(value: Any) -> None:
    if not _DATASET_RE.match(str(value or "").strip()):
        raise ValueError("Dataset ID: use letters, digits and underscores only (like marketing_exports).")


def _validate_account_id(value: Any) -> None:
    if not _EMAIL_RE.match(str(value or "").strip()):
        raise ValueError(
            "Service account ID: enter the service account's email, like "
            "wsync-reader@my-project.iam.gserviceaccount.com."
        )


def _validate_region(value: Any) -> None:
    if value and not _REGION_RE.match(str(value).strip()):
        raise ValueError("Region: enter the dataset's location, like US, EU or europe-west1.")


def _validate_endpoint(value: Any) -> None:
    if value and urlparse(str(value)).scheme not in {"http", "https"}:
        raise ValueError(
            "API endpoint: enter a full URL such as https://bigquery.googleapis.com, or leave it empty."
        )


def parse_key(text: str) -> dict[str, Any]:
    """Parse a service-account JSON key file; raises ValueError saying what to fix."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        info = json.loads(text)
    except (TypeError, ValueError):
        raise ValueError(
            "Service account key: upload the .json key file you downloaded from Google Cloud."
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError(
            "Service account key: this JSON file is not a service account key; create one in IAM."
        )
    try:
        load_pem_private_key(str(info.get("private_key", "")).encode(), password=None)
    except (TypeError, ValueError):
        raise ValueError(
            "Service account key: its private_key is damaged; download a new key file."
        ) from None
    if not info.get("client_email"):
        raise ValueError("Service account key: the file has no client_email; download a new key file.")
    return info


FIELDS: tuple[ConfigField, ...] = (
    ConfigField("project_id", "Project ID", placeholder="my-project-123", validate=_validate_project),
    ConfigField("dataset_id", "Dataset ID", placeholder="marketing_exports", validate=_validate_dataset),
    ConfigField(
        "region",
        "Region",
        required=False,
        placeholder="US",
        help_text="The dataset's location (US, EU, europe-west1, …).",
        validate=_validate_region,
    ),
    ConfigField(
        "service_account_id",
        "Service account ID",
        placeholder="wsync-reader@my-project.iam.gserviceaccount.com",
        validate=_validate_account_id,
    ),
    ConfigField(
        "service_account_key",
        "Service account key",
        kind="file",
        secret=True,
        help_text="The JSON key file of the service account.",
    ),
    ConfigField(
        "api_endpoint",
        "API endpoint (advanced)",
        required=False,
        help_text="Only for private endpoints; defaults to https://bigquery.googleapis.com.",
        validate=_validate_endpoint,
        binds_secrets=True,
    ),
)


def _error_table() -> list[tuple[type[BaseException], str, str, bool, str | None]]:
    """(exception type, fragment of its text, plain message, permanent, field); first match wins."""
    import concurrent.futures

    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    key_refused = (
        "Google refused the service account key: upload a current key file for this service account."
    )
    transient = "BigQuery is not answering right now. It will be retried."
    return [
        (auth.RefreshError, "invalid_grant", key_refused, True, "service_account_key"),
        (auth.RefreshError, "", key_refused, True, "service_account_key"),
        (api.Unauthorized, "", key_refused, True, "service_account_key"),
        (
            api.NotFound,
            "dataset",
            "The dataset was not found in this project: check the dataset ID and region.",
            True,
            "dataset_id",
        ),
        (api.NotFound, "project", "The project was not found: check the project ID.", True, "project_id"),
        (api.NotFound, "", "A table or view in the query was not found: check the query.", True, None),
        (api.Forbidden, "rate", transient, False, None),
        (api.Forbidden, "quota", "The BigQuery quota is used up for now. It will be retried.", False, None),
        (
            api.Forbidden,
            "",
            "The service account lacks a permission: grant it BigQuery Job User on the project "
            "and BigQuery Data Viewer on the dataset.",
            True,
            "service_account_id",
        ),
        (api.BadRequest, "", "BigQuery could not run the query: check the SQL.", True, "sql"),
        (api.TooManyRequests, "", transient, False, None),
        (api.ServerError, "", transient, False, None),
        (
            auth.TransportError,
            "",
            "Could not reach Google's sign-in service. It will be retried.",
            False,
            None,
        ),
        (
            concurrent.futures.TimeoutError,
            "",
            "BigQuery did not answer in time. It will be retried.",
            False,
            None,
        ),
        (TimeoutError, "", "BigQuery did not answer in time. It will be retried.", False, None),
        # The call's retries ran out of their time bound (a network that drops or never answers).
        (api.RetryError, "", "BigQuery did not answer in time. It will be retried.", False, None),
        (ConnectionError, "", transient, False, "api_endpoint"),
    ]


def map_error(exc: BaseException) -> WarehouseError:
    """Translate a google-cloud error into plain words; unknown errors are logged without secrets."""
    import requests  # type: ignore[import-untyped,unused-ignore]  # typed only where types-requests is installed

    if isinstance(exc, WarehouseError):
        return exc
    text = str(exc).lower()
    for kind, fragment, message, permanent, field in _error_table():
        if isinstance(exc, kind) and fragment in text:
            if kind.__name__ == "BadRequest" and (said := _server_words(exc)):
                # A mistake in the SQL: BigQuery's own sentence names it and where ("at [1:8]").
                message = f"BigQuery could not run the query: {said}"
            return WarehouseError(message, permanent=permanent, field=field)
    if isinstance(exc, requests.RequestException):
        return WarehouseError(
            "Could not reach BigQuery. It will be retried.", permanent=False, field="api_endpoint"
        )
    logger.warning("Unrecognised BigQuery error %s", type(exc).__name__)
    return WarehouseError("BigQuery returned an unexpected error. Try again later.", permanent=False)


def _server_words(exc: BaseException) -> str:
    """BigQuery's own message of an API error, without the status code and the reason/location tail."""
    said = str(getattr(exc, "message", "") or "").strip().splitlines()
    return said[0].split("; reason:")[0].strip()[:300] if said else ""


def _column(field: Any) -> Column:
    if field.mode == "REPEATED":
        return Column(field.name, FieldType.ARRAY, f"ARRAY<{field.field_type}>", True)
    ours = _TYPE_MAP.get(field.field_type, FieldType.STRING)
    return Column(field.name, ours, field.field_type, field.mode != "REQUIRED")


def _text(value: Any) -> Any:
    """TIME (datetime.time) and INTERVAL (dateutil's relativedelta) as text, like every STRING."""
    if type(value).__name__ == "relativedelta":
        seconds = value.hours * 3600 + value.minutes * 60 + value.seconds
        exact = Decimal(seconds) + Decimal(value.microseconds) / 10**6
        return iso_duration(value.years * 12 + value.months, value.days, exact)
    return plain_text(value)


def _plain(value: Any, column: Column) -> Any:
    # Older clients hand JSON columns over as text; decode so every path gets dict / list.
    if isinstance(value, str) and column.warehouse_type == "JSON":
        return json.loads(value)
    if column.type is FieldType.STRING and value is not None and not isinstance(value, str):
        return _text(value)
    return value


def _rows(rows: Any, columns: tuple[Column, ...]) -> list[tuple[Any, ...]]:
    return [tuple(_plain(v, c) for v, c in zip(row.values(), columns, strict=True)) for row in rows]


def _page(result: Any, page: Any, columns: tuple[Column, ...]) -> Page:
    """Keep a REST page's rows as the JSON cells sent (digested as received), converted only when asked.

    The client turns each cell into a Python value as the page is iterated (~24 µs a row for a users table);
    the cells' own repr costs ~3 µs and Arrow (`to_arrow`, which converts cell by cell too) ~27 µs.
    """
    raw = (page.raw_page or {}).get("rows")
    if raw is None or len(raw) != page.num_items:
        return Page(columns, _rows(page, columns))

    def decode(items: list[Any]) -> list[tuple[Any, ...]]:
        return _rows((result.item_to_value(result, item) for item in items), columns)

    return WirePage(columns, raw, decode, json_digests(raw))


def json_digests(rows: list[Any]) -> list[int]:
    """Return a 64-bit digest of each REST row ({"f": [{"v": ...}, ...]}) from its cells as sent.

    A cell is text, null, or (REPEATED / RECORD) a list or object of cells: its repr tells every two apart.
    """
    return wire_digests([repr([cell["v"] for cell in row["f"]]).encode() for row in rows])


def _parameter(name: str, value: Any, window: ReadWindow) -> Any:
    """Return a typed query parameter for a window bound; naive columns compare in window.timezone."""
    from google.cloud import bigquery

    kind = window.kind
    if kind is IteratorKind.TIMESTAMP and isinstance(value, datetime):
        zone = ZoneInfo(window.timezone)
        if window.iterator_type.lower() == "datetime":
            value = value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value
            return bigquery.ScalarQueryParameter(name, "DATETIME", value)
        value = value if value.tzinfo else value.replace(tzinfo=zone)
        return bigquery.ScalarQueryParameter(name, "TIMESTAMP", value)
    return bigquery.ScalarQueryParameter(name, _PARAM_TYPES.get(kind, "INT64"), value)


def _typed_parameter(name: str, value: Any) -> Any:
    """Return a query parameter for a timestamp-field bound (already typed for its column)."""
    from google.cloud import bigquery

    if isinstance(value, datetime):
        return bigquery.ScalarQueryParameter(name, "TIMESTAMP" if value.tzinfo else "DATETIME", value)
    return bigquery.ScalarQueryParameter(name, "DATE", value)


class BigQueryWarehouse(SqlWarehouse):
    kind: ClassVar[str] = "bigquery"
    dialect: ClassVar[str] = "bigquery"
    fields: ClassVar[tuple[ConfigField, ...]] = FIELDS
    iterator_types: ClassVar[tuple[str, ...]] = (
        "timestamp",
        "datetime",
        "date",
        "timestamp_unixtime_ms",
        "timestamp_unixtime_s",
    )
    has_sql: ClassVar[bool] = True

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._client: Any = None
        # The bound of an interactive call (check, describe, preview) while one runs; None for reads.
        self._seconds: float | None = None

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        try:
            info = parse_key(str(config.get("service_account_key") or ""))
        except ValueError as exc:
            return {"service_account_key": str(exc)}
        if info["client_email"] != str(config.get("service_account_id") or "").strip():
            return {
                "service_account_id": "Your service account ID must match the source account key "
                f"(the key belongs to {info['client_email']})."
            }
        return {}

    @classmethod
    def prepare_steps(cls, config: Mapping[str, Any]) -> list[PrepareStep]:
        project = config.get("project_id") or "<project>"
        dataset = config.get("dataset_id") or "<dataset>"
        account = config.get("service_account_id") or f"wsync-reader@{project}.iam.gserviceaccount.com"
        name = account.split("@")[0]
        create = f"""gcloud iam service-accounts create {name} --project={project} \\
  --display-name="wsync (read-only)"
gcloud projects add-iam-policy-binding {project} \\
  --member="serviceAccount:{account}" --role="roles/bigquery.jobUser"
gcloud iam service-accounts keys create wsync-key.json --iam-account={account}"""
        grant = f"""GRANT `roles/bigquery.dataViewer`
ON SCHEMA `{project}.{dataset}`
TO "serviceAccount:{account}";"""
        return [
            PrepareStep("Create the service account and its key (Cloud Shell)", create, language="shell"),
            PrepareStep(
                "Let it read the dataset (BigQuery console)",
                grant,
                note="Upload wsync-key.json in the form, then delete the file from your computer.",
            ),
        ]

    # --- connection -----------------------------------------------------------------

    def _credentials(self) -> Any:
        from google.oauth2 import service_account

        try:
            info = parse_key(str(self.config.get("service_account_key") or ""))
        except ValueError as exc:
            raise WarehouseError(str(exc), permanent=True, field="service_account_key") from None
        token_host = urlparse(str(info.get("token_uri") or "")).hostname or ""
        if not token_host.endswith(GOOGLE_HOSTS):
            guard_host(token_host, field="service_account_key")
        return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))

    def client(self) -> Any:
        if self._client is None:
            from google.api_core.client_options import ClientOptions
            from google.auth.transport.requests import AuthorizedSession
            from google.cloud import bigquery

            endpoint = self.config.get("api_endpoint") or None
            if endpoint:
                guard_host(urlparse(endpoint).hostname or "", field="api_endpoint")
            credentials = self._credentials()
            # Every API request and every redirect hop is checked (an endpoint override could bounce wsync
            # to a private address).
            # Each request (the token's too) waits at most the call's bound, or a minute for a read's pages.
            seconds = self._seconds or 60
            session = AuthorizedSession(credentials, refresh_timeout=seconds)
            http = mount_guard(session, "api_endpoint" if endpoint else "project_id", (seconds, seconds))
            self._client = bigquery.Client(
                project=self.config.get("project_id"),
                credentials=credentials,
                location=self.config.get("region") or None,
                client_options=ClientOptions(api_endpoint=endpoint) if endpoint else None,
                _http=http,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _job_config(self, **kwargs: Any) -> Any:
        from google.cloud import bigquery

        dataset = f"{self.config.get('project_id')}.{self.config.get('dataset_id')}"
        return bigquery.QueryJobConfig(default_dataset=dataset, **kwargs)

    # --- the primitives SqlWarehouse derives check, describe and preview from ----------------

    def _explain(self, error: BaseException) -> WarehouseError:
        return map_error(error)

    def _bounded_call(self, seconds: float) -> dict[str, Any]:
        """Return the retry and timeout arguments that keep one client call (its retries too) within `seconds`."""
        from google.cloud.bigquery import DEFAULT_RETRY

        self._seconds = seconds
        return {"retry": DEFAULT_RETRY.with_timeout(seconds), "timeout": seconds}

    def _round_trip(self, seconds: float) -> str:
        call = self._bounded_call(seconds)  # before the client is made: its session takes the bound too
        try:
            self.client().get_dataset(str(self.config.get("dataset_id")), **call)
        finally:
            self.close()
        return "Connected to BigQuery."

    def _describe(self, sql: str, seconds: float) -> list[Column]:
        query, call = wrap_model(sql, self.dialect), self._bounded_call(seconds)
        config = self._job_config(dry_run=True, use_query_cache=False)
        job = self.client().query(query, job_config=config, **call)
        return [_column(field) for field in job.schema or []]

    def _fetch(self, sql: str, rows: int, seconds: float) -> tuple[tuple[Column, ...], list[tuple[Any, ...]]]:
        query = wrap_model(sql, self.dialect, limit=rows)
        call = self._bounded_call(seconds)
        job = self.client().query(query, job_config=self._job_config(), job_retry=None, **call)
        result = job.result(max_results=rows, **call)
        columns = tuple(_column(field) for field in result.schema)
        return columns, _rows(result, columns)

    def read(self, sql: str, window: ReadWindow | None, page_size: int) -> Iterator[Page]:
        if self._seconds is not None:  # a client made for a short interactive call: reads get their own
            self.close()
            self._seconds = None
        params = []
        if window is not None:
            for name, value in (("wsync_lower", window.lower), ("wsync_upper", window.upper)):
                if value is not None:
                    params.append(_parameter(name, value, window))
            for name, value in zip(("wsync_since", "wsync_until"), window.since_values(), strict=False):
                params.append(_typed_parameter(name, value))
        query = wrap_model(
            sql,
            self.dialect,
            window=window,
            lower_param="@wsync_lower",
            upper_param="@wsync_upper",
            since_param="@wsync_since",
            until_param="@wsync_until",
        )
        try:
            job = self.client().query(query, job_config=self._job_config(query_parameters=params))
            result = job.result(page_size=page_size)
            columns = tuple(_column(field) for field in result.schema)
            for page in result.pages:
                yield _page(result, page, columns)
        except Exception as exc:
            raise map_error(exc) from exc
