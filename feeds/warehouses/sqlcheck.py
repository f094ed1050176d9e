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
        return _parse_problem(error, sql)
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


def _parse_problem(error: ParseError | TokenError, sql: str) -> SQLProblem:
    """Say what sqlglot could not read as a person would, at the line and column where it went wrong."""
    if isinstance(error, TokenError) or not getattr(error, "errors", None):
        return _unclosed_quote(sql) or SQLProblem(
            "The query could not be read: check its quotes, brackets and punctuation."
        )
    first = error.errors[0]
    word = str(first.get("highlight") or "")
    line, column = first.get("line"), first.get("col")
    if isinstance(column, int) and word:
        column = max(1, column - len(word) + 1)  # sqlglot points at the word's end; people look at its start
    if (start := _first_word(sql)) is not None:
        return start
    return SQLProblem(_describe(str(first.get("description") or ""), word), line=line, column=column)


# What a statement may start with; anything else is usually a misspelt SELECT.
_STARTS = ("select", "with", "(", "values", "from", "table")
_REQUIRED = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]*\.(\w+)'>")
# sqlglot's expression class → what the person left out, in words.
_MISSING = {
    "Where": "WHERE needs a condition after it, such as WHERE active = true",
    "Having": "HAVING needs a condition after it",
    "Order": "ORDER BY needs the columns to sort by after it",
    "Ordered": "ORDER BY needs the columns to sort by after it",
    "Group": "GROUP BY needs the columns to group by after it",
    "Limit": "LIMIT needs a number after it",
    "Offset": "OFFSET needs a number after it",
    "Join": "JOIN needs a table after it",
    "Table": "a table name is missing",
    "Alias": "AS needs a name after it",
    "Cast": "CAST needs a type, as in CAST(x AS INTEGER)",
    "Not": "NOT needs something after it",
}
_OPERATORS = {
    "Add": "+",
    "Sub": "-",
    "Mul": "*",
    "Div": "/",
    "Mod": "%",
    "EQ": "=",
    "NEQ": "<>",
    "GT": ">",
    "GTE": ">=",
    "LT": "<",
    "LTE": "<=",
    "And": "AND",
    "Or": "OR",
    "Like": "LIKE",
    "ILike": "ILIKE",
    "In": "IN",
    "Is": "IS",
    "DPipe": "||",
    "Between": "BETWEEN",
}


def _describe(description: str, word: str) -> str:
    """Return sqlglot's description of a parse error in plain words."""
    if match := _REQUIRED.search(description):
        name = match.group(1)
        if name in _OPERATORS:
            return f"“{_OPERATORS[name]}” needs a value on both sides; one is missing."
        if name in _MISSING:
            return f"{_MISSING[name][0].upper()}{_MISSING[name][1:]}."
        return f"Something is missing after “{word}”." if word else "Something is missing here."
    if description.startswith("Expecting )"):
        return "A closing bracket “)” is missing: every “(” needs one."
    if description.startswith("Expected END after CASE"):
        return "CASE needs an END: CASE WHEN … THEN … END."
    if "following CTE" in description:
        return "WITH … AS (…) must be followed by a SELECT that uses it."
    if description.startswith("Expected table name"):
        return f"A table name is missing after “{word}”." if word else "A table name is missing."
    if description.startswith(("Invalid expression", "Unexpected token")) and word:
        return f"“{word}” is not expected here: check the spelling, or for a missing comma or operator before it."
    # Anything else: sqlglot's words without its internals (token dumps, class names).
    text = _TOKEN.sub(lambda m: f"“{m.group(1)}”", description.splitlines()[0] if description else "")
    text = re.sub(r"<class '[\w.]*\.(\w+)'>", lambda m: m.group(1).upper(), text).replace(
        "“SENTINEL”", "the end"
    )
    return (
        f"The query could not be read here ({text or 'unknown problem'}). Check the spelling and punctuation."
    )


def _first_word(sql: str) -> SQLProblem | None:
    """A problem naming the statement's first word when it is not how a query starts (SELEC, SLECT…)."""
    match = re.search(r"\S+", _COMMENTS.sub(lambda m: " " * len(m.group(0)), sql))
    if match is None:
        return None
    word = match.group(0)
    if word.lower().startswith(_STARTS):
        return None
    line = sql.count("\n", 0, match.start()) + 1
    column = match.start() - (sql.rfind("\n", 0, match.start()) + 1) + 1
    return SQLProblem(
        f"A query starts with SELECT (or WITH); “{word[:40]}” is not a keyword here. Check its spelling.",
        line=line,
        column=column,
    )


_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def _unclosed_quote(sql: str) -> SQLProblem | None:
    """Find a quote that is opened and never closed; return where it opens."""
    quote, opened, i = "", 0, 0
    while i < len(sql):
        char = sql[i]
        if not quote and sql.startswith("--", i):
            i = sql.find("\n", i) if "\n" in sql[i:] else len(sql)
            continue
        if not quote and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = len(sql) if end < 0 else end + 2
            continue
        if quote and char == quote:
            if sql.startswith(quote * 2, i):  # a doubled quote stands for the quote itself
                i += 2
                continue
            quote = ""
        elif not quote and char in "'\"`":
            quote, opened = char, i
        i += 1
    if not quote:
        return None
    line = sql.count("\n", 0, opened) + 1
    column = opened - (sql.rfind("\n", 0, opened) + 1) + 1
    what = {"'": "text", '"': "name", "`": "name"}[quote]
    return SQLProblem(
        f"A {what} opened with {quote} is never closed: add the closing {quote}.", line=line, column=column
    )
