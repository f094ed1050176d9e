"""DuckDB: the embedded default warehouse (and the demo's). A file on the wsync server, opened read-only.

DuckDB runs inside the wsync process, so a data model could otherwise read any file the process can
(`read_text('/proc/self/environ')`, the keys in the data folder) or fetch URLs past the host guard.
Every connection therefore starts with external access off, no extension auto-install or auto-load,
and its configuration locked, so the model can read only the tables of its own file
(docs/warehouse-security.md). The files themselves must sit under WSYNC_DUCKDB_ROOTS, which may never
hold wsync's own keys or database.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings

from feeds.warehouses.arrowrows import batch_rows, exact_pages
from feeds.warehouses.base import (
    POSTGRES_ITERATOR_TYPES,
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
from feeds.warehouses.sqlwarehouse import SqlWarehouse

log = logging.getLogger(__name__)


# Set when the connection opens, before the configuration is locked: a model cannot SET them back.
_OPENING = threading.Lock()
_LOCKED_DOWN: dict[str, Any] = {
    "enable_external_access": False,  # no files but this database, no URLs, no ATTACH, COPY, INSTALL or LOAD
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def allowed_roots() -> list[Path]:
    """Return the folders DuckDB files may live in (settings.WSYNC_DUCKDB_ROOTS), resolved."""
    return [Path(root).resolve() for root in settings.WSYNC_DUCKDB_ROOTS]


def _private_paths() -> list[Path]:
    """Return wsync's own keys and database: the data folder, key files given by path, SQLite databases."""
    paths = [Path(settings.DATA_DIR).resolve()]
    for name in ("SECRET_KEY_FILE", "WSYNC_FERNET_KEYS_FILE"):
        if os.environ.get(name):
            paths.append(Path(os.environ[name]).resolve())
    for database in settings.DATABASES.values():
        if "sqlite" in str(database.get("ENGINE", "")) and database.get("NAME"):
            paths.append(Path(str(database["NAME"])).resolve())
    return paths


def unsafe_roots() -> list[str]:
    """Return a message for each allowed DuckDB folder that would expose wsync's keys or database."""
    problems = []
    for root in allowed_roots():
        exposed = [p for p in _private_paths() if p == root or p.is_relative_to(root)]
        if exposed:
            problems.append(
                f"WSYNC_DUCKDB_ROOTS includes {root}, which holds wsync's own keys or database ({exposed[0]}). "
                f"Set WSYNC_DUCKDB_ROOTS to a folder of its own, such as {Path(settings.DATA_DIR) / 'warehouses'}, "
                "and move your DuckDB files there."
            )
    return problems


def path_problem(path: Path) -> str | None:
    """Return why wsync may not open the DuckDB file at `path`, or None when it may."""
    unsafe = unsafe_roots()
    if unsafe:
        return unsafe[0]
    roots = allowed_roots()
    if not any(path.resolve().is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots) or "no folder (WSYNC_DUCKDB_ROOTS is empty)"
        return f"wsync may only open DuckDB files under {allowed}. Move the file there and give its new path."
    return None


def _validate_path(value: str) -> None:
    if not str(value).endswith((".duckdb", ".db", ".ddb")):
        raise ValueError("Give the full path of a DuckDB database file, ending in .duckdb (or .db).")
    if not Path(value).is_absolute():
        raise ValueError("Give the full path, starting with “/”, for example /srv/data/warehouse.duckdb.")


