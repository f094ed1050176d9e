"""Databricks through Delta Sharing: read shared Delta tables with the open delta-sharing client.

Delta Sharing has no SQL engine. The data model names one shared table and optionally a column list
(`SELECT a, b FROM share.schema.table`); wsync filters by the iterator column after reading.

Reads never hold the whole table: the server lists the table's parquet files (one snapshot), files
whose statistics cannot match the window are skipped, and the others are read in record batches
over their pre-signed URLs. Windowed reads must come out ordered by the iterator across files, so
they use an external merge sort with bounded memory: filtered batches are buffered up to `run_bytes`
of Arrow data, sorted and spilled to a temporary Arrow IPC file (a "run"); the runs are then merged
row by row (a k-way heap merge), holding one record batch per run.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlglot
from django.conf import settings
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from feeds.warehouses.base import (
    Column,
    ConfigField,
    FieldType,
    IteratorKind,
    Page,
    PrepareStep,
    ReadWindow,
    WarehouseError,
    guard_host,
)
from feeds.warehouses.outbound import guarded_client_session, mount_guard
from feeds.warehouses.sqlwarehouse import SqlWarehouse

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

SQL_EXPLANATION = (
    "Delta Sharing has no SQL engine, so the data model can only name one shared table and, if you "
    "like, the columns to read: SELECT email, updated_at FROM share.schema.table (or just "
    "share.schema.table; SELECT * FROM schema.table uses the share configured for this warehouse). "
    "Filters, joins, functions, grouping and sorting are not available; wsync reads the table and "
    "filters by the iterator column itself after reading."
)
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 120
# A bare table reference: table, schema.table or share.schema.table, parts plain or `quoted`.
_TABLE_NAME = re.compile(r"(`[^`]+`|[\w\-]+)(\.(`[^`]+`|[\w\-]+)){0,2}")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
_CLAUSES = {
    "where": "WHERE",
    "joins": "JOIN",
    "group": "GROUP BY",
    "having": "HAVING",
    "order": "ORDER BY",
    "limit": "LIMIT",
    "offset": "OFFSET",
    "distinct": "DISTINCT",
    "with_": "WITH",
    "qualify": "QUALIFY",
    "windows": "WINDOW",
    "laterals": "LATERAL VIEW",
    "sort": "SORT BY",
    "cluster": "CLUSTER BY",
    "distribute": "DISTRIBUTE BY",
}


# --- the data model: a table reference ---------------------------------------------------------


@dataclass(frozen=True)
class TableRef:
    share: str
    schema: str
    table: str
    columns: tuple[str, ...] | None  # None: every column


def _model_error(problem: str) -> WarehouseError:
    return WarehouseError(f"{problem} {SQL_EXPLANATION}", permanent=True, field="sql")


def parse_table_ref(sql: str, *, share: str, schema: str) -> TableRef:
    """Read the data model text as a table reference; anything SQL beyond that raises WarehouseError."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise _model_error("Name the shared table to read.")
    if _TABLE_NAME.fullmatch(text):
        text = f"SELECT * FROM {text}"
    try:
        statements = [s for s in sqlglot.parse(text, read="databricks") if s is not None]
    except (ParseError, TokenError):
        raise _model_error("The data model could not be read.") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        raise _model_error("The data model must be one simple SELECT.")
    select = statements[0]
    for key, value in select.args.items():
        if value and key not in ("expressions", "from_"):
            raise _model_error(f"Remove {_CLAUSES.get(key, key.upper())}.")
    table = _table(select)
    return TableRef(
        share=table.catalog or share, schema=table.db or schema, table=table.name, columns=_columns(select)
    )


def _table(select: exp.Select) -> exp.Table:
    source = select.args.get("from_")
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        raise _model_error("Read from one shared table (not a subquery or a function).")
    extra = [k for k, v in table.args.items() if v and k not in ("this", "db", "catalog", "alias")]
    if extra:
        raise _model_error(f"Remove the table option ({extra[0].upper()}) after the table name.")
    return table


