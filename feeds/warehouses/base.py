"""The one Protocol every warehouse provider implements, and the small types that cross it.

Discovery, previews and reads return these frozen dataclasses, never driver objects, so
templates, the mapper, the engine and tests never import a vendor SDK.
"""

from __future__ import annotations

import enum
import hashlib
import operator
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from sqlglot import exp


class FieldType(enum.StrEnum):
    """wsync's small set of column types that every warehouse type maps onto."""

    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    TIMESTAMP_TZ = "timestamp_tz"  # an instant: aware datetime
    TIMESTAMP = "timestamp"  # wall-clock without zone: naive datetime
    DATE = "date"
    JSON = "json"  # objects / structs / variants: dict (or any decoded JSON)
    ARRAY = "array"  # list
    BINARY = "binary"


@dataclass(frozen=True)
class Column:
    name: str
    type: FieldType
    warehouse_type: str = ""
    nullable: bool = True


@dataclass(frozen=True)
class Page:
    """A slice of a result: rows are tuples aligned with `columns`, values are plain Python.

    Timestamps with zone are aware datetimes, naive ones naive; decimals are Decimal; JSON and
    arrays are decoded to dict / list.
    """

    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    # A 64-bit digest of each row as the warehouse sent it, from providers that take one more cheaply
    # than the engine digests decoded values (None: the engine digests the rows). Within one set of
    # columns, equal digests must mean equal rows.
    digests: list[int] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def column_index(self, name: str) -> int:
        for i, column in enumerate(self.columns):
            if column.name == name:
                return i
        raise KeyError(name)

    def take(self, positions: Sequence[int]) -> Page:
        """Return the rows at `positions` as a page of their own."""
        return Page(self.columns, [self.rows[i] for i in positions])


class WirePage(Page):
    """A page kept in its wire form and decoded on first use: a full sync never decodes its unchanged rows.

    The wire form is the provider's: PostgreSQL's COPY lines (a list), or an Arrow table; `pick` takes the
    rows at some positions out of it (a list's items by default).
    """

    _wire: Any
    _decode: Callable[[Any], list[tuple[Any, ...]]]
    _pick: Callable[[Any, Sequence[int]], Any]
    _rows: list[tuple[Any, ...]] | None

    def __init__(
        self,
        columns: tuple[Column, ...],
        wire: Any,
        decode: Callable[[Any], list[tuple[Any, ...]]],
        digests: list[int] | None,
        pick: Callable[[Any, Sequence[int]], Any] | None = None,
    ) -> None:
        # Page is frozen; this subclass only fills its fields once and caches the decoded rows.
        for name, value in (
            ("columns", columns),
            ("digests", digests),
            ("_wire", wire),
            ("_decode", decode),
            ("_pick", pick or _pick_items),
        ):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_rows", None)

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        rows = self._rows
        if rows is None:
            rows = self._decode(self._wire)
            object.__setattr__(self, "_rows", rows)
        return rows

    def __len__(self) -> int:
        return len(self._wire)

    def take(self, positions: Sequence[int]) -> Page:
        if self._rows is not None:
            return super().take(positions)
        return Page(self.columns, self._decode(self._pick(self._wire, positions)))


def _pick_items(items: list[Any], positions: Sequence[int]) -> list[Any]:
    return [items[i] for i in positions]


_DIGEST = operator.methodcaller("digest")


def wire_digests(messages: Sequence[bytes]) -> list[int]:
    """Return a 64-bit digest of each row as the server sent it (the first half of its MD5), for a WirePage.

    PostgreSQL's rows are COPY lines, Redshift's DataRow message bodies, BigQuery's the cells of its JSON. Built from C calls only (map, one
    join, one numpy view): ~0.6 µs a row, against ~3 µs for digesting the decoded values.
    """
    import numpy as np  # here, not at the top: a web process does not load numpy

    joined = b"".join(map(_DIGEST, map(hashlib.md5, messages)))
    return np.frombuffer(joined, dtype=">i8")[::2].tolist()


