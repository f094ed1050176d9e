"""Snowflake provider: the official connector, password or key-pair (JWT) login.

Reads stream Arrow batches (`fetch_arrow_batches`: one table per result chunk, downloaded a few
at a time) and cut them into pages of `page_size` rows, so a large result is never held whole in
memory and is converted to Python one page at a time. Window bounds travel as server-side
(qmark) bindings with explicit Snowflake types.

The connector's Arrow path hands TIMESTAMP_TZ values over as UTC instants (the instant is exact;
the original offset is not kept), TIMESTAMP_LTZ in the session's zone and TIMESTAMP_NTZ as UTC,
which is made naive again here. TIME arrives as text, like every type we map to STRING.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from feeds.warehouses.arrowrows import exact_pages, plain_text
from feeds.warehouses.base import (
    Column,
    ConfigField,
    FieldType,
    IteratorKind,
    Page,
    PrepareStep,
    ReadWindow,
    WarehouseError,
    wrap_model,
)
from feeds.warehouses.outbound import check_url, guard_host
from feeds.warehouses.sqlwarehouse import SqlWarehouse

logger = logging.getLogger(__name__)

# locator | locator.region | locator.region.cloud | orgname-accountname
_ACCOUNT_RE = re.compile(r"^[a-z][a-z0-9]*(\.[a-z0-9-]+){0,2}$|^[a-z][a-z0-9]*-[a-z0-9_]+$", re.IGNORECASE)
_IDENT_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_$]*$|^"[^"]+"$')
_NAIVE_ITERATORS = {"timestamp_ntz", "datetime"}
_JSON_TYPES = {"VARIANT", "OBJECT", "ARRAY", "MAP"}

# Snowflake's type names (cursor.description type codes resolved by the connector) -> ours.
_TYPE_MAP: dict[str, FieldType] = {
    "FIXED": FieldType.INTEGER,
    "DECFLOAT": FieldType.DECIMAL,
    "REAL": FieldType.FLOAT,
    "TEXT": FieldType.STRING,
    "DATE": FieldType.DATE,
    "TIMESTAMP": FieldType.TIMESTAMP,
    "TIMESTAMP_NTZ": FieldType.TIMESTAMP,
    "TIMESTAMP_LTZ": FieldType.TIMESTAMP_TZ,
    "TIMESTAMP_TZ": FieldType.TIMESTAMP_TZ,
    "VARIANT": FieldType.JSON,
    "OBJECT": FieldType.JSON,
    "MAP": FieldType.JSON,
    "ARRAY": FieldType.ARRAY,
    "BINARY": FieldType.BINARY,
    "BOOLEAN": FieldType.BOOLEAN,
    "TIME": FieldType.STRING,
}


def _validate_account(value: Any) -> None:
    text = str(value or "").strip()
    if "://" in text or "snowflakecomputing" in text.lower():
        raise ValueError(
            "Enter only the account identifier, without https:// or .snowflakecomputing.com "
            "(for example xy12345.eu-west-1.aws or myorg-myaccount)."
        )
    if not _ACCOUNT_RE.match(text):
        raise ValueError(
            "Account identifier: use your account locator (xy12345), locator.region.cloud "
            "(xy12345.eu-west-1.aws) or orgname-accountname (myorg-myaccount)."
        )


def _identifier_validator(label: str) -> Any:
    def validate(value: Any) -> None:
        if value and not _IDENT_RE.match(str(value).strip()):
            raise ValueError(
                f"{label}: use letters, digits, _ and $ only (or wrap the name in double quotes)."
            )

    return validate


def load_private_key(pem: str, passphrase: str | None) -> Any:
    """Parse a PEM private key; raises ValueError naming what to fix."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    password = passphrase.encode() if passphrase else None
    try:
        return load_pem_private_key(pem.strip().encode(), password=password)
    except TypeError as exc:
        if password is None:
            raise ValueError("This private key is encrypted: enter its passphrase.") from exc
        raise ValueError("This private key is not encrypted: leave the passphrase empty.") from exc
    except ValueError as exc:
        if password is not None and "-----BEGIN ENCRYPTED PRIVATE KEY-----" in pem:
            raise ValueError("The private key passphrase is wrong: check it and try again.") from exc
        raise ValueError(
            "Private key: paste the whole PEM file, from -----BEGIN PRIVATE KEY----- "
            "to -----END PRIVATE KEY-----."
        ) from exc


def _validate_pem(value: Any) -> None:
    text = str(value or "")
    if text and "-----BEGIN" not in text:
        raise ValueError(
            "Private key: paste the whole PEM file, from -----BEGIN PRIVATE KEY----- "
            "to -----END PRIVATE KEY-----."
        )


