"""Checking steps: every wrong setting is named, with how to fix it."""

from __future__ import annotations

import pytest

from feeds.rules.steps import StepsInvalid, clean_step, clean_steps, describe


@pytest.mark.parametrize(
    ("raw", "setting", "words"),
    [
        ({"action": {"type": "drop_user"}}, "name", "Name the step"),
        ({"name": "x", "action": {"type": "explode"}}, "action.type", "Choose an action"),
        (
            {"name": "x", "action": {"type": "hash", "field": "attributes."}},
            "action.field",
            "Name the attributes",
        ),
        ({"name": "x", "action": {"type": "hash", "field": "colour"}}, "action.field", "is not a field"),
        (
            {"name": "x", "action": {"type": "hash", "field": "identities.fax"}},
            "action.field",
            "not an identity type",
        ),
        (
            {"name": "x", "action": {"type": "normalise_identity", "field": "attributes.e"}},
            "action.field",
            "identities.<type>",
        ),
        (
            {"name": "x", "action": {"type": "rename_attribute", "field": "attributes.a"}},
            "action.to",
            "Give the new name",
        ),
        (
            {"name": "x", "action": {"type": "set_attribute", "field": "attributes.a", "expression": "1 +"}},
            "action.expression",
            "Line 1, column 3",
        ),
        (
            {"name": "x", "action": {"type": "mask", "field": "attributes.a", "keep": "lots"}},
            "action.keep",
            "whole number",
        ),
        (
            {"name": "x", "action": {"type": "rename_attribute", "field": "identities.email", "to": "mail"}},
            "action.to",
            "not an identity type",
        ),
        (
            {
                "name": "x",
                "action": {"type": "drop_user"},
                "condition": {"field": "attributes.a", "operator": "greater_than", "value": "x"},
            },
            "condition.value",
            "not a number",
        ),
        (
            {
                "name": "x",
                "action": {"type": "drop_user"},
                "condition": {"field": "attributes.a", "operator": "like", "value": "x"},
            },
            "condition.operator",
            "not an operator",
        ),
        (
            {"name": "x", "action": {"type": "drop_user"}, "condition": {"expression": "plan == 1"}},
            "condition.expression",
            "“plan” is not a variable",
        ),
        ({"name": "x", "action": {"type": "drop_user"}, "enabled": "yes"}, "enabled", "true or false"),
    ],
)
def test_it_names_each_bad_setting(raw, setting, words):
    _, problems = clean_step(raw)
    assert words in problems[setting], problems


def test_clean_steps_numbers_the_problems_by_step():
    with pytest.raises(StepsInvalid) as raised:
        clean_steps(
            [{"name": "ok", "action": {"type": "drop_user"}}, {"name": "", "action": {"type": "drop_user"}}]
        )
    assert list(raised.value.problems) == ["steps[1].name"]


def test_clean_steps_refuses_what_is_not_a_list():
    with pytest.raises(StepsInvalid, match="as a list"):
        clean_steps({"name": "x"})


def test_a_clean_step_keeps_its_id_and_reads_in_words():
    step, problems = clean_step(
        {
            "id": "abc",
            "name": "Drop tests",
            "action": {"type": "drop_user"},
            "condition": {"field": "attributes.plan", "operator": "in_list", "value": "test, qa"},
        }
    )
    assert problems == {} and step["id"] == "abc"
    assert step["condition"]["value"] == "test, qa"
    assert describe(step) == "When attributes.plan is one of test, qa: Drop the user's data"