def _columns(select: exp.Select) -> tuple[str, ...] | None:
    expressions = select.expressions
    if len(expressions) == 1 and isinstance(expressions[0], exp.Star):
        return None
    names: list[str] = []
    for expression in expressions:
        if isinstance(expression, exp.Alias):
            raise _model_error(f"Remove the rename “{expression.sql('databricks')}” (AS).")
        if not isinstance(expression, exp.Column) or not isinstance(expression.this, exp.Identifier):
            raise _model_error(
                f"Remove the expression “{expression.sql('databricks')}”; list plain column names."
            )
        if expression.name.lower() in (n.lower() for n in names):
            raise _model_error(f"List the column “{expression.name}” only once.")
        names.append(expression.name)
    return tuple(names)


# --- the recipient profile ---------------------------------------------------------------------


def _validate_name(what: str) -> Any:
    def validate(value: Any) -> None:
        if not _NAME.match(str(value or "")):
            raise ValueError(
                f"Type the {what} name exactly as Databricks shows it: letters, digits, “_” or “-”, "
                "without dots or spaces."
            )

    return validate


def _endpoint_problem(endpoint: Any) -> str | None:
    parts = urlsplit(str(endpoint or ""))
    allowed = ("https", "http") if getattr(settings, "WSYNC_ALLOW_PRIVATE_HOSTS", False) else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        return (
            "The endpoint must be an https:// address, as in the activation profile, for example "
            "https://<workspace>.cloud.databricks.com/api/2.0/delta-sharing/metastores/<id>."
        )
    return None


def _validate_endpoint(value: Any) -> None:
    if value and (problem := _endpoint_problem(value)):
        raise ValueError(problem)


def _validate_token(value: Any) -> None:
    if value and re.search(r"\s", str(value).strip()):
        raise ValueError("The bearer token has no spaces; copy it again from the activation profile.")


def _profile_dict(text: Any) -> dict[str, Any]:
    """Parse the .share file's JSON; raises ValueError saying how to fix it."""
    try:
        profile = json.loads(text) if isinstance(text, str | bytes) else dict(text)
    except (ValueError, TypeError):
        raise ValueError(
            "This is not a Delta Sharing activation profile: upload the .share file downloaded from the "
            "activation link, unchanged."
        ) from None
    if not isinstance(profile, dict) or "endpoint" not in profile or "shareCredentialsVersion" not in profile:
        raise ValueError(
            "The profile lacks “endpoint” or “shareCredentialsVersion”: upload the .share file unchanged."
        )
    if not profile.get("bearerToken") or profile.get("type", "bearer_token") != "bearer_token":
        raise ValueError(
            "wsync needs a profile with a bearer token (“bearerToken”); download a token-based profile."
        )
    return profile


def _expiry_problem(profile: Mapping[str, Any]) -> str | None:
    expires = profile.get("expirationTime")
    if not expires:
        return None
    try:
        moment = datetime.fromisoformat(str(expires))
    except ValueError:
        return None  # the client ignores what it cannot read; so do we
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment <= datetime.now(UTC):
        return (
            f"This activation profile expired on {moment:%Y-%m-%d %H:%M} UTC. Ask the data provider to "
            "rotate the recipient's token (ALTER RECIPIENT … ROTATE TOKEN) and upload the new profile."
        )
    return None


def _validate_profile(value: Any) -> None:
    if not value:
        return
    profile = _profile_dict(value)
    problem = _endpoint_problem(profile["endpoint"]) or _expiry_problem(profile)
    if problem:
        raise ValueError(problem)


# --- Delta types -------------------------------------------------------------------------------