def _validate_port(value: Any) -> None:
    if value in (None, ""):
        return
    if not str(value).isdigit() or not 0 < int(value) < 65536:
        raise ValueError("Port: enter a number between 1 and 65535, or leave it empty for 443.")


def _validate_protocol(value: Any) -> None:
    if value and str(value) not in {"https", "http"}:
        raise ValueError("Protocol: enter https (or http only for a private test endpoint).")


FIELDS: tuple[ConfigField, ...] = (
    # Optional and unused: a pipeline's environment decides where its profiles go. Kept (and returned) for
    # the scripts and saved connections that send it; mParticle's v2 connection body has no such setting.
    ConfigField(
        "environment",
        "Environment",
        kind="choice",
        required=False,
        choices=(("prod", "Production"), ("dev", "Development")),
        help_text="Not used by wsync: each sync's own environment decides where its profiles go.",
    ),
    ConfigField(
        "account_identifier",
        "Account identifier",
        placeholder="xy12345.eu-west-1.aws",
        help_text="Your account locator, locator.region.cloud, or orgname-accountname.",
        validate=_validate_account,
        binds_secrets=True,
    ),
    ConfigField(
        "warehouse", "Warehouse", placeholder="WSYNC_WH", validate=_identifier_validator("Warehouse")
    ),
    ConfigField("database", "Database", placeholder="ANALYTICS", validate=_identifier_validator("Database")),
    ConfigField(
        "region",
        "Region",
        required=False,
        placeholder="eu-west-1.aws",
        help_text="Only if your account identifier is a bare locator outside us-west-2.",
        binds_secrets=True,
    ),
    ConfigField("user", "User", placeholder="WSYNC_USER", binds_secrets=True),
    ConfigField("role", "Role", placeholder="WSYNC_READER", validate=_identifier_validator("Role")),
    ConfigField(
        "password",
        "Password",
        kind="password",
        required=False,
        secret=True,
        help_text="Or use a private key.",
    ),
    ConfigField(
        "private_key",
        "Private key (PEM)",
        kind="textarea",
        required=False,
        secret=True,
        help_text="Key-pair authentication: paste the private key whose public key is set on the user.",
        validate=_validate_pem,
    ),
    ConfigField(
        "private_key_passphrase", "Private key passphrase", kind="password", required=False, secret=True
    ),
    ConfigField(
        "host",
        "Host (advanced)",
        required=False,
        help_text="Only for private endpoints; defaults to <account>.snowflakecomputing.com.",
        binds_secrets=True,
    ),
    ConfigField(
        "port", "Port (advanced)", kind="integer", required=False, validate=_validate_port, binds_secrets=True
    ),
    ConfigField(
        "protocol",
        "Protocol (advanced)",
        required=False,
        default="https",
        validate=_validate_protocol,
        binds_secrets=True,
    ),
)


NO_WAREHOUSE = "The warehouse does not exist or this role may not use it: check its name and USAGE grant."
NO_DATABASE = "The database does not exist or this role cannot see it: check its name and USAGE grant."
NO_ROLE = "The role does not exist or is not granted to this user."
TOO_SLOW = "The query took too long and was stopped. Try a smaller query."
NO_ANSWER = "Snowflake did not answer in time. It will be retried."

