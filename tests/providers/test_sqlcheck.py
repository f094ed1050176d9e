"""A broken data model is explained as a person would say it, at the line and column where it goes wrong."""

from __future__ import annotations

import pytest

from feeds.warehouses.sqlcheck import check_select

BROKEN = [
    ("SELECT * FROM users WHERE", 1, 21, "WHERE needs a condition after it"),
    ("SELECT *\nFROM users\nWHERE", 3, 1, "WHERE needs a condition after it"),
    ("SELECT * FROM", 1, 10, "A table name is missing after “FROM”"),
    ("SELECT (a FROM t", 1, 11, "A closing bracket “)” is missing"),
    ("SELECT * FROM t WHERE a IN (1, 2", 1, 32, "A closing bracket “)” is missing"),
    ("SELECT a FROM t WHERE x = 'abc", 1, 27, "A text opened with ' is never closed"),
    ('SELECT "first name FROM t', 1, 8, 'A name opened with " is never closed'),
    ("-- note\nSELECT 'it''s\nFROM t", 2, 8, "A text opened with ' is never closed"),
    ("SELEC * FROM t", 1, 1, "A query starts with SELECT (or WITH); “SELEC” is not a keyword here"),
    ("  slect email\nFROM t", 1, 3, "“slect” is not a keyword here"),
    ("SELECT * FROM t ORDER BY", 1, 17, "ORDER BY needs the columns to sort by after it"),
    ("SELECT * FROM t LIMIT", 1, 17, "LIMIT needs a number after it"),
    ("SELECT a b c FROM t", 1, 12, "“c” is not expected here"),
    ("SELECT a FROM t)", 1, 16, "“)” is not expected here"),
    ("SELECT CASE WHEN a THEN 1 FROM t", 1, 25, "CASE needs an END"),
    ("SELECT 1 +", 1, 10, "“+” needs a value on both sides"),
    ("SELECT * FROM t WHERE a = = 1", 1, 27, "“=” needs a value on both sides"),
    ("SELECT a FROM t WHERE b = 'x' AND", 1, 31, "“AND” needs a value on both sides"),
    ("WITH x AS (SELECT 1) ", 1, 20, "WITH … AS (…) must be followed by a SELECT"),
]


@pytest.mark.parametrize(("sql", "line", "column", "says"), BROKEN)
@pytest.mark.parametrize("dialect", ["postgres", "snowflake", "bigquery", "redshift", "duckdb"])
def test_it_explains_a_broken_query_where_it_breaks(
    sql: str, line: int, column: int, says: str, dialect: str
) -> None:
    problem = check_select(sql, dialect)
    assert problem is not None
    assert (problem.line, problem.column) == (line, column), str(problem)
    assert says in problem.message
    assert str(problem).startswith(f"Line {line}, column {column}: ")


@pytest.mark.parametrize("sql", [sql for sql, *_ in BROKEN])
def test_it_never_shows_the_parser_s_internals(sql: str) -> None:
    text = str(check_select(sql, "postgres"))
    for internal in ("<class", "sqlglot", "Required keyword", "Token", "SENTINEL", "expressions."):
        assert internal not in text, text


def test_it_still_accepts_a_query_that_reads() -> None:
    assert (
        check_select("SELECT email, 'it''s' AS note -- a comment\nFROM users WHERE a = 1", "postgres") is None
    )
