"""The Databricks data model: a table reference, read from the little SQL Delta Sharing can honour.

Delta Sharing has no SQL engine. The data model names one shared table and optionally a column list
(`SELECT a, b FROM share.schema.table`); anything more is refused with a message that says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from feeds.warehouses.base import WarehouseError

SQL_EXPLANATION = (
    "Delta Sharing has no SQL engine, so the data model can only name one shared table and, if you "
    "like, the columns to read: SELECT email, updated_at FROM share.schema.table (or just "
    "share.schema.table; SELECT * FROM schema.table uses the share configured for this warehouse). "
    "Filters, joins, functions, grouping and sorting are not available; wsync reads the table and "
    "filters by the iterator column itself after reading."
)
# A bare table reference: table, schema.table or share.schema.table, parts plain or `quoted`.
_TABLE_NAME = re.compile(r"(`[^`]+`|[\w\-]+)(\.(`[^`]+`|[\w\-]+)){0,2}")
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
