"""What a rule step is, checked field by field: the editor's form, the API and activation share these checks.

A step (stored as JSON in RuleSet.draft and RuleVersion.steps):

    {"id": "a1b2c3d4", "name": "Lowercase email", "enabled": true,
     "condition": null | {"field": "attributes.plan", "operator": "equals", "value": "test"}
                       | {"expression": "attributes.plan == 'test'"},
     "action": {"type": "normalise_identity", "field": "identities.email", ...}}

Action settings by type: "field" for every field action; "to" (the new name) for rename_attribute;
"value" (static) or "expression" (CEL) for set_attribute; "event_name" (optional) for drop_event;
"keep" (characters left visible at the end, default 4) for mask.
"""

from __future__ import annotations

import secrets
from typing import Any

from feeds.mapping import IDENTITY_TYPES
from feeds.rules import ACTIONS, FIELD_ACTIONS, VALUE_KINDS
from feeds.rules.cel import expression_problem
from feeds.rules.conditions import value_problem
from feeds.rules.fields import field_problem, section

MAX_STEPS = 50
MAX_TEXT = 2000


class StepsInvalid(ValueError):
    """The steps have problems: `problems` maps "steps[i].<setting>" to what to fix."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def new_id() -> str:
    """Return a short random id for a new step (ids keep a step's identity when steps are reordered)."""
    return secrets.token_hex(4)


def clean_steps(raw: Any) -> list[dict[str, Any]]:
    """Return the steps in their stored form; raises StepsInvalid naming each bad setting."""
    if not isinstance(raw, list):
        raise StepsInvalid({"steps": "Give the steps as a list."})
    if len(raw) > MAX_STEPS:
        raise StepsInvalid({"steps": f"A feed has at most {MAX_STEPS} steps; remove some."})
    cleaned, problems = [], {}
    for i, item in enumerate(raw):
        step, found = clean_step(item)
        cleaned.append(step)
        problems.update({f"steps[{i}].{k}": v for k, v in found.items()})
    if problems:
        raise StepsInvalid(problems)
    return cleaned


def clean_step(raw: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (the step in its stored form, {setting: problem}); the step is usable only without problems."""
    if not isinstance(raw, dict):
        return {}, {"step": "Give each step as an object with a name, a condition and an action."}
    problems: dict[str, str] = {}
    name = _text(raw.get("name")).strip()
    if not name:
        problems["name"] = "Name the step, e.g. “Lowercase emails”."
    elif len(name) > 200:
        problems["name"] = "Keep the name under 200 characters."
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems["enabled"] = "Say true or false."
    condition = _condition(raw.get("condition"), problems)
    action = _action(raw.get("action"), problems)
    step_id = _text(raw.get("id")).strip()[:16] or new_id()
    return {
        "id": step_id,
        "name": name,
        "enabled": enabled is not False,
        "condition": condition,
        "action": action,
    }, problems


def _condition(raw: Any, problems: dict[str, str]) -> dict[str, Any] | None:
    if raw in (None, {}, ""):
        return None
    if not isinstance(raw, dict):
        problems["condition"] = "Give the condition as a field, an operator and a value, or as an expression."
        return None
    if "expression" in raw:
        expression = _text(raw.get("expression"))
        problem = expression_problem(expression) if expression.strip() else "Write the expression."
        if problem:
            problems["condition.expression"] = problem
        return {"expression": expression}
    field = _text(raw.get("field")).strip()
    operator = _text(raw.get("operator")).strip()
    value = raw.get("value")
    if problem := field_problem(field):
        problems["condition.field"] = problem
    if problem := value_problem(operator, value):
        problems["condition.operator" if operator not in VALUE_KINDS else "condition.value"] = problem
    if VALUE_KINDS.get(operator) == "":
        value = None
    elif VALUE_KINDS.get(operator) != "list":
        value = _text(value)
    return {"field": field, "operator": operator, "value": value}


def _action(raw: Any, problems: dict[str, str]) -> dict[str, Any]:
    if not isinstance(raw, dict) or raw.get("type") not in ACTIONS:
        problems["action.type"] = f"Choose an action: {', '.join(ACTIONS)}."
        return {"type": ""}
    kind = raw["type"]
    action: dict[str, Any] = {"type": kind}
    if kind in FIELD_ACTIONS:
        action["field"] = field = _text(raw.get("field")).strip()
        if problem := field_problem(field):
            problems["action.field"] = problem
        elif kind == "normalise_identity" and not field.startswith("identities."):
            problems["action.field"] = "Normalise works on an identity: choose identities.<type>."
        elif kind in ("remove_attribute", "rename_attribute") and section(field)[0] in (
            "top",
            "event",
            "event_data",
        ):
            problems["action.field"] = "Choose an identity, a user attribute or an event attribute."
    _settings(kind, raw, action, problems)
    renamed = action.get("to")
    identity = action.get("field", "").startswith("identities.")
    if kind == "rename_attribute" and identity and renamed and renamed not in IDENTITY_TYPES:
        problems["action.to"] = (
            f"“{renamed}” is not an identity type; an identity can only become another one."
        )
    return action


def _settings(kind: str, raw: dict, action: dict[str, Any], problems: dict[str, str]) -> None:
    if kind == "rename_attribute":
        action["to"] = to = _text(raw.get("to")).strip()
        if not to or "." in to:
            problems["action.to"] = "Give the new name, without dots (it stays in the same place)."
    elif kind == "set_attribute":
        expression = _text(raw.get("expression"))
        if expression.strip():
            action["expression"] = expression
            if problem := expression_problem(expression):
                problems["action.expression"] = problem
        else:
            action["value"] = raw.get("value")
            if isinstance(action["value"], (dict, list)) and len(str(action["value"])) > MAX_TEXT:
                problems["action.value"] = f"Keep the value under {MAX_TEXT} characters."
    elif kind == "drop_event":
        action["event_name"] = _text(raw.get("event_name")).strip()
    elif kind == "mask":
        keep = raw.get("keep", 4)
        try:
            action["keep"] = int(keep if keep not in (None, "") else 4)
        except (TypeError, ValueError):
            action["keep"] = 4
            problems["action.keep"] = "Say how many characters stay visible, as a whole number (e.g. 4)."
        else:
            if not 0 <= action["keep"] <= 64:
                problems["action.keep"] = "Keep between 0 and 64 characters visible."


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_TEXT]


def describe(step: dict[str, Any]) -> str:
    """Return the step in words, e.g. “When attributes.plan equals test: Drop the user's data”."""
    from feeds.rules import OPERATORS

    action = step.get("action") or {}
    what = ACTIONS.get(action.get("type", ""), "")
    if action.get("field"):
        what += f" {action['field']}"
    if action.get("to"):
        what += f" → {action['to']}"
    condition = step.get("condition")
    if not condition:
        return what
    if "expression" in condition:
        return f"When {condition['expression']}: {what}"
    value = condition.get("value")
    shown = ", ".join(value) if isinstance(value, list) else (value or "")
    return (
        f"When {condition['field']} {OPERATORS.get(condition['operator'], '')} {shown}".rstrip() + f": {what}"
    )