_PRIMITIVES: dict[str, tuple[FieldType, str, str]] = {
    "string": (FieldType.STRING, "STRING", "string"),
    "long": (FieldType.INTEGER, "BIGINT", "int64"),
    "integer": (FieldType.INTEGER, "INT", "int32"),
    "short": (FieldType.INTEGER, "SMALLINT", "int16"),
    "byte": (FieldType.INTEGER, "TINYINT", "int8"),
    "float": (FieldType.FLOAT, "FLOAT", "float32"),
    "double": (FieldType.FLOAT, "DOUBLE", "float64"),
    "boolean": (FieldType.BOOLEAN, "BOOLEAN", "bool_"),
    "binary": (FieldType.BINARY, "BINARY", "binary"),
    "date": (FieldType.DATE, "DATE", "date32"),
}


class UnsupportedType(Exception):
    pass


def delta_type(spec: Any) -> tuple[FieldType, str, pa.DataType]:
    """Return (our type, Databricks' type name, the Arrow type to read into) for a Delta schema type."""
    import pyarrow as pa

    if isinstance(spec, dict):
        return _complex_type(spec)
    if spec in _PRIMITIVES:
        field_type, name, arrow = _PRIMITIVES[spec]
        return field_type, name, getattr(pa, arrow)()
    if spec == "timestamp":  # Delta timestamps are instants stored in UTC
        return FieldType.TIMESTAMP_TZ, "TIMESTAMP", pa.timestamp("us", tz="UTC")
    if match := re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", str(spec)):
        precision, scale = int(match[1]), int(match[2])
        return FieldType.DECIMAL, f"DECIMAL({precision},{scale})", pa.decimal128(precision, scale)
    raise UnsupportedType(str(spec))


def _complex_type(spec: dict[str, Any]) -> tuple[FieldType, str, pa.DataType]:
    import pyarrow as pa

    if spec["type"] == "array":
        _, name, arrow = delta_type(spec["elementType"])
        return FieldType.ARRAY, f"ARRAY<{name}>", pa.list_(arrow)
    if spec["type"] == "map":
        _, key_name, key = delta_type(spec["keyType"])
        _, value_name, value = delta_type(spec["valueType"])
        return FieldType.JSON, f"MAP<{key_name}, {value_name}>", pa.map_(key, value)
    if spec["type"] == "struct":
        parts = [(f["name"], delta_type(f["type"])) for f in spec["fields"]]
        name = ", ".join(f"{n}: {t[1]}" for n, t in parts)
        return FieldType.JSON, f"STRUCT<{name}>", pa.struct([(n, t[2]) for n, t in parts])
    raise UnsupportedType(spec["type"])


@dataclass(frozen=True)
class _Field:
    column: Column
    arrow: pa.DataType
    partition: bool

    @property
    def name(self) -> str:
        return self.column.name


def table_fields(metadata: Any, ref: TableRef) -> list[_Field]:
    """Return the selected columns of a table's Delta schema, in the data model's order."""
    schema = json.loads(metadata.schema_string)
    by_name = {f["name"].lower(): f for f in schema["fields"]}
    wanted = ref.columns or tuple(f["name"] for f in schema["fields"])
    partitions = {p.lower() for p in metadata.partition_columns or ()}
    fields = []
    for name in wanted:
        spec = by_name.get(name.lower())
        if spec is None:
            known = ", ".join(f["name"] for f in schema["fields"])
            raise WarehouseError(
                f"The table {ref.table} has no column “{name}”. Its columns are: {known}.",
                permanent=True,
                field="sql",
            )
        fields.append(_field(spec, partitions))
    return fields


def _field(spec: dict[str, Any], partitions: set[str]) -> _Field:
    try:
        field_type, type_name, arrow = delta_type(spec["type"])
    except UnsupportedType as error:
        raise _type_error(spec["name"], str(error)) from None
    column = Column(spec["name"], field_type, type_name, bool(spec.get("nullable", True)))
    return _Field(column, arrow, spec["name"].lower() in partitions)


