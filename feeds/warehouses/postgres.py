"""PostgreSQL provider (psycopg 3): reads stream by COPY inside read-only transactions.

What PostgreSQL shares with Redshift (types, value cleaning, window binding, error table, grant steps,
connection settings) is in `pgfamily.py`; this module is psycopg's side.
"""

from __future__ import annotations

import contextlib
import math
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from feeds.warehouses.base import (
    POSTGRES_ITERATOR_TYPES,
    Column,
    ConfigField,
    Page,
    PrepareStep,
    ReadWindow,
    WarehouseError,
    WirePage,
    wire_digests,
)
from feeds.warehouses.outbound import guard_host
from feeds.warehouses.pgfamily import (
    allow_unencrypted_field,
    bind_window,
    clean_rows,
    explain,
    field_type,
    grant_steps,
    parse_model,
    schema_field,
    unencrypted_allowed,
    valid_host,
    valid_name,
    valid_port,
)
from feeds.warehouses.sqlwarehouse import SqlWarehouse


def _column(description: Any) -> Column:
    d = description
    return Column(d.name, field_type(d.type_display), d.type_display, d.null_ok is not False)


def _copy_decoder(
    conn: Any, oids: list[int], columns: Sequence[Column]
) -> Callable[[list[bytes]], list[tuple]]:
    """Return a function decoding lines of COPY text format into rows, with psycopg's own (C) loaders.

    The loaders are the ones a text-format cursor uses, so the values are the same as a SELECT's.
    """
    from psycopg.adapt import Transformer
    from psycopg.pq import Format

    transformer = Transformer(conn)
    transformer.set_loader_types(oids, Format.TEXT)
    load = transformer.load_sequence

    def decode(lines: list[bytes]) -> list[tuple]:
        # A line without a backslash has no NULL (\N) and no escaped character: split it as it is.
        rows = [load(ln[:-1].split(b"\t")) if b"\\" not in ln else load(_escaped(ln)) for ln in lines]
        return clean_rows(columns, rows)

    return decode


# COPY text format: \N is NULL; backslash escapes a tab, newline, backslash... or a byte in octal or hex.
_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)", re.DOTALL)
_ESCAPED = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def _escaped(line: bytes) -> list[bytes | None]:
    return [None if f == b"\\N" else _ESCAPE.sub(_unescape, f) for f in line[:-1].split(b"\t")]


