"""Form conditions (field, operator, value) compiled into one predicate over a field's values.

Missing fields and NULLs: only "is empty" and "does not equal" hold for them; every other operator is
false (docs/rules.md#conditions). Values are compared with their type: a number field compares with the
form's value as a number, a boolean with "true"/"false", a date-time text as a moment in time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from feeds.rules import OPERATORS, VALUE_KINDS
from feeds.rules.fields import MISSING

Predicate = Callable[[Any], bool]


def value_problem(operator: str, value: Any) -> str | None:
    """Return why `value` does not suit `operator`, in words, else None."""
    if operator not in OPERATORS:
        return f"“{operator}” is not an operator; use one of {', '.join(OPERATORS)}."
    kind = VALUE_KINDS[operator]
    if kind == "list" and not as_list(value):
        return "List at least one value, separated by commas."
    if kind == "number" and _number(value) is None:
        return f"“{value}” is not a number; write it like 42 or 3.5."
    if kind == "date" and _moment(value) is None:
        return f"“{value}” is not a date; write it as 2026-03-01 or 2026-03-01T10:00:00Z."
    if kind == "text" and value is None:
        return "Give a value to compare with."
    return None


def as_list(value: Any) -> list[str]:
    """Return a list value's items as text: a JSON list, or comma-separated text (spaces around items trimmed)."""
    if isinstance(value, list):
        return [_text(v) for v in value]
    text = str(value or "").strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return [_text(v) for v in parsed]
    return [item.strip() for item in text.split(",") if item.strip()]


def predicate(operator: str, value: Any) -> Predicate:
    """Return the condition as a function of one field value (MISSING when the batch lacks the field)."""
    if operator == "equals":
        return _equals(value)
    if operator == "not_equals":
        same = _equals(value)
        return lambda v: not same(v)
    if operator == "in_list":
        tests = [_equals(item) for item in as_list(value)]
        return lambda v: any(t(v) for t in tests)
    if operator == "contains":
        return _contains(_text(value))
    if operator == "starts_with":
        prefix = _text(value)
        return lambda v: v is not MISSING and v is not None and _text(v).startswith(prefix)
    if operator == "is_empty":
        return is_empty
    if operator == "is_not_empty":
        return lambda v: not is_empty(v)
    if operator in ("greater_than", "less_than"):
        return _compare(operator, _number(value))
    return _when(operator, _moment(value))


def is_empty(value: Any) -> bool:
    """Return True for a missing field, NULL, text of only spaces, and an empty list or object."""
    if value is MISSING or value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (list, dict)) and not value


def _equals(expected: Any) -> Predicate:
    text = _text(expected)
    number = _number(text)
    truth = {"true": True, "false": False}.get(text.lower())

    def same(v: Any) -> bool:
        if type(v) is str:
            return v == text
        if v is MISSING or v is None:
            return False
        if isinstance(v, bool):
            return truth is not None and v is truth
        if isinstance(v, (int, float)):
            return number is not None and v == number
        return _text(v) == text

    return same


def _contains(part: str) -> Predicate:
    def test(v: Any) -> bool:
        if type(v) is str:
            return part in v
        if v is MISSING or v is None:
            return False
        if isinstance(v, list):
            return any(_text(item) == part for item in v)
        return part in _text(v)

    return test


def _compare(operator: str, limit: float | None) -> Predicate:
    def test(v: Any) -> bool:
        number = _number(v) if isinstance(v, str) else v
        if limit is None or isinstance(number, bool) or not isinstance(number, (int, float)):
            return False
        return number > limit if operator == "greater_than" else number < limit

    return test


def _when(operator: str, limit: datetime | None) -> Predicate:
    def test(v: Any) -> bool:
        moment = _moment(v) if isinstance(v, str) else None
        if limit is None or moment is None:
            return False
        return moment < limit if operator == "before" else moment > limit

    return test


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value is MISSING:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value is MISSING:
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _moment(value: Any) -> datetime | None:
    """Return an ISO date or date-time text as an aware moment (a date is its midnight UTC, no zone is UTC)."""
    text = str(value or "").strip()
    if not text or text[0] not in "0123456789":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
