"""Set-wise SQL for the profile store: a whole page in one statement, on PostgreSQL and SQLite alike.

A list of values travels as ONE parameter (a PostgreSQL array, or a JSON array that SQLite unpacks with
json_each), so statements never hit a driver's parameter limit and a page costs a constant number of queries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from django.db import connection


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def in_list(column: str, values: Iterable[Any], pg_type: str) -> tuple[str, list[Any]]:
    """Return `column IN <one list parameter>` and its parameter."""
    values = list(values)
    if is_postgres():
        return f"{column} = ANY(%s::{pg_type}[])", [pg_array(values, pg_type)]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json_text(values)]


def rows_source(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """Return a SELECT that yields `rows` as a table with the given (alias, PostgreSQL type) columns.

    A "jsonb" column carries any JSON value; the others carry plain scalars (datetimes already adapted
    with `db_datetime`).
    """
    if is_postgres():
        arrays = ", ".join(f"%s::{'text' if t == 'jsonb' else t}[]" for _, t in columns)
        names = ", ".join(f"c{i}" for i in range(len(columns)))
        select = ", ".join(f"c{i}::jsonb" if t == "jsonb" else f"c{i}" for i, (_, t) in enumerate(columns))
        params = [
            pg_array([json_text(r[i]) for r in rows] if t == "jsonb" else [r[i] for r in rows], t)
            for i, (_, t) in enumerate(columns)
        ]
        return f"SELECT {select} FROM unnest({arrays}) AS t({names})", params
    select = ", ".join(
        f"value -> {i}" if t == "jsonb" else f"value ->> {i}" for i, (_, t) in enumerate(columns)
    )
    # "WHERE true" lets SQLite parse a following ON CONFLICT clause. orjson writes a page of profiles' documents
    # ~15x faster than json.dumps (12 s of CPU a million rows).
    return f"SELECT {select} FROM json_each(%s) WHERE true", [json_text(rows)]


_ARRAY_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


def pg_array(values: Iterable[Any], pg_type: str) -> str:
    """Return a PostgreSQL array literal of the values, for a `%s::type[]` parameter.

    Formatting it here is several times cheaper than psycopg adapting a Python list element by element,
    and a page sends several lists of thousands of values. None is NULL; other values travel as their str().
    """
    values = list(values)
    if pg_type == "bigint" and None not in values:
        return "{" + ",".join(map(str, values)) + "}"
    if all(type(v) is str for v in values):
        joined = '","'.join(values)
        if '"' not in joined and "\\" not in joined:  # nothing to escape (identity values, as a rule)
            return '{"' + joined + '"}' if values else "{}"
    return (
        "{"
        + ",".join(["NULL" if v is None else '"' + str(v).translate(_ARRAY_ESCAPES) + '"' for v in values])
        + "}"
    )


def db_datetime(value: Any) -> Any:
    """Return a datetime as the database stores it (SQLite: text, PostgreSQL: the datetime)."""
    return value if is_postgres() or value is None else connection.ops.adapt_datetimefield_value(value)


def probe(
    columns: str, table: str, where: str, key: str, values: Iterable[Any], pg_type: str, params: list[Any]
) -> list[tuple[Any, ...]]:
    """PostgreSQL: `SELECT columns FROM table WHERE where AND key = v` for each value, one index probe each.

    OFFSET 0 keeps each a probe whatever the statistics say: on tables a run has just filled and nobody has
    analysed yet, `key = ANY(list)` of thousands of values is often planned as a scan (3-13x slower per page).
    """
    return fetch(
        f"SELECT p.* FROM unnest(%s::{pg_type}[]) AS k(v) CROSS JOIN LATERAL "
        f"(SELECT {columns} FROM {table} WHERE {where} AND {key} = k.v OFFSET 0) AS p",
        [pg_array(values, pg_type), *params],
    )


def fetch_matching(
    columns: str, table: str, where: str, key: str, values: Iterable[Any], pg_type: str, params: list[Any]
) -> list[tuple[Any, ...]]:
    """`SELECT columns FROM table WHERE where AND key IN values`: index probes on PostgreSQL, one list on SQLite."""
    if is_postgres():
        return probe(columns, table, where, key, values, pg_type, params)
    listed, listed_params = in_list(key, values, pg_type)
    return fetch(f"SELECT {columns} FROM {table} WHERE {where} AND {listed}", [*params, *listed_params])


def fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def insert_rows(
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    suffix: str = "",
) -> list[tuple[Any, ...]]:
    """INSERT all rows in one statement; `suffix` may add ON CONFLICT / RETURNING."""
    if not rows:
        return []
    source, params = rows_source(columns, rows)
    names = ", ".join(f'"{a}"' for a, _ in columns)
    sql = f"INSERT INTO {table} ({names}) {source} {suffix}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if "RETURNING" in suffix else []


def delete_keys(table: str, scope: list[Any], pairs: Sequence[tuple[str, str]]) -> None:
    """DELETE the identity rows of a scope (workspace, environment) keyed by the (type, value) `pairs`.

    One statement; each pair is one probe of the table's primary key.
    """
    if not pairs:
        return
    source, params = rows_source([("t", "text"), ("v", "text")], pairs)
    execute(
        f"DELETE FROM {table} WHERE workspace_id = %s AND environment = %s "
        f"AND (identity_type, value) IN ({source})",
        [*scope, *params],
    )


def copy_rows(
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    fixed: Sequence[tuple[str, str, Any]] = (),
) -> None:
    """Insert rows that cannot conflict; PostgreSQL streams them with ONE COPY, the text built here in one go.

    `fixed` are (name, type, value) columns with the same value in every row (workspace, feed, time), formatted
    once. psycopg's write_row costs ~4 µs a row in Python; formatting the COPY text ourselves is several times
    cheaper.
    """
    if not rows:
        return
    if not is_postgres():
        constant = tuple(v for _, _, v in fixed)
        insert_rows(table, [*columns, *((n, t) for n, t, _ in fixed)], [(*r, *constant) for r in rows])
        return
    formats = [_COPY_FORMATS[t] for _, t in columns]
    tail = "".join(f"\t{_COPY_FORMATS[t](v)}" for _, t, v in fixed)
    lines = ["\t".join([f(v) for f, v in zip(formats, row, strict=True)]) + tail for row in rows]
    copy_text(table, [a for a, _ in columns] + [n for n, _, _ in fixed], lines)


def copy_text(table: str, names: Sequence[str], lines: list[str]) -> None:
    """COPY lines already in PostgreSQL's text format (fields escaped with `copy_field`) into the table."""
    if not lines:
        return
    quoted = ", ".join(f'"{a}"' for a in names)
    # COPY goes through psycopg's own cursor, past Django's error translation: without the wrapper a unique
    # index refusing a row (a concurrent window stored it first) escaped as psycopg's UniqueViolation, which
    # the engine took for an unexpected error instead of a retryable database error.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy,
    ):
        copy.write("\n".join(lines) + "\n")


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_encode_string = json.encoder.encode_basestring_ascii


def copy_field(value: str) -> str:
    """Return text escaped for a field of COPY's text format."""
    return value.translate(_COPY_ESCAPES)


def json_text(value: Any) -> str:
    """Return value as compact JSON text, with fast paths for the scalars most attribute values are."""
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    try:
        return orjson.dumps(value).decode()  # ~5x json.dumps on attribute documents
    except TypeError:  # an integer beyond 64 bits: the standard library writes it
        return json.dumps(value, separators=(",", ":"))


def _copy_scalar(value: Any) -> str:
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    return value if kind is str and value.isalnum() else copy_field(str(value))


def _copy_json(value: Any) -> str:
    text = json_text(value)  # JSON text has no raw tab or newline: only its backslashes need escaping
    return text.translate(_COPY_ESCAPES) if "\\" in text else text


_COPY_FORMATS = {
    "bigint": _copy_scalar,
    "text": _copy_scalar,
    "timestamptz": _copy_scalar,
    "jsonb": _copy_json,
}