@dataclass(frozen=True)
class Preview:
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    elapsed_ms: int
    truncated: bool  # True when the query had more rows than the cap


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str  # in words a marketer understands; never a stack trace
    permanent: bool = True  # for a failure: would retrying help?
    field: str | None = None  # the form field the failure is about, when known


class WarehouseError(Exception):
    """The only exception that crosses the provider boundary.

    `permanent` says whether retrying can help (bad password: no; timeout: yes); `field` names
    the configuration field to fix when the error is about one.
    """

    def __init__(self, message: str, *, permanent: bool, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.field = field


class IteratorKind(enum.StrEnum):
    TIMESTAMP = "timestamp"  # window bounds are aware datetimes
    DATE = "date"  # window bounds are dates
    EPOCH_MS = "epoch_ms"  # window bounds are ints (milliseconds since epoch)
    EPOCH_S = "epoch_s"  # window bounds are ints (seconds since epoch)
    NUMBER = "number"  # window bounds are ints


def iterator_kind(iterator_type: str) -> IteratorKind:
    """Return how values of a warehouse iterator data type compare (see each provider's list)."""
    t = iterator_type.lower()
    if t == "timestamp_unixtime_ms":
        return IteratorKind.EPOCH_MS
    if t == "timestamp_unixtime_s":
        return IteratorKind.EPOCH_S
    if t == "date":
        return IteratorKind.DATE
    if t in {"integer", "int", "bigint", "number", "numeric", "int64"}:
        return IteratorKind.NUMBER
    return IteratorKind.TIMESTAMP


# The iterator data types of the PostgreSQL family (PostgreSQL, Redshift, DuckDB).
POSTGRES_ITERATOR_TYPES: tuple[str, ...] = (
    "timestamp",
    "timestamptz",
    "date",
    "integer",
    "timestamp_unixtime_ms",
    "timestamp_unixtime_s",
)


# The column types a timestamp field (the Sync Start Date's column) may have.
TIME_TYPES = frozenset({FieldType.TIMESTAMP_TZ, FieldType.TIMESTAMP, FieldType.DATE})


@dataclass(frozen=True)
class Since:
    """A filter on the data model's timestamp field when it is not the iterator: `column >= value`
    (the Sync Start Date), and `column <= until` too for a historical backfill window.

    Bounds are instants (aware datetimes); ReadWindow.since_values() gives them as the column
    compares them. `type` is the column's FieldType (one of TIME_TYPES).
    """

    column: str
    type: str
    value: datetime
    until: datetime | None = None


@dataclass(frozen=True)
class ReadWindow:
    """Which rows a read returns: `lower <= iterator <= upper` (and `since`), ordered by the iterator.

    Both bounds are optional; bounds are Python values of the iterator's kind. For a column
    without zone, aware bounds are compared as wall-clock time in `timezone` (UTC by default).
    An empty `iterator` (a full sync with a Sync Start Date) means no iterator bounds and no order.
    """

    iterator: str
    iterator_type: str
    lower: datetime | date | int | None = None
    upper: datetime | date | int | None = None
    timezone: str = "UTC"
    since: Since | None = None

    @property
    def kind(self) -> IteratorKind:
        return iterator_kind(self.iterator_type)

    def since_values(self) -> list[datetime | date]:
        """Return the `since` bounds (value, then until if set) typed for the timestamp column.

        Zoned columns get aware datetimes, zoneless ones wall-clock time in `timezone`, dates the
        day in `timezone`; so a provider binds them as they are, like the iterator bounds.
        """
        if self.since is None:
            return []
        moments = [m for m in (self.since.value, self.since.until) if m is not None]
        return [_as_column(m, self.since.type, self.timezone) for m in moments]


def _as_column(moment: datetime, column_type: str, zone: str) -> datetime | date:
    local = moment.astimezone(ZoneInfo(zone))
    if column_type == FieldType.DATE:
        return local.date()
    if column_type == FieldType.TIMESTAMP:
        return local.replace(tzinfo=None)
    return moment


@dataclass(frozen=True)
class ConfigField:
    """One connection setting: the wizard builds its form from these and the API validates with them.

    `validate` raises ValueError with a message that says how to fix the value.
    """

    name: str
    label: str
    kind: str = "text"  # text | password | integer | choice | file | textarea | checkbox
    required: bool = True
    secret: bool = False  # stored encrypted, never shown again
    help_text: str = ""
    placeholder: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    default: Any = None
    validate: Callable[[Any], None] | None = None
    # Decides where (or how openly) the connection's secrets are sent: host, port, account, endpoint,
    # user, TLS. A saved secret is reused only while every such field keeps its saved value.
    binds_secrets: bool = False


# The checkbox by which a connection gives up TLS (PostgreSQL, Redshift): turning it on is audited.
ALLOW_UNENCRYPTED = "allow_unencrypted"


@dataclass(frozen=True)
class PrepareStep:
    """One step of the "Prepare your warehouse" panel: a title and text to copy (SQL or commands)."""

    title: str
    code: str = ""
    language: str = "sql"
    note: str = ""


@runtime_checkable
class Warehouse(Protocol):
    """A warehouse provider. One module per provider; construct with the decrypted config."""

    kind: ClassVar[str]  # registry key, e.g. "snowflake"
    dialect: ClassVar[str]  # sqlglot dialect name
    fields: ClassVar[tuple[ConfigField, ...]]
    iterator_types: ClassVar[tuple[str, ...]]  # the iterator data types this warehouse allows
    has_sql: ClassVar[bool]  # False for Delta Sharing: the data model is a table

    def __init__(self, config: Mapping[str, Any]) -> None: ...

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        """Return {field name: message} for values that are wrong together (no network)."""
        ...

    @classmethod
    def prepare_steps(cls, config: Mapping[str, Any]) -> list[PrepareStep]:
        """Return the steps to create a read-only user, filled in with the names typed so far."""
        ...

    def check(self) -> CheckResult:
        """Make one real round trip; never raises."""
        ...

    def describe(self, sql: str) -> list[Column]:
        """Return the model's columns and types; raises WarehouseError."""
        ...

    def preview(self, sql: str, limit: int) -> Preview:
        """Return at most `limit` rows, with a timeout; raises WarehouseError."""
        ...

    def read(self, sql: str, window: ReadWindow | None, page_size: int) -> Iterator[Page]:
        """Stream the model's rows in pages, never holding the whole result; raises WarehouseError."""
        ...

    def close(self) -> None: ...


# --- helpers shared by the SQL providers -------------------------------------------------


def wrap_model(
    sql: str,
    dialect: str,
    *,
    window: ReadWindow | None = None,
    lower_param: str | None = None,
    upper_param: str | None = None,
    since_param: str | None = None,
    until_param: str | None = None,
    placeholder: str | None = None,
    limit: int | None = None,
) -> str:
    """Return `SELECT * FROM (<model>) AS wsync_model [WHERE ...] [ORDER BY ...] [LIMIT n]`.

    The model goes in verbatim (re-rendering it through sqlglot could change what the user wrote,
    e.g. casts or functions), minus a trailing “;”; only the outer query is built here. Bounds are
    driver placeholders passed in by the provider, never literals, in this order: iterator lower,
    upper, then window.since_values(). Anything but one read-only SELECT raises WarehouseError
    here, at the boundary, whatever path the SQL took. `placeholder` stands for every bound whose own
    parameter is not given (drivers with positional "?" markers).
    """
    from feeds.warehouses.sqlcheck import check_select

    lower_param, upper_param = lower_param or placeholder, upper_param or placeholder
    since_param, until_param = since_param or placeholder, until_param or placeholder

    problem = check_select(sql, dialect)
    if problem is not None:
        raise WarehouseError(str(problem), permanent=True, field="sql")
    model = sql.strip().rstrip(";").rstrip()
    parts = [f"SELECT * FROM (\n{model}\n) AS wsync_model"]
    if window is not None:
        column = _model_column(window.iterator, dialect)
        bounds = []
        if window.iterator and window.lower is not None and lower_param:
            bounds.append(f"{column} >= {lower_param}")
        if window.iterator and window.upper is not None and upper_param:
            bounds.append(f"{column} <= {upper_param}")
        bounds += _since_bounds(window.since, dialect, since_param, until_param)
        if bounds:
            parts.append("WHERE " + " AND ".join(bounds))
        if window.iterator:
            parts.append(f"ORDER BY {column}")
    if limit is not None:
        parts.append(f"LIMIT {int(limit)}")
    return "\n".join(parts)


def _model_column(name: str, dialect: str) -> str:
    return exp.column(name, table="wsync_model", quoted=True).sql(dialect=dialect)


def _since_bounds(
    since: Since | None, dialect: str, since_param: str | None, until_param: str | None
) -> list[str]:
    if since is None:
        return []
    if not since_param or (since.until is not None and not until_param):
        # Dropping the filter would silently read history the user asked to leave out.
        raise ValueError("This provider passes no placeholder for the timestamp-field filter.")
    column = _model_column(since.column, dialect)
    bounds = [f"{column} >= {since_param}"]
    if since.until is not None:
        bounds.append(f"{column} <= {until_param}")
    return bounds


def keeps_saved(spec: ConfigField, value: Any) -> bool:
    """True when an empty value means "keep the saved one": secrets and key files are never shown again."""
    return (spec.secret or spec.kind == "file") and value in (None, "")


def with_default(spec: ConfigField, value: Any) -> Any:
    """Return the setting's default for an empty value (never for a secret)."""
    if value in (None, "") and spec.default is not None and not spec.secret:
        return spec.default
    return value


def check_setting(spec: ConfigField, value: Any) -> None:
    """Raise ValueError, with the message to show beside the field, for a missing or refused setting.

    `value` is already of the field's type (the wizard's form field or the API's JSON reader made it so)
    and is the saved value where `keeps_saved` says the empty one stands for it.
    """
    if value in (None, ""):
        if spec.required:
            raise ValueError(f"{spec.label} is required.")
        return
    if spec.validate is not None:
        spec.validate(value)


def rebound_secrets(
    fields: Sequence[ConfigField], saved: Mapping[str, Any], typed: Mapping[str, Any], kept: Collection[str]
) -> dict[str, str]:
    """Return {secret field: message} for saved secrets that would go somewhere other than where they were saved.

    `saved` is the connection's stored settings, `typed` the new non-secret settings, `kept` the secret
    (and file) fields left empty or masked so the saved value would be reused. Without this, anyone who
    may edit a connection could point it at their own server and receive the saved password.
    """
    moved = [f.label for f in fields if f.binds_secrets and _bound(f, saved) != _bound(f, typed)]
    if not moved:
        return {}
    what = ", ".join(moved)
    return {
        f.name: f"Type the {f.label.lower()} again: {what} changed since it was saved, and wsync sends a "
        f"saved {f.label.lower()} only to where it was saved."
        for f in fields
        if f.name in kept and (f.secret or f.kind == "file")
    }


def _bound(spec: ConfigField, values: Mapping[str, Any]) -> str:
    value = values.get(spec.name)
    if value in (None, ""):
        value = spec.default
    return "" if value in (None, "") else str(value).strip()


def secret_fields(fields: Sequence[ConfigField]) -> set[str]:
    """Return the names of the fields that are stored encrypted."""
    return {f.name for f in fields if f.secret}


@dataclass
class Timer:
    """Measures milliseconds for previews on `clock` (seconds, monotonic; a unit test passes its own)."""

    clock: Callable[[], float] = field(default=time.perf_counter)
    started: float = field(default=0.0)
    stopped: float | None = field(default=None)

    def __enter__(self) -> Timer:
        self.started = self.clock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped = self.clock()

    @property
    def elapsed_ms(self) -> int:
        """Milliseconds from entering to leaving the block (to now while still inside it)."""
        end = self.clock() if self.stopped is None else self.stopped
        return int((end - self.started) * 1000)
