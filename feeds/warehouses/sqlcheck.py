"""The rule that only one read-only SELECT reaches a warehouse, checked with sqlglot in its dialect.

Used by the data-model step (as a form validator), the API, and `wrap_model` at the provider boundary,
so every path shares one rule and one set of messages.
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
    return _read_only_problem(statements[0])


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