# (connector errno or None, lower-case fragment of its message, plain message, permanent, field).
# First match wins, so specific rows come before an errno's catch-all row. Fragments name the
# object kind as Snowflake quotes it ("database 'X'"), so a table called WAREHOUSE_EVENTS is
# still a missing table, not a missing warehouse.
_ERRORS: tuple[tuple[int | None, str, str, bool, str | None], ...] = (
    (390100, "", "Snowflake refused the user name or password. Check both and try again.", True, "password"),
    (390144, "", "Snowflake refused the private key: set its public key on the user.", True, "private_key"),
    (390101, "", "This Snowflake user is disabled. Ask your Snowflake admin to enable it.", True, "user"),
    (390102, "", "This Snowflake user is locked. Ask your Snowflake admin to unlock it.", True, "user"),
    (390189, "", NO_ROLE, True, "role"),
    # Login refusals for objects named in the connection: "The requested warehouse does not exist ...".
    (390201, "warehouse", NO_WAREHOUSE, True, "warehouse"),
    (390201, "database", NO_DATABASE, True, "database"),
    (390201, "role", NO_ROLE, True, "role"),
    (606, "", NO_WAREHOUSE, True, "warehouse"),  # "No active warehouse selected in the current session."
    (90105, "", NO_DATABASE, True, "database"),  # "This session does not have a current database."
    (2003, "database '", NO_DATABASE, True, "database"),
    (2003, "", "A table or view in the query does not exist, or this role may not read it.", True, None),
    (3001, "", "This role lacks a privilege the query needs; grant SELECT on the tables.", True, None),
    (1003, "", "The SQL has a syntax error: check the query.", True, None),
    (604, "", TOO_SLOW, False, None),  # cancelled, e.g. by the preview timeout
    (630, "", TOO_SLOW, False, None),  # the statement or warehouse timeout
    (250003, "", NO_ANSWER, False, None),
    (None, "timed out", NO_ANSWER, False, None),
    # An account Snowflake does not know answers the login with HTTP 403: the connector raises
    # ForbiddenError "Verify the account name is correct" (errno 250001 plus its HTTP offset).
    # A network that is down ends in a plain 250001 after the login retries: retryable.
    (
        None,
        "verify the account name is correct",
        "Snowflake does not know this account: check the account identifier (and region).",
        True,
        "account_identifier",
    ),
    (None, "service is unavailable", "Snowflake is unavailable right now. It will be retried.", False, None),
    (
        None,
        "name or service not known",
        "The Snowflake account could not be found: check it.",
        True,
        "account_identifier",
    ),
    (
        250001,
        "",
        "Could not reach Snowflake: check the account identifier. It will be retried.",
        False,
        "account_identifier",
    ),
)


def map_error(exc: BaseException) -> WarehouseError:
    """Translate a connector error into plain words; unknown errors are logged without secrets."""
    if isinstance(exc, WarehouseError):
        return exc
    errno = getattr(exc, "errno", None)
    text = str(getattr(exc, "msg", "") or exc).lower()
    for code, fragment, message, permanent, field in _ERRORS:
        if (code is None or code == errno) and fragment in text:
            return WarehouseError(message, permanent=permanent, field=field)
    logger.warning("Unrecognised Snowflake error %s (errno %s)", type(exc).__name__, errno)
    return WarehouseError("Snowflake returned an unexpected error. Try again later.", permanent=False)


def _column(meta: Any) -> Column:
    from snowflake.connector.constants import FIELD_ID_TO_NAME

    name = FIELD_ID_TO_NAME.get(meta.type_code, "TEXT")
    ours = _TYPE_MAP.get(name, FieldType.STRING)
    warehouse_type = name
    if name == "FIXED":
        warehouse_type = f"NUMBER({meta.precision},{meta.scale})"
        ours = FieldType.DECIMAL if meta.scale else FieldType.INTEGER
    return Column(meta.name, ours, warehouse_type, bool(meta.is_nullable))


def _json(value: Any) -> Any:
    # The connector hands VARIANT / OBJECT / ARRAY values over as JSON text.
    return json.loads(value) if isinstance(value, str) else value


def _naive(value: Any) -> Any:
    # Arrow carries TIMESTAMP_NTZ as UTC; the column has no zone, so neither has the value.
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


def _integer(value: Any) -> Any:
    # NUMBER(p,0) arrives as Decimal once numbers are kept exact (arrow_number_to_decimal).
    return int(value) if isinstance(value, Decimal) else value


_CLEANERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.JSON: _json,
    FieldType.ARRAY: _json,
    FieldType.TIMESTAMP: _naive,
    FieldType.INTEGER: _integer,
    FieldType.STRING: plain_text,
}


def _arrow_rows(table: Any, columns: tuple[Column, ...]) -> list[tuple[Any, ...]]:
    """Return an Arrow table's rows as plain Python tuples, converting column by column."""
    values = []
    for index, column in enumerate(columns):
        items = table.column(index).to_pylist()
        clean = _CLEANERS.get(column.type)
        if clean is not None:
            items = [None if v is None else clean(v) for v in items]
        values.append(items)
    return list(zip(*values, strict=True)) if values else []


def _pages(tables: Iterable[Any], columns: tuple[Column, ...], page_size: int) -> Iterator[Page]:
    """Cut the connector's Arrow tables (one per result chunk, any size) into pages of page_size."""
    return exact_pages(tables, columns, page_size, _arrow_rows)


def _binding(value: Any, window: ReadWindow) -> Any:
    """Return a qmark binding for a window bound, typed so Snowflake compares it correctly."""
    if window.kind is not IteratorKind.TIMESTAMP or not isinstance(value, datetime):
        return value
    if window.iterator_type.lower() in _NAIVE_ITERATORS:
        if value.tzinfo is not None:
            value = value.astimezone(ZoneInfo(window.timezone)).replace(tzinfo=None)
        return ("TIMESTAMP_NTZ", value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(window.timezone))
    return ("TIMESTAMP_TZ", value)


