"""CEL expressions: checked as typed with the problem's position, evaluated per row, errors rejecting the row."""

from __future__ import annotations

import pytest

from feeds.rules.cel import CelError, compile_expression, evaluate, expression_problem

ROW = {
    "identities": {"email": " Ada@Example.COM "},
    "attributes": {"plan": "pro", "n": 3},
    "event": {},
    "environment": "production",
}


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        ("attributes.plan ==", "Line 1, column 17"),
        ("1 +", "Line 1, column 3"),
        ("attributes.plan == 'a' &&\n  (", "Line 2, column 3"),
        ("colour == 'red'", "Line 1, column 1"),
        ("identities.email.frobnicate()", "Line 1, column 18"),
        ("attributes.n > 1 && nope(attributes.n)", "Line 1, column 21"),
    ],
)
def test_it_reports_each_problem_at_its_position(expression, position):
    problem = expression_problem(expression)
    assert problem is not None and problem.startswith(position), problem


@pytest.mark.parametrize(
    "expression",
    [
        "attributes.plan == 'test'",
        "has(attributes.plan) && attributes.plan.startsWith('t')",
        "[1, 2].exists(x, x > attributes.n)",
        "identities.email.trim().lowerAscii()",
        "environment in ['production', 'development']",
    ],
)
def test_it_accepts_valid_expressions(expression):
    assert expression_problem(expression) is None


def test_it_evaluates_with_the_added_string_functions():
    assert evaluate(compile_expression("lowerAscii(trim(identities.email))"), ROW) == "ada@example.com"
    assert evaluate(compile_expression("identities.email.trim().lowerAscii()"), ROW) == "ada@example.com"
    assert (
        evaluate(compile_expression("sha256('a')"), ROW)
        == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
    )
    assert evaluate(compile_expression("attributes.n * 2"), ROW) == 6
    assert evaluate(compile_expression("{'a': [1, true]}"), ROW) == {"a": [1, True]}


def test_a_missing_field_is_an_error_on_that_row_that_says_how_to_guard_it():
    with pytest.raises(CelError, match="has no 'gone'.*has"):
        evaluate(compile_expression("attributes.gone == 1"), ROW)


def test_a_type_error_is_an_error_on_that_row():
    with pytest.raises(CelError):
        evaluate(compile_expression("attributes.plan + 1"), ROW)


@pytest.mark.parametrize(
    "expression",
    ["open('/etc/passwd')", "import('os')", "http_get('http://x')", "__import__('os')", "exec('1')"],
)
def test_nothing_reaches_the_file_system_or_the_network(expression):
    """CEL has no such functions, and names outside its own are refused before anything runs."""
    assert "is not a function" in (expression_problem(expression) or "")
