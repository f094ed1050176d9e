"""The PostgreSQL family's shared code: what PostgreSQL and Redshift have in common above their drivers.

Both speak PostgreSQL's wire protocol and SQL through different drivers (psycopg, redshift_connector): the
type names, the value cleaning, the window binding, the server's error codes and texts, the grant steps and
the connection settings are the same, so they live here once. Each provider module (`postgres.py`,
`redshift.py`) holds only its own driver's side.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from feeds.warehouses.base import (
    ALLOW_UNENCRYPTED,
    Column,
    ConfigField,
    FieldType,
    PrepareStep,
    ReadWindow,
    WarehouseError,
    wrap_model,
)

log = logging.getLogger(__name__)

_TYPE_NAMES: dict[FieldType, set[str]] = {
    FieldType.INTEGER: {"int2", "int4", "int8", "smallint", "integer", "bigint", "oid"},
    FieldType.FLOAT: {"float4", "float8", "real", "double precision", "float"},
    FieldType.DECIMAL: {"numeric", "decimal", "money"},
    FieldType.BOOLEAN: {"bool", "boolean"},
    FieldType.TIMESTAMP: {"timestamp", "timestamp without time zone"},
    FieldType.TIMESTAMP_TZ: {"timestamptz", "timestamp with time zone"},
    FieldType.DATE: {"date"},
    FieldType.JSON: {"json", "jsonb", "super"},
    FieldType.BINARY: {"bytea", "varbyte", "binary varying"},
}
_BY_NAME = {name: ftype for ftype, names in _TYPE_NAMES.items() for name in names}


def field_type(type_name: str) -> FieldType:
    """Map a PostgreSQL/Redshift type name (with or without modifiers) onto our FieldType."""
    name = type_name.lower().strip()
    if name.endswith("[]") or name.startswith("_"):
        return FieldType.ARRAY
    return _BY_NAME.get(_base_name(name), FieldType.STRING)


def _base_name(type_name: str) -> str:
    """Return a type name without its modifiers: "character varying(255)" → "character varying"."""
    return re.sub(r"\(.*\)", "", type_name.lower()).strip()


def _to_json(value: Any) -> Any:
    # Only for types the driver hands over as JSON text (Redshift SUPER, JSONB via redshift_connector).
    return json.loads(value) if isinstance(value, str | bytes) else value


def _to_text(value: Any) -> Any:
    # uuid, time, interval, enums and the like become text: the STRING type promises str.
    return value if isinstance(value, str) else str(value)


def _to_bytes(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


# Types both drivers already hand over as str: they need no cleaning (a call per value adds up on big pages).
_TEXT_NAMES = frozenset(
    {
        "text",
        "character varying",
        "varchar",
        "character",
        "char",
        "bpchar",
        "name",
        "citext",
        "nvarchar",
        "nchar",
    }
)


def _cleaner(column: Column, text_json: Collection[str]) -> Callable[[Any], Any] | None:
    if column.type == FieldType.JSON:
        # Decoded JSON may legitimately be a str ("\"abc\""): decode only what arrives as text.
        return _to_json if column.warehouse_type in text_json else None
    if column.type == FieldType.STRING and _base_name(column.warehouse_type) in _TEXT_NAMES:
        return None
    return {FieldType.STRING: _to_text, FieldType.BINARY: _to_bytes}.get(column.type)


def clean_rows(
    columns: Sequence[Column], rows: Sequence[Sequence[Any]], text_json: Collection[str] = ()
) -> list[tuple[Any, ...]]:
    """Return the rows as tuples of plain Python values (JSON text decoded, odd scalars as text)."""
    cleaners = [(i, f) for i, c in enumerate(columns) if (f := _cleaner(c, text_json)) is not None]
    if not cleaners:
        return [tuple(row) for row in rows]
    cleaned = []
    for row in rows:
        values = list(row)
        for i, clean in cleaners:
            if values[i] is not None:
                values[i] = clean(values[i])
        cleaned.append(tuple(values))
    return cleaned


LOWER, UPPER = "__wsync_lower__", "__wsync_upper__"
SINCE, UNTIL = "__wsync_since__", "__wsync_until__"


def parse_model(sql: str, dialect: str, **kwargs: Any) -> str:
    """wrap_model, with a parse failure turned into a plain WarehouseError."""
    import sqlglot.errors

    try:
        return wrap_model(sql, dialect, **kwargs)
    except sqlglot.errors.SqlglotError as exc:
        raise WarehouseError(
            f"The SQL could not be read: {str(exc).splitlines()[0]}", permanent=True
        ) from None


def bind_window(
    sql: str, dialect: str, window: ReadWindow | None, columns: Sequence[Column]
) -> tuple[str, list[Any] | None]:
    """Return the windowed query with `%s` placeholders and its parameters (None when unbound).

    Both drivers read `%` as a placeholder marker once parameters are passed, so the model's own
    `%` (LIKE patterns) are doubled before the bound placeholders are put in.
    """
    query = parse_model(
        sql,
        dialect,
        window=window,
        lower_param=LOWER,
        upper_param=UPPER,
        since_param=SINCE,
        until_param=UNTIL,
    )
    if window is None or (window.lower is None and window.upper is None and window.since is None):
        return query, None
    query = query.replace("%", "%%")
    params: list[Any] = []
    if window.lower is not None or window.upper is not None:
        column = next((c for c in columns if c.name == window.iterator), None)
        if column is None:
            raise WarehouseError(
                f"The model has no column named “{window.iterator}”; pick the iterator column again.",
                permanent=True,
            )
        for token, bound in ((LOWER, window.lower), (UPPER, window.upper)):
            if bound is not None:
                query = query.replace(token, "%s")
                params.append(wall_clock(bound, column, window.timezone))
    # The timestamp-field bounds come typed for their column (ReadWindow.since_values).
    for token, value in zip((SINCE, UNTIL), window.since_values(), strict=False):
        query = query.replace(token, "%s")
        params.append(value)
    return query, params


def wall_clock(bound: Any, column: Column, timezone: str) -> Any:
    """Compare aware bounds with a zoneless column as wall-clock time in the window's zone."""
    if column.type == FieldType.TIMESTAMP and isinstance(bound, datetime) and bound.tzinfo is not None:
        return bound.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    if column.type == FieldType.DATE and isinstance(bound, datetime):
        return bound.date()
    return bound