def _type_error(column: str, type_name: str) -> WarehouseError:
    if type_name == "timestamp_ntz":
        return WarehouseError(
            f"The column “{column}” is a TIMESTAMP_NTZ (timestamp without time zone), which Delta Sharing "
            "cannot serve. In Databricks, share a view that casts it, e.g. "
            f"CAST({column} AS TIMESTAMP) AS {column}, or leave the column out of the data model.",
            permanent=True,
            field="sql",
        )
    return WarehouseError(
        f"The column “{column}” has the type {type_name}, which wsync cannot read through Delta Sharing. "
        "Leave it out of the column list, or share a view that casts it to STRING.",
        permanent=True,
        field="sql",
    )


# --- Arrow batches to rows ---------------------------------------------------------------------


def _partition_array(value: str | None, arrow: pa.DataType, length: int) -> pa.Array:
    import pyarrow as pa

    if value is None or value == "":
        return pa.nulls(length, arrow)
    typed = pa.array([value], pa.string())
    if pa.types.is_timestamp(arrow):  # partition values are written as wall-clock UTC text
        typed = typed.cast(pa.timestamp("us"))
    return pa.repeat(typed.cast(arrow)[0], length)


def _conform(
    batch: pa.RecordBatch, fields: Sequence[_Field], partition_values: Mapping[str, str]
) -> pa.RecordBatch:
    """Return the batch with exactly the selected columns, in order, typed as the Delta schema says."""
    import pyarrow as pa

    names = batch.schema.names
    lowered = {str(v).lower(): v for v in partition_values}
    arrays = []
    for field in fields:
        if field.partition:
            value = partition_values.get(lowered.get(field.name.lower(), field.name))
            arrays.append(_partition_array(value, field.arrow, batch.num_rows))
        elif field.name in names:
            arrays.append(_cast(batch.column(field.name), field))
        else:  # a column added after this file was written
            arrays.append(pa.nulls(batch.num_rows, field.arrow))
    return pa.RecordBatch.from_arrays(arrays, names=[f.name for f in fields])


def _cast(array: pa.Array, field: _Field) -> pa.Array:
    import pyarrow as pa

    if array.type.equals(field.arrow):
        return array
    try:
        # INT96/nanosecond timestamps from Spark writers become UTC microseconds (Delta's precision).
        return array.cast(field.arrow, safe=not pa.types.is_timestamp(field.arrow))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if pa.types.is_nested(field.arrow):
            return array  # same shape, different child names: to_pylist reads it just as well
        raise


def batch_rows(batch: pa.RecordBatch, fields: Sequence[_Field]) -> list[tuple[Any, ...]]:
    """Plain-Python rows; MAP columns become dicts."""
    import pyarrow as pa

    values = []
    for index, field in enumerate(fields):
        items = batch.column(index).to_pylist()
        if pa.types.is_map(field.arrow):
            items = [dict(v) if v is not None else None for v in items]
        values.append(items)
    return list(zip(*values, strict=True)) if values else []


def _pages(rows: Iterable[tuple[Any, ...]], columns: tuple[Column, ...], page_size: int) -> Iterator[Page]:
    for chunk in _chunks(rows, page_size):
        yield Page(columns, chunk)


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


# --- the window --------------------------------------------------------------------------------

_KIND_TYPES = {
    IteratorKind.TIMESTAMP: {FieldType.TIMESTAMP_TZ},
    IteratorKind.DATE: {FieldType.DATE},
    IteratorKind.EPOCH_MS: {FieldType.INTEGER},
    IteratorKind.EPOCH_S: {FieldType.INTEGER},
    IteratorKind.NUMBER: {FieldType.INTEGER},
}


def _bound(value: Any, kind: IteratorKind, timezone: str) -> Any:
    if kind is IteratorKind.TIMESTAMP and isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(
            tzinfo=ZoneInfo(timezone)
        )  # a naive bound is wall-clock time in the window's zone
    if kind is IteratorKind.DATE and isinstance(value, datetime):
        return value.date()
    return value