class DuckDBWarehouse(SqlWarehouse):
    kind: ClassVar[str] = "duckdb"
    dialect: ClassVar[str] = "duckdb"
    has_sql: ClassVar[bool] = True
    iterator_types: ClassVar[tuple[str, ...]] = POSTGRES_ITERATOR_TYPES
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField(
            "path",
            "Database file",
            placeholder="/srv/wsync/data/warehouses/warehouse.duckdb",
            help_text="The full path of the DuckDB file on the wsync server, in a folder listed in "
            "WSYNC_DUCKDB_ROOTS. wsync opens it read-only, with file and network access off.",
            validate=_validate_path,
        ),
    )

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.path = Path(str(config.get("path", "")))

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        problem = path_problem(Path(str(config.get("path", ""))))
        return {"path": problem} if problem else {}

    @classmethod
    def prepare_steps(cls, config: Mapping[str, Any]) -> list[PrepareStep]:
        path = config.get("path") or "/srv/wsync/data/warehouses/warehouse.duckdb"
        return [
            PrepareStep(
                "Put the DuckDB file on the wsync server, readable by the wsync user",
                f"chmod a+r {path}",
                language="shell",
                note="wsync opens the file read-only, so no SQL grants are needed.",
            )
        ]

    # --- the primitives SqlWarehouse derives check, describe and preview from ----------------

    def _explain(self, error: BaseException) -> WarehouseError:
        return self._error(error)  # type: ignore[arg-type]  # _error sorts DuckDB's errors, and words any other

    def _round_trip(self, seconds: float) -> str:
        with self._connect() as connection:
            self._execute(connection, "SELECT 1").fetchall()
        return f"Connected to {self.path.name}."

    def _describe(self, sql: str, seconds: float) -> list[Column]:
        with self._connect() as connection:
            relation = self._execute(connection, wrap_model(sql, self.dialect, limit=0))
            return [
                self._column(name, dtype)
                for name, dtype in zip(relation.columns, relation.types, strict=True)
            ]

    def _fetch(self, sql: str, rows: int, seconds: float) -> tuple[tuple[Column, ...], list[tuple[Any, ...]]]:
        with self._connect() as connection:
            # DuckDB runs in this process: the query is interrupted when its time is up.
            watchdog = threading.Timer(seconds, connection.interrupt)
            watchdog.start()
            try:
                query = wrap_model(sql, self.dialect, limit=rows)
                columns, reader = self._reader(connection, query, [], rows)
                return columns, [row for batch in self._batches(reader) for row in batch_rows(batch, columns)]
            finally:
                watchdog.cancel()

    def read(self, sql: str, window: ReadWindow | None, page_size: int) -> Iterator[Page]:
        query = wrap_model(sql, self.dialect, window=window, placeholder="?")
        with self._connect() as connection:
            columns, reader = self._reader(connection, query, self._params(window), page_size)
            # Batches end at row-group boundaries too, so they are re-cut to exact pages.
            yield from exact_pages(self._batches(reader), columns, page_size)

    # --- internals ------------------------------------------------------------------------

    def _connect(self) -> Any:
        import duckdb

        # Checked on every open, not only when the connection is saved: the roots may have changed since.
        problem = path_problem(self.path)
        if problem:
            raise WarehouseError(problem, permanent=True, field="path")
        if not self.path.is_file():
            raise WarehouseError(
                f"The DuckDB file “{self.path}” does not exist. Check the path and that the file is on the "
                "wsync server.",
                permanent=True,
                field="path",
            )
        try:
            # DuckDB shares one database instance among a process's open connections to a file, and its
            # lock is the instance's: a second connection (a preview while a read is open) finds it locked
            # already, with the zone the first one set globally. Opening one at a time keeps that check
            # and the lock together when web threads open the same file at once.
            with _OPENING:
                connection = duckdb.connect(str(self.path), read_only=True, config=_LOCKED_DOWN)
                ((locked,),) = connection.execute("SELECT current_setting('lock_configuration')").fetchall()
                if not locked:
                    # Zoned timestamps come back in UTC whatever the server's zone is.
                    connection.execute("SET GLOBAL TimeZone = 'UTC'")
                    connection.execute("SET lock_configuration = true")
        except duckdb.Error as error:
            raise self._error(error) from None
        return connection

    def _execute(self, connection: Any, query: str) -> Any:
        import duckdb

        try:
            return connection.sql(query)
        except duckdb.Error as error:
            raise self._error(error) from None

    def _reader(
        self, connection: Any, query: str, params: list[Any], batch_size: int
    ) -> tuple[tuple[Column, ...], Any]:
        import duckdb

        try:
            relation = connection.sql(query, params=params or None)
            columns = tuple(self._column(n, t) for n, t in zip(relation.columns, relation.types, strict=True))
            return columns, relation.to_arrow_reader(batch_size)
        except duckdb.Error as error:
            raise self._error(error) from None

    def _batches(self, reader: Any) -> Iterator[Any]:
        import duckdb

        try:
            yield from reader
        except duckdb.Error as error:
            raise self._error(error) from None

    def _column(self, name: str, dtype: Any) -> Column:
        text = str(dtype).upper()
        return Column(name, _duck_type(text), text)

    def _params(self, window: ReadWindow | None) -> list[Any]:
        if window is None:
            return []
        bounds = [b for b in (window.lower, window.upper) if b is not None]
        if window.kind is IteratorKind.TIMESTAMP and window.iterator_type.lower() == "timestamp":
            # A column without zone compares as wall-clock time in the feed's zone; DuckDB would
            # cast an aware parameter through the session zone instead, so pass wall-clock values.
            bounds = [_wall_clock(b, window.timezone) for b in bounds]
        return bounds + window.since_values()

    @staticmethod
    def _error(error: Exception) -> WarehouseError:
        import duckdb

        text = str(error).splitlines()[0]
        if isinstance(error, duckdb.PermissionException) or "the configuration has been locked" in text:
            return WarehouseError(
                "The data model may only read the tables in this DuckDB file: reading files, URLs or "
                "extensions on the wsync server, and changing settings, are not allowed. Load the data "
                f"into a table of the DuckDB file instead. (DuckDB said: {text})",
                permanent=True,
                field="sql",
            )
        if "Interrupt" in text:
            return WarehouseError(
                "The query took too long and was stopped. Add filters or a LIMIT.", permanent=False
            )
        if "Catalog Error" in text or "Binder Error" in text or "Parser Error" in text:
            return WarehouseError(f"DuckDB could not run the query: {text}", permanent=True, field="sql")
        if "lock" in text.lower():
            return WarehouseError(
                "The DuckDB file is being written by another program; try again in a moment.", permanent=False
            )
        log.warning("DuckDB error: %s", type(error).__name__)
        return WarehouseError(f"DuckDB reported an error: {text}", permanent=True)


_DUCK_TYPES: tuple[tuple[str, FieldType], ...] = (
    ("TIMESTAMP WITH TIME ZONE", FieldType.TIMESTAMP_TZ),
    ("TIMESTAMP", FieldType.TIMESTAMP),
    ("DATE", FieldType.DATE),
    ("DECIMAL", FieldType.DECIMAL),
    ("JSON", FieldType.JSON),
    ("STRUCT", FieldType.JSON),
    ("MAP", FieldType.JSON),
    ("BOOLEAN", FieldType.BOOLEAN),
    ("DOUBLE", FieldType.FLOAT),
    ("FLOAT", FieldType.FLOAT),
    ("REAL", FieldType.FLOAT),
    ("BLOB", FieldType.BINARY),
)


def _duck_type(text: str) -> FieldType:
    if text.endswith("]"):
        return FieldType.ARRAY
    for prefix, field_type in _DUCK_TYPES:
        if text.startswith(prefix):
            return field_type
    return FieldType.INTEGER if "INT" in text and not text.startswith("INTERVAL") else FieldType.STRING


def _wall_clock(value: Any, zone: str) -> Any:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return value