# --- errors ------------------------------------------------------------------------------------

# (message, permanent, field); {database}/{host}/{user} are filled from the config.
Hint = tuple[str, bool, str | None]
BAD_LOGIN: Hint = ("The user name or password is wrong. Check both and try again.", True, "password")
NO_USER: Hint = (
    "The user “{user}” does not exist on this warehouse. Check the user name, or create the user "
    "(see “Prepare your warehouse”).",
    True,
    "user",
)
CANNOT_LOG_IN: Hint = (
    "The user “{user}” exists but may not log in. Give it the right to (ALTER ROLE … LOGIN), or use "
    "another user.",
    True,
    "user",
)
NOT_ALLOWED: Hint = (
    "The warehouse does not let the user “{user}” connect to the database “{database}” from wsync's "
    "address. Ask its administrator to allow it (on PostgreSQL: a line in pg_hba.conf).",
    True,
    "user",
)
NO_CONNECT: Hint = (
    "The user “{user}” may not connect to the database “{database}”. Run the GRANT CONNECT step in "
    "“Prepare your warehouse” and try again.",
    True,
    "user",
)
NO_HOST: Hint = ("The host “{host}” could not be found. Check its spelling.", True, "host")
NO_DATABASE: Hint = ("The database “{database}” does not exist. Check the database name.", True, "database")
MISSING_GRANT: Hint = (
    "The user “{user}” is missing a permission to read this data. Run the grant steps in "
    "“Prepare your warehouse” and try again.",
    True,
    None,
)
REFUSED: Hint = (
    "The warehouse at “{host}” refused the connection. Check the host and port, and that the "
    "warehouse accepts connections from wsync's address.",
    False,
    "port",
)
SLOW: Hint = (
    "The warehouse at “{host}” did not answer in time. Check the host and port and that your "
    "firewall allows wsync in, then try again.",
    False,
    "host",
)
TOO_SLOW: Hint = ("The query took too long and was stopped. Make it smaller or try again.", False, None)
CUT: Hint = ("The connection to the warehouse was interrupted. Try again.", False, None)
LATER = "Try again shortly."
NO_TLS: Hint = (
    "The warehouse at “{host}” does not accept encrypted (TLS) connections, and wsync sends nothing "
    "unencrypted. Turn on TLS on the server; only for a warehouse on this machine or a private network, "
    "tick “Allow unencrypted connection”.",
    True,
    ALLOW_UNENCRYPTED,
)
BAD_CERTIFICATE: Hint = (
    "The warehouse's TLS certificate could not be verified: check the CA certificate, and that the host "
    "name is one the server's certificate names.",
    True,
    "ssl_ca",
)