def _unescape(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code[:1] == b"x":
        return bytes([int(code[1:], 16)])
    if code[:1].isdigit():
        return bytes([int(code, 8) & 0xFF])
    return _ESCAPED.get(code, code)


@contextlib.contextmanager
def _ca_file(pem: Any) -> Iterator[str | None]:
    """Yield a file holding the CA certificate for the driver (libpq reads only files), removed after."""
    text = str(pem or "").strip()
    if not text:
        yield None
        return
    with tempfile.NamedTemporaryFile("w", suffix=".pem", prefix="wsync-ca-") as handle:
        handle.write(text + "\n")
        handle.flush()
        yield handle.name


# Without the opt-out, only modes that never send anything in clear text.
SSL_MODES = ("require", "verify-ca", "verify-full")
# What older wsync versions saved; read as "require" unless unencrypted connections are allowed.
_LEGACY_SSL_MODES = ("disable", "allow", "prefer")


def valid_pem_certificate(value: Any) -> None:
    text = str(value or "").strip()
    if text and "-----BEGIN CERTIFICATE-----" not in text:
        raise ValueError(
            "CA certificate: paste the PEM text of the certificate authority, starting with "
            "-----BEGIN CERTIFICATE-----."
        )


def ssl_mode(config: Mapping[str, Any]) -> str:
    """Return libpq's sslmode: TLS always, unless unencrypted connections are explicitly allowed.

    With a CA certificate, "require" becomes "verify-full": the server's name and certificate are checked.
    """
    if unencrypted_allowed(config):
        return "prefer"  # TLS when the server offers it, clear text when it does not
    mode = str(config.get("sslmode") or "require")
    if mode not in SSL_MODES:
        mode = "require"
    if mode == "require" and str(config.get("ssl_ca") or "").strip():
        mode = "verify-full"
    return mode


class PostgresWarehouse(SqlWarehouse):
    kind: ClassVar[str] = "postgres"
    dialect: ClassVar[str] = "postgres"
    has_sql: ClassVar[bool] = True
    iterator_types: ClassVar[tuple[str, ...]] = POSTGRES_ITERATOR_TYPES
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField("host", "Host", placeholder="db.example.com", validate=valid_host, binds_secrets=True),
        ConfigField("port", "Port", kind="integer", default=5432, validate=valid_port, binds_secrets=True),
        ConfigField("database", "Database", validate=valid_name("Database")),
        schema_field(),
        ConfigField("user", "User", validate=valid_name("User"), binds_secrets=True),
        ConfigField("password", "Password", kind="password", secret=True),
        ConfigField(
            "sslmode",
            "TLS mode",
            kind="choice",
            required=False,
            default="require",
            choices=tuple((m, m) for m in SSL_MODES),
            help_text="“require” encrypts the connection; with a CA certificate below wsync also checks the "
            "server's certificate and name (verify-full).",
            binds_secrets=True,
        ),
        ConfigField(
            "ssl_ca",
            "CA certificate (PEM)",
            kind="textarea",
            required=False,
            help_text="Optional: the certificate authority that signed the server's certificate.",
            validate=valid_pem_certificate,
            binds_secrets=True,
        ),
        allow_unencrypted_field(),
    )

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        problems: dict[str, str] = {}
        mode = config.get("sslmode") or "require"
        if mode not in SSL_MODES + _LEGACY_SSL_MODES:
            problems["sslmode"] = f"TLS mode must be one of: {', '.join(SSL_MODES)}."
        if mode in ("verify-ca", "verify-full") and not str(config.get("ssl_ca") or "").strip():
            problems["ssl_ca"] = f"TLS mode {mode} checks the server against a CA: paste the CA certificate."
        if not config.get("password"):
            problems["password"] = "Password is required: type the password of the wsync user."
        return problems

    @classmethod
    def prepare_steps(cls, config: Mapping[str, Any]) -> list[PrepareStep]:
        return grant_steps(
            config, create_user="CREATE ROLE {user} LOGIN PASSWORD '<a long random password>';"
        )

    # --- connections --------------------------------------------------------------------

    def _connect(self, *, seconds: float = 10, statement_timeout_s: float | None = None) -> Any:
        import psycopg

        host = str(self.config.get("host") or "").strip()
        # libpq connects to the checked address (hostaddr) and uses the name only for TLS.
        address = guard_host(host, field="host")
        options = f"-c statement_timeout={int(statement_timeout_s * 1000)}" if statement_timeout_s else None
        with _ca_file(self.config.get("ssl_ca")) as ca_path:
            try:
                return psycopg.connect(
                    host=host,
                    hostaddr=address,
                    port=int(self.config.get("port") or 5432),
                    dbname=self.config.get("database"),
                    user=self.config.get("user"),
                    password=self.config.get("password") or "",
                    sslmode=ssl_mode(self.config),
                    sslrootcert=ca_path,
                    # libpq takes whole seconds and waits at least 2.
                    connect_timeout=max(2, math.ceil(seconds)),
                    application_name="wsync",
                    options=options,
                )
            except psycopg.Error as exc:
                raise self._explain(exc) from None

    def _explain(self, exc: BaseException) -> WarehouseError:
        sqlstate = getattr(exc, "sqlstate", None)
        return explain(sqlstate, str(exc), self.config, provider="postgres")

    # --- the primitives SqlWarehouse derives check, describe and preview from ----------------

    def _round_trip(self, seconds: float) -> str:
        self._in_read_only(lambda conn: conn.execute("SELECT 1").fetchone(), seconds=seconds)
        return "Connected to PostgreSQL."

    def _description(self, conn: Any, sql: str) -> Sequence[Any]:
        """Return the driver's description of the model's result columns (a LIMIT 0 query)."""
        return conn.execute(parse_model(sql, self.dialect, limit=0)).description or ()

    def _describe(self, sql: str, seconds: float) -> list[Column]:
        return self._in_read_only(
            lambda conn: [_column(d) for d in self._description(conn, sql)],
            seconds=seconds,
            statement_timeout_s=seconds,
        )

    def _fetch(self, sql: str, rows: int, seconds: float) -> tuple[tuple[Column, ...], list[tuple[Any, ...]]]:
        def run(conn: Any) -> tuple[tuple[Column, ...], list[tuple[Any, ...]]]:
            cur = conn.execute(parse_model(sql, self.dialect, limit=rows))
            columns = tuple(
                Column(d.name, field_type(d.type_display), d.type_display) for d in cur.description or ()
            )
            return columns, clean_rows(columns, cur.fetchall())

        return self._in_read_only(run, seconds=seconds, statement_timeout_s=seconds)

    def _in_read_only(self, work: Callable[[Any], Any], **connect: Any) -> Any:
        import psycopg

        conn = self._connect(**connect)
        try:
            conn.read_only = True  # the implicit transaction starts with BEGIN READ ONLY
            return work(conn)
        except psycopg.Error as exc:
            raise self._explain(exc) from None
        finally:
            conn.close()

    def read(self, sql: str, window: ReadWindow | None, page_size: int) -> Iterator[Page]:
        import psycopg

        conn = self._connect()
        try:
            conn.read_only = True
            described = self._description(conn, sql)
            columns = tuple(_column(d) for d in described)
            query, params = bind_window(sql, self.dialect, window, columns)
            decode = _copy_decoder(conn, [d.type_code for d in described], columns)
            # COPY streams the model's rows (still its one SELECT, in the read-only transaction) in text
            # form, one message a row. Each page is digested as sent and decoded only when the engine asks:
            # a full sync never decodes the rows it already holds.
            with conn.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT", params) as copy:
                lines: list[bytes] = []
                for data in copy:
                    lines.append(bytes(data))
                    if len(lines) == page_size:
                        yield WirePage(columns, lines, decode, wire_digests(lines))
                        lines = []
                if lines:
                    yield WirePage(columns, lines, decode, wire_digests(lines))
        except psycopg.Error as exc:
            raise self._explain(exc) from None
        finally:
            conn.close()