def _filter(batch: pa.RecordBatch, index: int, window: ReadWindow) -> pa.RecordBatch:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = batch.column(index)
    mask = None
    for bound, compare in ((window.lower, pc.greater_equal), (window.upper, pc.less_equal)):
        if bound is not None:
            test = compare(column, pa.scalar(_bound(bound, window.kind, window.timezone), type=column.type))
            mask = test if mask is None else pc.and_(mask, test)
    return _since_filter(batch if mask is None else batch.filter(mask), window)


def _since_filter(batch: pa.RecordBatch, window: ReadWindow) -> pa.RecordBatch:
    """Keep the rows inside the window's timestamp-field filter (the Sync Start Date, a backfill window)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if window.since is None:
        return batch
    column = batch.column(window.since.column)
    mask = None
    for value, compare in zip(window.since_values(), (pc.greater_equal, pc.less_equal), strict=False):
        test = compare(column, pa.scalar(value, type=column.type))
        mask = test if mask is None else pc.and_(mask, test)
    return batch.filter(mask)


def _stat(value: Any, kind: IteratorKind, *, widen: bool) -> Any:
    if kind is IteratorKind.TIMESTAMP:
        moment = datetime.fromisoformat(str(value))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        # Delta truncates timestamp statistics to milliseconds: a maximum may hide up to 999 µs.
        return moment + timedelta(milliseconds=1) if widen else moment
    if kind is IteratorKind.DATE:
        return date.fromisoformat(str(value))
    return int(value)


def file_may_match(stats_text: str | None, column: str, window: ReadWindow) -> bool:
    """False only when the file's statistics prove no row is inside the window (so it is not read)."""
    try:
        stats = json.loads(stats_text or "{}")
        low, high = stats.get("minValues", {}).get(column), stats.get("maxValues", {}).get(column)
        lower = _bound(window.lower, window.kind, window.timezone)
        upper = _bound(window.upper, window.kind, window.timezone)
        below = lower is not None and high is not None and _stat(high, window.kind, widen=True) < lower
        above = upper is not None and low is not None and _stat(low, window.kind, widen=False) > upper
        return not (below or above)
    except (ValueError, TypeError, AttributeError):
        return True  # unreadable statistics: read the file


