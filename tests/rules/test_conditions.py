"""Form conditions: every operator over text, numbers, booleans, dates, lists, NULLs, unicode and missing fields."""

from __future__ import annotations

import pytest

from feeds.rules.conditions import predicate, value_problem
from feeds.rules.fields import MISSING, getter

CASES = [
    # operator, form value, field value, expected
    ("equals", "test", "test", True),
    ("equals", "test", "Test", False),
    ("equals", "5", 5, True),
    ("equals", "5", 5.0, True),
    ("equals", "5", "5", True),
    ("equals", "true", True, True),
    ("equals", "1", True, False),
    ("equals", "test", None, False),
    ("equals", "test", MISSING, False),
    ("equals", "Zoë", "Zoë", True),
    ("not_equals", "test", "pro", True),
    ("not_equals", "test", "test", False),
    ("not_equals", "test", MISSING, True),
    ("not_equals", "test", None, True),
    ("in_list", "test, staging", "staging", True),
    ("in_list", '["a", "b"]', "b", True),
    ("in_list", "1,2", 2, True),
    ("in_list", "test, staging", "prod", False),
    ("in_list", "test", MISSING, False),
    ("contains", "@example", "ada@example.com", True),
    ("contains", "ë", "Zoë", True),
    ("contains", "x", "abc", False),
    ("contains", "vip", ["vip", "new"], True),
    ("contains", "vi", ["vip"], False),
    ("contains", "2", 123, True),
    ("contains", "x", None, False),
    ("starts_with", "ada", "ada@example.com", True),
    ("starts_with", "ada", "Ada@example.com", False),
    ("starts_with", "1", 12, True),
    ("starts_with", "a", MISSING, False),
    ("is_empty", None, MISSING, True),
    ("is_empty", None, None, True),
    ("is_empty", None, "  ", True),
    ("is_empty", None, [], True),
    ("is_empty", None, {}, True),
    ("is_empty", None, 0, False),
    ("is_empty", None, False, False),
    ("is_empty", None, "x", False),
    ("is_not_empty", None, "x", True),
    ("is_not_empty", None, MISSING, False),
    ("greater_than", "10", 11, True),
    ("greater_than", "10", 10, False),
    ("greater_than", "10", "11.5", True),
    ("greater_than", "10", "eleven", False),
    ("greater_than", "0", True, False),
    ("greater_than", "10", None, False),
    ("less_than", "10", 9.99, True),
    ("less_than", "10", MISSING, False),
    ("less_than", "-1", -2, True),
    ("before", "2026-03-01", "2026-02-28T23:59:59+00:00", True),
    ("before", "2026-03-01", "2026-03-01T00:00:00+00:00", False),
    ("before", "2026-03-01T00:00:00+01:00", "2026-02-28T22:30:00+00:00", True),
    ("before", "2026-03-01T00:00:00+01:00", "2026-02-28T23:30:00+00:00", False),
    ("after", "2026-03-01", "2026-03-01T00:00:01Z", True),
    ("after", "2026-03-01", "2026-03-02", True),
    ("after", "2026-03-01", "not a date", False),
    ("after", "2026-03-01", 1772359200000, False),
    ("after", "2026-03-01", None, False),
]


@pytest.mark.parametrize(("operator", "value", "field_value", "expected"), CASES)
def test_it_applies_each_operator(operator, value, field_value, expected):
    assert predicate(operator, value)(field_value) is expected


@pytest.mark.parametrize(
    ("operator", "value", "problem"),
    [
        ("greater_than", "ten", "“ten” is not a number"),
        ("before", "March 1st", "is not a date"),
        ("in_list", " , ", "List at least one value"),
        ("equals", None, "Give a value"),
        ("like", "x", "“like” is not an operator"),
    ],
)
def test_it_explains_a_value_that_does_not_suit_the_operator(operator, value, problem):
    assert problem in value_problem(operator, value)


def test_it_reads_each_field_kind_and_tells_missing_from_null():
    b = {
        "environment": "development",
        "user_identities": {"email": "a@b.c"},
        "device_info": {"ios_idfv": "X"},
        "user_attributes": {"plan": None},
        "events": [
            {"event_type": "custom_event", "data": {"event_name": "buy", "custom_attributes": {"n": 2}}}
        ],
    }
    assert getter("identities.email")(b) == "a@b.c"
    assert getter("identities.ios_idfv")(b) == "X"
    assert getter("attributes.plan")(b) is None
    assert getter("attributes.gone")(b) is MISSING
    assert getter("event.name")(b) == "buy"
    assert getter("event.type")(b) == "custom_event"
    assert getter("event.attributes.n")(b) == 2
    assert getter("environment")(b) == "development"
    assert getter("event.name")({"events": []}) is MISSING