# (SQLSTATE, pattern of the server's or driver's text, hint); the first row that fits wins. With a SQLSTATE
# (every query error; Redshift's login errors too) a row fits when its code is that one and its pattern, if
# any, matches. libpq reports login failures without one (psycopg's sqlstate is None), so then a row fits
# when its pattern matches the text alone: the patterns quote the server's own words, so that a role that
# does not exist is not taken for a database that does not exist.
_ERRORS: tuple[tuple[str | None, re.Pattern[str] | None, Hint], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE) if pattern else None, hint)
    for code, pattern, hint in (
        ("28P01", r"password authentication failed", BAD_LOGIN),
        ("28000", r'role ".*" does not exist', NO_USER),
        ("28000", r'role ".*" is not permitted to log in', CANNOT_LOG_IN),
        ("28000", r"pg_hba\.conf", NOT_ALLOWED),
        ("28000", None, NOT_ALLOWED),
        ("3D000", r'database ".*" does not exist', NO_DATABASE),
        ("3D000", None, NO_DATABASE),
        ("42501", r"permission denied for database", NO_CONNECT),
        ("42501", None, MISSING_GRANT),
        ("57014", None, TOO_SLOW),
        (
            "53300",
            r"too many connections for role",
            (
                "The user “{user}” has used up its allowed connections right now. Try again shortly, or raise "
                "its connection limit.",
                False,
                None,
            ),
        ),
        ("53300", None, (f"The warehouse has too many open connections right now. {LATER}", False, None)),
        (
            "57P01",
            None,
            (
                f"The warehouse ended the connection (it is restarting, or an administrator stopped it). {LATER}",
                False,
                None,
            ),
        ),
        (
            "57P03",
            None,
            (f"The warehouse is starting up and not accepting connections yet. {LATER}", False, None),
        ),
        (None, r"server does not support ssl|server refuses ssl", NO_TLS),
        (None, r"certificate verify failed|signature failure|unable to get local issuer", BAD_CERTIFICATE),
        (None, r"server certificate for|ssl error", BAD_CERTIFICATE),
        (None, r"could not translate host name|name or service not known|nodename nor servname", NO_HOST),
        (None, r"temporary failure in name resolution", (NO_HOST[0], False, "host")),
        (None, r"connection refused", REFUSED),
        (None, r"timeout|timed out|time out", SLOW),
        (None, r"connection reset|server closed the connection", CUT),
    )
)
# User SQL mistakes: the server's own first line explains them best.
_SQL_CLASSES = ("42", "22", "0A", "21", "2B")


def _hint(sqlstate: str | None, text: str) -> Hint | None:
    for code, pattern, hint in _ERRORS:
        if sqlstate:
            if code == sqlstate and (pattern is None or pattern.search(text)):
                return hint
        elif pattern is not None and pattern.search(text):
            return hint
    return None