def _typed_binding(value: Any) -> Any:
    """Return a qmark binding for a timestamp-field bound (already typed for its column)."""
    if isinstance(value, datetime):
        return ("TIMESTAMP_TZ" if value.tzinfo else "TIMESTAMP_NTZ", value)
    return value


def _guard_redirects() -> None:
    """Make every HTTP request the connector sends, each redirect hop included, pass the host check.

    Requests follows a 307/308 with its body, so without this a sign-in POST (the password) could be
    bounced to a private address. Connector 4.x has no public hook for its transport: its connection
    module builds the HTTP settings with `ProxySupportAdapterFactory()`, so that name is pointed at a
    factory of checking adapters, once per process (tests/security/test_outbound_redirects.py fails if a
    connector upgrade moves it).
    """
    from snowflake.connector import connection as sf_connection
    from snowflake.connector.session_manager import ProxySupportAdapter, ProxySupportAdapterFactory

    if getattr(sf_connection.ProxySupportAdapterFactory, "wsync_guarded", False):
        return

    class GuardedAdapter(ProxySupportAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            check_url(request.url, field="account_identifier")
            return super().send(request, *args, **kwargs)

    class GuardedAdapterFactory(ProxySupportAdapterFactory):
        wsync_guarded = True

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return GuardedAdapter(*args, **kwargs)

    setattr(sf_connection, "ProxySupportAdapterFactory", GuardedAdapterFactory)  # noqa: B010 - see above


class SnowflakeWarehouse(SqlWarehouse):
    kind: ClassVar[str] = "snowflake"
    dialect: ClassVar[str] = "snowflake"
    fields: ClassVar[tuple[ConfigField, ...]] = FIELDS
    iterator_types: ClassVar[tuple[str, ...]] = (
        "timestamp_ltz",
        "timestamp_ntz",
        "timestamp_tz",
        "datetime",
        "date",
        "timestamp_unixtime_ms",
        "timestamp_unixtime_s",
    )
    has_sql: ClassVar[bool] = True

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._conn: Any = None

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        errors: dict[str, str] = {}
        password, key = config.get("password"), config.get("private_key")
        if bool(password) == bool(key):
            message = "Enter a password or a private key (exactly one of them)."
            errors["password" if not password else "private_key"] = message
        if key:
            try:
                load_private_key(str(key), config.get("private_key_passphrase") or None)
            except ValueError as exc:
                wrong_passphrase = "passphrase" in str(exc)
                errors["private_key_passphrase" if wrong_passphrase else "private_key"] = str(exc)
        return errors

    @classmethod
    def prepare_steps(cls, config: Mapping[str, Any]) -> list[PrepareStep]:
        role = config.get("role") or "<role>"
        user = config.get("user") or "<user>"
        warehouse = config.get("warehouse") or "<warehouse>"
        database = config.get("database") or "<database>"
        grants = f"""CREATE ROLE IF NOT EXISTS {role};
GRANT USAGE ON WAREHOUSE {warehouse} TO ROLE {role};
GRANT USAGE ON DATABASE {database} TO ROLE {role};
GRANT USAGE ON ALL SCHEMAS IN DATABASE {database} TO ROLE {role};
GRANT SELECT ON ALL TABLES IN DATABASE {database} TO ROLE {role};
GRANT SELECT ON ALL VIEWS IN DATABASE {database} TO ROLE {role};
GRANT SELECT ON FUTURE TABLES IN DATABASE {database} TO ROLE {role};
GRANT SELECT ON FUTURE VIEWS IN DATABASE {database} TO ROLE {role};"""
        user_sql = f"""CREATE USER IF NOT EXISTS {user}
  PASSWORD = '<a long random password>'
  DEFAULT_ROLE = {role}
  DEFAULT_WAREHOUSE = {warehouse};
GRANT ROLE {role} TO USER {user};"""
        key_sql = f"ALTER USER {user} SET RSA_PUBLIC_KEY = '<public key without the BEGIN/END lines>';"
        return [
            PrepareStep("Create a read-only role (run as SECURITYADMIN or ACCOUNTADMIN)", grants),
            PrepareStep("Create the user wsync signs in as", user_sql),
            PrepareStep(
                "Optional: key-pair authentication instead of a password",
                key_sql,
                note="Generate the key with: openssl genrsa 2048 | openssl pkcs8 -topk8 -nocrypt",
            ),
        ]

    # --- connection -----------------------------------------------------------------

    def _connect_kwargs(self, seconds: float | None = None) -> dict[str, Any]:
        c = self.config
        account = str(c.get("account_identifier") or "").strip()
        if c.get("region") and "." not in account and "-" not in account:
            account = f"{account}.{c['region']}"  # a bare locator needs its region
        kwargs: dict[str, Any] = {
            "account": account,
            "user": c.get("user"),
            "warehouse": c.get("warehouse") or None,
            "database": c.get("database") or None,
            # Snowflake's own default; models can still name other schemas in full.
            "schema": "PUBLIC" if c.get("database") else None,
            "role": c.get("role") or None,
            "application": "wsync",
            "paramstyle": "qmark",  # bounds are bound server-side, and '%' in models stays literal
            # An interactive call (check, describe, preview) gives up after its bound, login retries included.
            # The sockets wait a second longer than the statement, so Snowflake's "took too long" comes first.
            "login_timeout": seconds or 20,
            "network_timeout": seconds + 1 if seconds else 60,
            "socket_timeout": seconds + 1 if seconds else 60,
            "client_session_keep_alive": False,
            # Each prefetched result chunk is held as Arrow; two keep reads fast and small.
            "client_prefetch_threads": 2,
            # Without it Arrow turns NUMBER(p,s) into float64 and decimals lose digits.
            "arrow_number_to_decimal": True,
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        }
        kwargs.update(self._auth_kwargs())
        if c.get("host"):
            kwargs["host"] = c["host"]
        if c.get("port"):
            kwargs["port"] = int(c["port"])
        if c.get("protocol"):
            kwargs["protocol"] = c["protocol"]
        return kwargs

    def _auth_kwargs(self) -> dict[str, Any]:
        c = self.config
        if not c.get("private_key"):
            return {"password": c.get("password")}
        try:
            key = load_private_key(str(c["private_key"]), c.get("private_key_passphrase") or None)
        except ValueError as exc:
            raise WarehouseError(str(exc), permanent=True, field="private_key") from None
        return {"authenticator": "SNOWFLAKE_JWT", "private_key": key}

    def _host(self) -> tuple[str, str]:
        if self.config.get("host"):
            return str(self.config["host"]), "host"
        account = str(self.config.get("account_identifier") or "").strip()
        return f"{account}.snowflakecomputing.com", "account_identifier"

    def _connection(self, seconds: float | None = None) -> Any:
        if self._conn is None:
            import snowflake.connector

            host, field = self._host()
            guard_host(host, field=field)
            _guard_redirects()
            try:
                self._conn = snowflake.connector.connect(**self._connect_kwargs(seconds))
            except Exception as exc:
                raise map_error(exc) from None
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    # --- the primitives SqlWarehouse derives check, describe and preview from ----------------

    def _explain(self, error: BaseException) -> WarehouseError:
        return map_error(error)

    def _round_trip(self, seconds: float) -> str:
        try:
            cursor = self._connection(seconds).cursor()
            cursor.execute("SELECT 1", timeout=seconds)
            cursor.fetchone()
        finally:
            self.close()
        return "Connected to Snowflake."

    def _describe(self, sql: str, seconds: float) -> list[Column]:
        metadata = self._connection(seconds).cursor().describe(wrap_model(sql, self.dialect), timeout=seconds)
        return [_column(meta) for meta in metadata or []]

    def _fetch(self, sql: str, rows: int, seconds: float) -> tuple[tuple[Column, ...], list[tuple[Any, ...]]]:
        query = wrap_model(sql, self.dialect, limit=rows)
        cursor = self._connection(seconds).cursor()
        cursor.execute(query, timeout=seconds)
        columns = tuple(_column(meta) for meta in cursor.description)
        first = next(_pages(cursor.fetch_arrow_batches(), columns, rows), None)
        return columns, first.rows if first is not None else []

    def read(self, sql: str, window: ReadWindow | None, page_size: int) -> Iterator[Page]:
        params: list[Any] = []
        if window is not None:
            params = [_binding(v, window) for v in (window.lower, window.upper) if v is not None]
            params += [_typed_binding(v) for v in window.since_values()]
        query = wrap_model(sql, self.dialect, window=window, placeholder="?")
        try:
            cursor = self._connection().cursor()
            cursor.execute(query, params or None)
            columns = tuple(_column(meta) for meta in cursor.description)
            yield from _pages(cursor.fetch_arrow_batches(), columns, page_size)
        except WarehouseError:
            raise
        except Exception as exc:
            raise map_error(exc) from None


__all__ = ["SnowflakeWarehouse", "load_private_key", "map_error"]