# --- errors ------------------------------------------------------------------------------------


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
            validate=_validate_name("share"),
        ),
        ConfigField(
            "schema",
            "Schema",
            placeholder="crm",
            help_text="The schema inside the share that holds the tables wsync reads.",
            validate=_validate_name("schema"),
        ),
        ConfigField(
            "profile_file",
            "Activation profile (.share file)",
            kind="file",
            required=False,
            secret=True,
            help_text="The credential file downloaded from the recipient's activation link. "
            "Or leave it empty and fill in the endpoint and bearer token below.",
            validate=_validate_profile,
        ),
        ConfigField(
            "endpoint",
            "Sharing server endpoint",
            required=False,
            placeholder="https://<workspace>.cloud.databricks.com/api/2.0/delta-sharing/metastores/<id>",
            help_text="The “endpoint” value of the activation profile.",
            validate=_validate_endpoint,
            binds_secrets=True,
        ),
        ConfigField(
            "bearer_token",
            "Bearer token",
            kind="password",
            required=False,
            secret=True,
            help_text="The “bearerToken” value of the activation profile.",
            validate=_validate_token,
        ),
    )
    sql_explanation: ClassVar[str] = SQL_EXPLANATION
    # Arrow bytes buffered before a sorted run is spilled to disk; tests lower it to force merges.
    run_bytes: int = 64 * 1024 * 1024
    batch_rows: int = 8192
    merge_rows: int = 1024

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
            profile = _profile_dict(config["profile_file"])
        except ValueError as error:
            return {"profile_file": str(error)}
        problem = _endpoint_problem(profile["endpoint"]) or _expiry_problem(profile)
        return {"profile_file": problem} if problem else {}

    @classmethod
    def _manual_problems(cls, endpoint: Any, token: Any) -> dict[str, str]:
        problems = {}
        if not endpoint:
            problems["endpoint"] = "Fill in the endpoint from the activation profile (its “endpoint” value)."
        elif problem := _endpoint_problem(endpoint):
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
                    batches = (_since_filter(b, window) for b in batches)
                rows = itertools.chain.from_iterable(batch_rows(b, fields) for b in batches)
                yield from _pages(rows, columns, page_size)
                return
            index = self._iterator_index(fields, window)
            files = [f for f in listing.add_files if file_may_match(f.stats, fields[index].name, window)]
            yield from _pages(self._sorted_rows(files, fields, index, window), columns, page_size)

    # --- reading ------------------------------------------------------------------------

    def _batches(
        self,
        files: Sequence[Any],
        fields: Sequence[_Field],
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
                    yield _conform(batch, fields, action.partition_values)

    def _sorted_rows(
        self, files: Sequence[Any], fields: Sequence[_Field], index: int, window: ReadWindow
    ) -> Iterator[tuple[Any, ...]]:
        """Rows inside the window ordered by the iterator: sorted runs (spilled to disk) merged with a heap."""
        batches = (_filter(b, index, window) for b in self._batches(files, fields, READ_TIMEOUT_S))
        with tempfile.TemporaryDirectory(prefix="wsync-delta-") as spill:
            runs = self._runs(batches, fields[index].name, Path(spill))
            streams = [self._run_rows(run, fields) for run in runs]
            # NULL iterator values sort last, as in SQL's ascending ORDER BY.
            yield from heapq.merge(*streams, key=lambda row: (row[index] is None, row[index]))

    def _runs(self, batches: Iterable[pa.RecordBatch], key: str, spill: Path) -> list[pa.Table | Path]:
        import pyarrow as pa

        runs: list[pa.Table | Path] = []
        buffer: list[pa.RecordBatch] = []
        buffered = 0
        for batch in batches:
            if batch.num_rows:
                buffer.append(batch)
                buffered += batch.nbytes
            if buffered >= self.run_bytes:
                sorted_run = pa.Table.from_batches(buffer).sort_by(key)
                buffer, buffered = [], 0
                runs.append(self._spill(sorted_run, spill / f"run{len(runs)}.arrow"))
        if buffer:
            runs.append(pa.Table.from_batches(buffer).sort_by(key))  # the last run stays in memory
        return runs

    def _spill(self, table: pa.Table, path: Path) -> Path:
        import pyarrow as pa

        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=self.batch_rows)
        return path

    def _run_rows(self, run: pa.Table | Path, fields: Sequence[_Field]) -> Iterator[tuple[Any, ...]]:
        """One run's rows, converted to Python a small slice at a time (the merge holds one slice per run)."""
        import pyarrow as pa

        if not isinstance(run, Path):
            for batch in run.to_batches(max_chunksize=self.merge_rows):
                yield from batch_rows(batch, fields)
            return
        with pa.memory_map(str(run)) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                for start in range(0, batch.num_rows, self.merge_rows):
                    yield from batch_rows(batch.slice(start, self.merge_rows), fields)

    def _iterator_index(self, fields: Sequence[_Field], window: ReadWindow) -> int:
        for index, field in enumerate(fields):
            if field.name.lower() == window.iterator.lower():
                if field.column.type not in _KIND_TYPES[window.kind]:
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
                data = _profile_dict(self._profile_text)
            else:
                data = {"shareCredentialsVersion": 1, "endpoint": self._endpoint, "bearerToken": self._token}
            problem = _endpoint_problem(data["endpoint"]) or _expiry_problem(data)
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