def explain(sqlstate: str | None, text: str, config: Mapping[str, Any], *, provider: str) -> WarehouseError:
    """Turn a driver error (sqlstate + server text) into a WarehouseError a marketer understands."""
    hit = _hint(sqlstate, text)
    names = {k: config.get(k) or "" for k in ("database", "host", "user")}
    if hit is not None:
        message, permanent, field = hit
        return WarehouseError(message.format(**names), permanent=permanent, field=field)
    if sqlstate and sqlstate[:2] in _SQL_CLASSES:
        first = text.strip().splitlines()[0] if text.strip() else "the query is not valid"
        return WarehouseError(f"The warehouse rejected the query: {first}", permanent=True)
    # Server texts and driver messages hold no passwords; log them for the operator.
    log.warning("%s error not mapped (sqlstate=%s): %s", provider, sqlstate, text[:500])
    return WarehouseError(
        "Something went wrong talking to the warehouse. Try again; if it keeps happening, "
        "ask an administrator to look at the wsync log.",
        permanent=False,
    )


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def grant_steps(config: Mapping[str, Any], *, create_user: str, connect: bool = True) -> list[PrepareStep]:
    """The read-only role steps, common to PostgreSQL and Redshift (Redshift has no CONNECT grant)."""
    user = config.get("user") or "<user>"
    database = config.get("database") or "<database>"
    # The field defaults to public, so an untouched form means public, not a placeholder.
    schema = str(config.get("schema") or "").strip() or DEFAULT_SCHEMA
    q_user, q_schema = _quote_ident(user), _quote_ident(schema)
    return [
        PrepareStep(
            "Create a dedicated user for wsync",
            create_user.format(user=q_user),
            note="Pick a long random password and type it in the form; wsync stores it encrypted.",
        ),
        PrepareStep(
            "Let it connect and read the schema",
            (f"GRANT CONNECT ON DATABASE {_quote_ident(database)} TO {q_user};\n" if connect else "")
            + f"GRANT USAGE ON SCHEMA {q_schema} TO {q_user};\n"
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {q_schema} TO {q_user};",
            note="Repeat the USAGE and SELECT lines for every schema your models read. Grant nothing more: "
            "never make this user a superuser or a member of pg_read_server_files, pg_write_server_files or "
            "pg_execute_server_program (they read server files and run programs).",
        ),
        PrepareStep(
            "Keep access to tables created later",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {q_schema} GRANT SELECT ON TABLES TO {q_user};",
            note="Run this as the user who creates the tables, so new tables are readable too.",
        ),
    ]


def valid_port(value: Any) -> None:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ValueError("Port must be a number between 1 and 65535, e.g. 5432.") from None
    if not 1 <= port <= 65535:
        raise ValueError("Port must be a number between 1 and 65535, e.g. 5432.")


def valid_host(value: Any) -> None:
    text = str(value or "").strip()
    if not text or "://" in text or "/" in text or " " in text:
        raise ValueError("Host must be a bare host name such as db.example.com, without http:// or a path.")


DEFAULT_SCHEMA = "public"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,126}$")


def valid_schema(value: Any) -> None:
    """Raise ValueError unless `value` is a plain schema name (the grant steps quote it as typed)."""
    if value and not _IDENTIFIER.match(str(value).strip()):
        raise ValueError(
            "Schema must be a schema name such as public or marts: letters, digits, _ and $, starting "
            "with a letter or _ (no dots, spaces or quotes)."
        )


def schema_field() -> ConfigField:
    """The optional schema setting shared by PostgreSQL and Redshift; it fills the grant steps."""
    return ConfigField(
        "schema",
        "Schema",
        required=False,
        default=DEFAULT_SCHEMA,
        placeholder=DEFAULT_SCHEMA,
        help_text="The schema wsync's user may read; the grant steps below use it. Models can still "
        "name tables in other schemas you grant.",
        validate=valid_schema,
    )


def valid_name(label: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not str(value or "").strip():
            raise ValueError(f"{label} is required: type the {label.lower()} exactly as in the warehouse.")

    return check


# --- TLS ---------------------------------------------------------------------------------------


def allow_unencrypted_field() -> ConfigField:
    """The explicit opt-out of TLS, for a warehouse on the same machine or a private network only."""
    return ConfigField(
        ALLOW_UNENCRYPTED,
        "Allow unencrypted connection",
        kind="checkbox",
        required=False,
        default=False,
        help_text="Only for a warehouse on this machine or a private network: without TLS the password "
        "and the data can be read on the way. Turning this on is recorded in the audit log.",
        binds_secrets=True,
    )


def unencrypted_allowed(config: Mapping[str, Any]) -> bool:
    return config.get(ALLOW_UNENCRYPTED) is True
