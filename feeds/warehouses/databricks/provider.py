"""The Databricks provider: shared Delta tables read with the open delta-sharing client.

Reads never hold the whole table: the server lists the table's parquet files (one snapshot), files whose
statistics cannot match the window are skipped, and the others are read in record batches over their
pre-signed URLs. A windowed read must come out ordered by the iterator across files: DuckDB sorts it out
of core (sort.py). The data model (tableref.py), the recipient profile (profile.py) and the Delta types
(delta_types.py) have their own modules.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings

from feeds.warehouses.arrowrows import exact_pages
from feeds.warehouses.base import (
    Column,
    ConfigField,
    Page,
    PrepareStep,
    ReadWindow,
    WarehouseError,
)
from feeds.warehouses.databricks.delta_types import DeltaField, batch_rows, conform, table_fields
from feeds.warehouses.databricks.profile import (
    endpoint_problem,
    expiry_problem,
    profile_dict,
    validate_endpoint,
    validate_name,
    validate_profile,
    validate_token,
)
from feeds.warehouses.databricks.sort import sorted_batches
from feeds.warehouses.databricks.tableref import SQL_EXPLANATION, TableRef, parse_table_ref
from feeds.warehouses.databricks.window import KIND_TYPES, file_may_match, since_filter, window_filter
from feeds.warehouses.outbound import guard_host, guarded_client_session, mount_guard
from feeds.warehouses.sqlwarehouse import SqlWarehouse

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 120


def _pages(rows: Iterable[tuple[Any, ...]], columns: tuple[Column, ...], page_size: int) -> Iterator[Page]:
    for chunk in _chunks(rows, page_size):
        yield Page(columns, chunk)


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


class DatabricksWarehouse(SqlWarehouse):
    kind: ClassVar[str] = "databricks"
    dialect: ClassVar[str] = "databricks"
    has_sql: ClassVar[bool] = False
    iterator_types: ClassVar[tuple[str, ...]] = (
        "timestamp",
        "date",
        "timestamp_unixtime_ms",
        "timestamp_unixtime_s",
        "integer",
    )
    fields: ClassVar[tuple[ConfigField, ...]] = (
        # The setup guide calls this "provider name", but the Delta Sharing protocol addresses
        # tables as share.schema.table and this value is sent as the share: so it is labelled
        # "Share". The key stays "provider" so saved configurations keep working.
        ConfigField(
            "provider",
            "Share",
            placeholder="marketing_share",
            help_text="The share's name as Databricks shows it (Catalog → Delta Sharing → Shared by me); "
            "some setup guides call it the provider name.",
            validate=validate_name("share"),
        ),
        ConfigField(
            "schema",
            "Schema",
            placeholder="crm",
            help_text="The schema inside the share that holds the tables wsync reads.",
            validate=validate_name("schema"),
        ),
        ConfigField(
            "profile_file",
            "Activation profile (.share file)",
            kind="file",
            required=False,
            secret=True,
            help_text="The credential file downloaded from the recipient's activation link. "
            "Or leave it empty and fill in the endpoint and bearer token below.",
            validate=validate_profile,
        ),
        ConfigField(
            "endpoint",
            "Sharing server endpoint",
            required=False,
            placeholder="https://<workspace>.cloud.databricks.com/api/2.0/delta-sharing/metastores/<id>",
            help_text="The “endpoint” value of the activation profile.",
            validate=validate_endpoint,
            binds_secrets=True,
        ),
        ConfigField(
            "bearer_token",
            "Bearer token",
            kind="password",
            required=False,
            secret=True,
            help_text="The “bearerToken” value of the activation profile.",
            validate=validate_token,
        ),
    )
    sql_explanation: ClassVar[str] = SQL_EXPLANATION
    # The memory DuckDB may use to sort a windowed read before it spills to disk (see sort.py).
    sort_memory: str = "256MB"
    batch_rows: int = 8192  # rows per record batch read from a data file
    sorted_batch_rows: int = 2048  # rows per sorted batch turned into Python rows at a time

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.share = str(config.get("provider") or "").strip()
        self.schema = str(config.get("schema") or "").strip()
        self._profile_text = config.get("profile_file") or ""
        self._endpoint = str(config.get("endpoint") or "").strip()
        self._token = str(config.get("bearer_token") or "").strip()
        uses_file = bool(self._profile_text)
        self._token_field = "profile_file" if uses_file else "bearer_token"
        self._endpoint_field = "profile_file" if uses_file else "endpoint"

    @classmethod
    def data_model_help(cls) -> str:
        """The text the wizard shows next to the data model: why only a table and a column list."""
        return SQL_EXPLANATION

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        has_file = bool(config.get("profile_file"))
        endpoint, token = config.get("endpoint"), config.get("bearer_token")
        if has_file and (endpoint or token):
            message = (
                "Give either the profile file or the endpoint and bearer token, not both; clear one of them."
            )
            return {"profile_file": message}
        if not has_file and not endpoint and not token:
            return {
                "profile_file": "Upload the .share activation profile, or fill in the endpoint and bearer token."
            }
        if not has_file:
            return cls._manual_problems(endpoint, token)
        try:
            profile = profile_dict(config["profile_file"])
        except ValueError as error:
            return {"profile_file": str(error)}
        problem = endpoint_problem(profile["endpoint"]) or expiry_problem(profile)
        return {"profile_file": problem} if problem else {}

    @classmethod
    def _manual_problems(cls, endpoint: Any, token: Any) -> dict[str, str]:
        problems = {}
        if not endpoint:
            problems["endpoint"] = "Fill in the endpoint from the activation profile (its “endpoint” value)."
        elif problem := endpoint_problem(endpoint):
            problems["endpoint"] = problem
        if not token:
            problems["bearer_token"] = (
                "Fill in the bearer token from the activation profile (its “bearerToken”)."
            )
        return problems

    @classmethod
    def prepare_steps(cls, config: Mapping[str, Any]) -> list[PrepareStep]:
        share = _ident(config.get("provider") or "<share>")
        schema = _ident(config.get("schema") or "<schema>")
        recipient = "wsync_recipient"
        return [
            PrepareStep(
                "Create a share for wsync",
                f"CREATE SHARE IF NOT EXISTS {share}\n  COMMENT 'Tables wsync may read';",
                note="Run as a metastore admin or a user with CREATE SHARE, in a Databricks SQL editor.",
            ),
            PrepareStep(
                "Add the tables wsync reads",
                f"ALTER SHARE {share}\n  ADD TABLE <catalog>.{schema}.<table>;",
                note=f"Repeat for each table; they appear in the share under the schema {schema}. "
                "TIMESTAMP_NTZ columns cannot be shared: share a view that casts them to TIMESTAMP.",
            ),
            PrepareStep(
                "Create a recipient for wsync",
                f"CREATE RECIPIENT IF NOT EXISTS {recipient}\n  COMMENT 'wsync reverse ETL';",
                note="A recipient without USING ID gets a bearer-token activation profile (open sharing).",
            ),
            PrepareStep(
                "Let the recipient read the share", f"GRANT SELECT ON SHARE {share} TO RECIPIENT {recipient};"
            ),
            PrepareStep(
                "Download the activation profile",
                f"DESCRIBE RECIPIENT {recipient};",
                note="Open the activation_link it shows, download the .share credential file (it can be "
                "downloaded only once) and upload it here. When it expires, run "
                f"ALTER RECIPIENT {recipient} ROTATE TOKEN; and upload the new file.",
            ),
        ]

    # --- the four operations ------------------------------------------------------------

    def _explain(self, error: BaseException) -> WarehouseError:
        return self._error(error)  # type: ignore[arg-type]  # _error words any exception

    def _round_trip(self, seconds: float) -> str:
        from delta_sharing.protocol import Schema

        with self._errors(), self._client(seconds, retries=0) as client:
            tables = client.list_tables(Schema(name=self.schema, share=self.share)).tables
        names = ", ".join(t.name for t in tables[:5]) + (" …" if len(tables) > 5 else "")
        detail = f": {names}" if tables else "; it has no tables yet (ALTER SHARE … ADD TABLE)"
        return f"Connected to share {self.share}. Schema {self.schema} has {len(tables)} tables{detail}."

    def _describe(self, sql: str, seconds: float) -> list[Column]:
        ref = self._ref(sql)
        with self._errors(), self._client(seconds, retries=0) as client:
            metadata = client.query_table_metadata(self._table(ref)).metadata
            return [f.column for f in table_fields(metadata, ref)]

    def _fetch(self, sql: str, rows: int, seconds: float) -> tuple[tuple[Column, ...], list[tuple[Any, ...]]]:
        ref = self._ref(sql)
        deadline = time.monotonic() + seconds
        found: list[tuple[Any, ...]] = []
        with self._errors(), self._client(seconds, retries=0) as client:
            listing = client.list_files_in_table(self._table(ref), limitHint=rows)
            fields = table_fields(listing.metadata, ref)
            for batch in self._batches(listing.add_files, fields, seconds, deadline, size=rows):
                found.extend(batch_rows(batch, fields))
                if len(found) >= rows:
                    break
        return tuple(f.column for f in fields), found[:rows]

    def read(self, sql: str, window: ReadWindow | None, page_size: int) -> Iterator[Page]:
        ref = self._ref(sql)
        with self._errors():
            with self._client(READ_TIMEOUT_S, retries=3) as client:
                listing = client.list_files_in_table(self._table(ref))
            fields = table_fields(listing.metadata, ref)
            columns = tuple(f.column for f in fields)
            if window is None or not window.iterator:  # no iterator: a full read, unordered
                batches = self._batches(listing.add_files, fields, READ_TIMEOUT_S)
                if window is not None:
                    batches = (since_filter(b, window) for b in batches)
                # Pages stay Arrow data, digested over their buffers: a full re-sync converts only changed rows.
                yield from exact_pages(batches, columns, page_size, lambda part, _: batch_rows(part, fields))
                return
            index = self._iterator_index(fields, window)
            files = [f for f in listing.add_files if file_may_match(f.stats, fields[index].name, window)]
            yield from _pages(self._sorted_rows(files, fields, index, window), columns, page_size)

    # --- reading ------------------------------------------------------------------------

    def _batches(
        self,
        files: Sequence[Any],
        fields: Sequence[DeltaField],
        timeout: float,
        deadline: float | None = None,
        size: int = 0,
    ) -> Iterator[pa.RecordBatch]:
        """Yield each data file's record batches, conformed to the selected columns, file by file."""
        import pyarrow.parquet as pq

        filesystem = self._filesystem(timeout)
        wanted = [f.name for f in fields if not f.partition]
        for action in files:
            with filesystem.open(self._file_url(action.url), "rb") as handle:
                parquet = pq.ParquetFile(handle)
                present = [n for n in wanted if n in parquet.schema_arrow.names]
                for batch in parquet.iter_batches(
                    batch_size=size or self.batch_rows, columns=present, use_threads=False
                ):
                    if deadline is not None and time.monotonic() > deadline:
                        raise WarehouseError(
                            f"The preview took longer than {int(timeout)} seconds. Try again, or pick fewer columns.",
                            permanent=False,
                        )
                    yield conform(batch, fields, action.partition_values)

    def _sorted_rows(
        self, files: Sequence[Any], fields: Sequence[DeltaField], index: int, window: ReadWindow
    ) -> Iterator[tuple[Any, ...]]:
        """Rows inside the window ordered by the iterator, sorted out of core by DuckDB (sort.py)."""
        import pyarrow as pa

        batches = (window_filter(b, index, window) for b in self._batches(files, fields, READ_TIMEOUT_S))
        schema = pa.schema([(f.name, f.arrow) for f in fields])
        key = fields[index].name
        for batch in sorted_batches(
            batches, schema, key, batch_rows=self.sorted_batch_rows, memory_limit=self.sort_memory
        ):
            yield from batch_rows(batch, fields)

    def _iterator_index(self, fields: Sequence[DeltaField], window: ReadWindow) -> int:
        for index, field in enumerate(fields):
            if field.name.lower() == window.iterator.lower():
                if field.column.type not in KIND_TYPES[window.kind]:
                    raise WarehouseError(
                        f"The iterator column “{field.name}” is {field.column.warehouse_type}, which does not fit "
                        f"the iterator type {window.iterator_type}. Pick the matching iterator type.",
                        permanent=True,
                        field="iterator",
                    )
                return index
        raise WarehouseError(
            f"The iterator column “{window.iterator}” is not in the data model. Add it to the column list.",
            permanent=True,
            field="iterator",
        )

    # --- connecting -------------------------------------------------------------------------

    def _ref(self, sql: str) -> TableRef:
        return parse_table_ref(sql, share=self.share, schema=self.schema)

    @staticmethod
    def _table(ref: TableRef) -> Any:
        from delta_sharing.protocol import Table

        return Table(name=ref.table, share=ref.share, schema=ref.schema)

    def _profile(self) -> Any:
        from delta_sharing.protocol import DeltaSharingProfile

        try:
            if self._profile_text:
                data = profile_dict(self._profile_text)
            else:
                data = {"shareCredentialsVersion": 1, "endpoint": self._endpoint, "bearerToken": self._token}
            problem = endpoint_problem(data["endpoint"]) or expiry_problem(data)
            if problem:
                raise ValueError(problem)
            return DeltaSharingProfile.from_json(data)
        except (ValueError, KeyError) as error:
            raise WarehouseError(str(error), permanent=True, field=self._endpoint_field) from None

    @contextlib.contextmanager
    def _client(self, timeout: float, *, retries: int) -> Iterator[Any]:
        """The delta-sharing REST client, with a timeout and few retries (its defaults: none and ten)."""
        from delta_sharing.rest_client import DataSharingRestClient

        profile = self._profile()
        guard_host(urlsplit(profile.endpoint).hostname or "", field=self._endpoint_field)
        client = DataSharingRestClient(profile, num_retries=retries)
        # Every request and redirect hop is checked; the sharing client sets no timeout itself.
        mount_guard(client._session, self._endpoint_field, (min(CONNECT_TIMEOUT_S, timeout), timeout))
        try:
            yield client
        finally:
            client.close()

    def _filesystem(self, timeout: float) -> Any:
        import aiohttp
        import fsspec

        connect = min(CONNECT_TIMEOUT_S, timeout)
        client_timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=timeout)
        field = self._endpoint_field

        async def get_client(**kwargs: Any) -> aiohttp.ClientSession:
            # The data file links (and their redirects) are the server's choice.
            return guarded_client_session(field, **kwargs)

        return fsspec.filesystem(
            "https",
            skip_instance_cache=True,
            client_kwargs={"timeout": client_timeout},
            get_client=get_client,
        )

    def _file_url(self, url: str) -> str:
        """Check a data file's pre-signed URL: only http(s) to public hosts (the server chooses these URLs)."""
        parts = urlsplit(url)
        allowed = ("https", "http") if getattr(settings, "WSYNC_ALLOW_PRIVATE_HOSTS", False) else ("https",)
        if parts.scheme not in allowed or not parts.hostname:
            raise WarehouseError(
                "The sharing server sent a data file link wsync will not open.", permanent=True
            )
        guard_host(parts.hostname, field=self._endpoint_field)
        return url

    # --- errors -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except WarehouseError:
            raise
        except Exception as error:
            raise self._error(error) from None

    def _error(self, error: Exception) -> WarehouseError:
        import requests  # type: ignore[import-untyped,unused-ignore]

        if isinstance(error, requests.HTTPError):
            status = error.response.status_code if error.response is not None else 401
            return self._http_error(status, _server_message(error))
        if isinstance(error, requests.Timeout | TimeoutError):
            return WarehouseError(
                "The sharing server did not answer in time. wsync will try again; if it keeps happening, "
                "check the endpoint.",
                permanent=False,
                field=self._endpoint_field,
            )
        if isinstance(error, requests.ConnectionError):
            return WarehouseError(
                "Could not reach the sharing server. Check the endpoint; wsync will try again.",
                permanent=False,
                field=self._endpoint_field,
            )
        return self._file_error(error)

    def _http_error(self, status: int, server_message: str) -> WarehouseError:
        if status == 401:
            return WarehouseError(
                "The sharing server refused the bearer token: it is wrong, or it expired. Ask the data "
                "provider for a new activation profile (ALTER RECIPIENT … ROTATE TOKEN).",
                permanent=True,
                field=self._token_field,
            )
        if status == 403:
            return WarehouseError(
                f"This recipient may not read the share {self.share} (or that table). Ask the data provider to "
                f"run GRANT SELECT ON SHARE {self.share} TO RECIPIENT <recipient>.",
                permanent=True,
                field="provider",
            )
        if status == 404:
            return self._not_found(server_message)
        if status == 429 or status >= 500:
            return WarehouseError(
                f"The sharing server is busy or failed (HTTP {status}). wsync will try again.",
                permanent=False,
            )
        return WarehouseError(f"The sharing server refused the request: {server_message}", permanent=True)

    def _not_found(self, server_message: str) -> WarehouseError:
        text = server_message.lower()
        if "table" in text:
            return WarehouseError(
                "The shared table was not found. Check the table name in the data model and that it was added "
                "to the share (ALTER SHARE … ADD TABLE).",
                permanent=True,
                field="sql",
            )
        field = "schema" if "schema" in text else "provider"
        return WarehouseError(
            f"The share “{self.share}” or its schema “{self.schema}” was not found. Check both names as "
            "Databricks shows them, and that the share was granted to this recipient.",
            permanent=True,
            field=field,
        )

    def _file_error(self, error: Exception) -> WarehouseError:
        import aiohttp

        if isinstance(error, aiohttp.ClientError | OSError):
            return WarehouseError(
                "A data file of the shared table could not be downloaded (its link may have expired). wsync "
                "will try again.",
                permanent=False,
            )
        if type(error).__name__ == "OutOfMemoryException":  # DuckDB, sorting a windowed read (sort.py)
            log.error("Sorting a Delta Sharing read ran out of memory: %s", str(error).splitlines()[0])
            return WarehouseError(
                "Sorting the shared table's rows needed more memory than wsync allows itself. wsync will try "
                "again; if it keeps happening, an administrator can look at the wsync log.",
                permanent=False,
            )
        log.error("Unexpected Delta Sharing error (%s): %s", type(error).__name__, _scrub(str(error)))
        return WarehouseError(
            "Reading the shared table failed unexpectedly. The details are in the wsync server log.",
            permanent=False,
        )


def _server_message(error: Exception) -> str:
    response = getattr(error, "response", None)
    try:
        return str(response.json().get("message", "")) if response is not None else str(error)
    except ValueError:
        return ""


def _scrub(text: str) -> str:
    """Drop signatures and tokens from URLs before logging."""
    return re.sub(r"\?[^\s'\"]*", "?…", text)[:500]


def _ident(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|<\w+>", name) else f"`{name.replace('`', '``')}`"
