"""The rule that only one read-only SELECT of the warehouse's own tables reaches a warehouse.

Checked with sqlglot in the warehouse's dialect. Used by the data-model step (as a form validator), the
API, and `wrap_model` at the provider boundary, so every path shares one rule and one set of messages.
The file and network functions below are refused by name as a second line of defence: the first is the
warehouse itself (DuckDB runs with external access off; the other warehouses' logins are granted no
file, program or remote-server rights, see docs/warehouse-security.md).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

# sqlglot logs a warning for every statement it falls back on; the user gets our message instead.
logging.getLogger("sqlglot").setLevel(logging.ERROR)
_TOKEN = re.compile(r"<Token token_type: [^,]+, text: ([^,]*), [^>]*>")

# Statements that change something; named in the message so the user knows what to remove.
WRITE_NODES: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.Insert, "INSERT"),
    (exp.Update, "UPDATE"),
    (exp.Delete, "DELETE"),
    (exp.Merge, "MERGE"),
    (exp.Create, "CREATE"),
    (exp.Drop, "DROP"),
    (exp.Alter, "ALTER"),
    (exp.Grant, "GRANT"),
    (exp.Command, "a command"),
    (exp.Into, "SELECT ... INTO"),
)


# Per dialect, functions that read server files, URLs, stages or other servers (lower case).
_PG_OUTSIDE = frozenset(
    {
        "pg_read_file",
        "pg_read_binary_file",
        "pg_stat_file",
        "pg_ls_dir",
        "pg_ls_logdir",
        "pg_ls_waldir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "pg_logdir_ls",
        "pg_file_write",
        "lo_import",
        "lo_export",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "dblink_connect_u",
        "dblink_open",
        "dblink_fetch",
        "dblink_send_query",
        "dblink_get_result",
    }
)
OUTSIDE_FUNCTIONS: dict[str, frozenset[str]] = {
    "duckdb": frozenset(
        {
            "read_text",
            "read_blob",
            "read_csv",
            "read_csv_auto",
            "sniff_csv",
            "read_json",
            "read_json_auto",
            "read_json_objects",
            "read_json_objects_auto",
            "read_ndjson",
            "read_ndjson_auto",
            "read_ndjson_objects",
            "read_parquet",
            "parquet_scan",
            "parquet_metadata",
            "parquet_schema",
            "parquet_file_metadata",
            "parquet_kv_metadata",
            "read_xlsx",
            "glob",
            "iceberg_scan",
            "delta_scan",
            "sqlite_scan",
            "postgres_scan",
            "mysql_scan",
            "getenv",
            "query",
            "query_table",
        }
    ),
    "postgres": _PG_OUTSIDE,
    "redshift": _PG_OUTSIDE,
    "snowflake": frozenset(
        {
            "infer_schema",
            "get_presigned_url",
            "build_scoped_file_url",
            "build_stage_file_url",
            "get_stage_location",
            "get_relative_path",
            "get_absolute_path",
        }
    ),
    "bigquery": frozenset({"external_query"}),
}
# DuckDB reads a quoted path in FROM ('/data/x.csv', 'https://...') as a file: refused by the look of it.
_DUCKDB_FILE_TABLE = re.compile(r"[/\\:]|\.(csv|tsv|txt|json|ndjson|parquet|xlsx|gz|zst)$", re.IGNORECASE)


@dataclass(frozen=True)
class SQLProblem:
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"Line {self.line}, column {self.column}: {self.message}"


def check_select(sql: str, dialect: str) -> SQLProblem | None:
    """Return the first problem that stops `sql` from being exactly one read-only SELECT, or None."""
    if not sql.strip():
        return SQLProblem("Write a SELECT query for the data model.")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError) as error:
        return _parse_problem(error)
    if len(statements) != 1:
        return SQLProblem(
            f"Write exactly one SELECT statement; this has {len(statements)}. Remove the extra statements "
            "(and any “;” between them)."
        )
    return _read_only_problem(statements[0]) or _outside_problem(statements[0], dialect)


def _outside_problem(statement: exp.Expr, dialect: str) -> SQLProblem | None:
    """Return a problem naming the first function or FROM item that reads outside the warehouse."""
    refused = OUTSIDE_FUNCTIONS.get(dialect, frozenset())
    for function in statement.find_all(exp.Func):
        name = function.name if isinstance(function, exp.Anonymous) else function.sql_name()
        if name.lower() in refused:
            return SQLProblem(
                f"The data model may only read the warehouse's own tables: remove {name.lower()}(…), which "
                "reads files, URLs or other servers. Load that data into a warehouse table first."
            )
    for table in statement.find_all(exp.Table):
        name = table.name
        if (dialect == "snowflake" and name.startswith("@")) or (
            dialect == "duckdb" and _DUCKDB_FILE_TABLE.search(name)
        ):
            return SQLProblem(
                f"The data model may only read the warehouse's own tables: remove “{name}”, which names a "
                "file, URL or stage. Load that data into a warehouse table first."
            )
    return None


def _read_only_problem(statement: exp.Expr) -> SQLProblem | None:
    for node_type, name in WRITE_NODES:
        if statement.find(node_type) is not None:
            return SQLProblem(
                f"The data model may only read data: remove {name}. wsync runs one read-only SELECT "
                "(WITH … SELECT is fine)."
            )
    if not isinstance(statement, exp.Query):
        return SQLProblem("The data model must be a SELECT query (WITH … SELECT is fine).")
    return None


def _parse_problem(error: ParseError | TokenError) -> SQLProblem:
    details = getattr(error, "errors", None) or [{}]
    first = details[0]
    description = str(first.get("description") or error).splitlines()[0]
    description = _TOKEN.sub(lambda m: f"“{m.group(1)}”", description)
    description = description.replace("Invalid expression / Unexpected token", "unexpected word")
    return SQLProblem(
        f"The query could not be read: {description}. Check the spelling and punctuation near this spot.",
        line=first.get("line"),
        column=first.get("col"),
    )
