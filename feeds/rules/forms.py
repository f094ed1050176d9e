"""The editor's step form: one step as a marketer fills it in, turned into the stored step shape.

The checks are feeds.rules.steps' (shared with the API); their problems come back on the form's fields.
"""

from __future__ import annotations

from typing import Any

from django import forms

from feeds.rules import ACTIONS, OPERATORS

CONDITION_KINDS = [
    ("", "Always"),
    ("form", "When a field…"),
    ("expression", "When an expression (CEL) holds"),
]
# stored setting → form field, so a problem found by feeds.rules.steps lands next to its input
FIELD_OF = {
    "name": "name",
    "enabled": "name",
    "condition": "condition_kind",
    "condition.field": "field",
    "condition.operator": "operator",
    "condition.value": "value",
    "condition.expression": "expression",
    "action.type": "action",
    "action.field": "target",
    "action.to": "to",
    "action.value": "set_value",
    "action.expression": "set_expression",
    "action.event_name": "event_name",
    "action.keep": "keep",
}


class StepForm(forms.Form):
    name = forms.CharField(max_length=200, label="Step name")
    condition_kind = forms.ChoiceField(choices=CONDITION_KINDS, required=False, label="Apply")
    field = forms.CharField(
        max_length=300,
        required=False,
        label="Condition field",
        help_text="e.g. attributes.plan, identities.email, event.name",
    )
    operator = forms.ChoiceField(choices=[("", "—")] + list(OPERATORS.items()), required=False)
    value = forms.CharField(
        max_length=2000,
        required=False,
        label="Compare with",
        help_text="For “is one of”, separate values with commas.",
    )
    expression = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Condition (CEL expression)",
    )
    action = forms.ChoiceField(choices=[("", "—")] + list(ACTIONS.items()))
    target = forms.CharField(
        max_length=300,
        required=False,
        label="Field to change",
        help_text="e.g. identities.email, attributes.plan",
    )
    to = forms.CharField(max_length=200, required=False, label="New name")
    set_value = forms.CharField(max_length=2000, required=False, label="New value")
    set_expression = forms.CharField(max_length=2000, required=False, label="New value as a CEL expression")
    event_name = forms.CharField(max_length=256, required=False, label="Event name (empty: any event)")
    keep = forms.IntegerField(required=False, min_value=0, max_value=64, label="Characters left visible")

    def step(self) -> dict[str, Any]:
        """Return the step in the shape feeds.rules.steps checks (call after is_valid)."""
        data = self.cleaned_data
        condition: dict[str, Any] | None = None
        if data.get("condition_kind") == "form":
            condition = {"field": data["field"], "operator": data["operator"], "value": data["value"]}
        elif data.get("condition_kind") == "expression":
            condition = {"expression": data["expression"]}
        action: dict[str, Any] = {"type": data["action"], "field": data["target"], "to": data["to"]}
        action.update({"event_name": data["event_name"], "keep": data["keep"]})
        if data["set_expression"].strip():
            action["expression"] = data["set_expression"]
        else:
            action["value"] = data["set_value"]
        return {"name": data["name"], "enabled": True, "condition": condition, "action": action}

    def add_problems(self, problems: dict[str, str]) -> None:
        """Show feeds.rules.steps' problems on the fields they are about."""
        for setting, message in problems.items():
            self.add_error(FIELD_OF.get(setting.split("]", 1)[-1].lstrip(".")), message)

    @classmethod
    def initial_for(cls, step: dict[str, Any]) -> dict[str, Any]:
        """Return the form's initial values for a stored step (editing it)."""
        condition = step.get("condition") or {}
        action = step.get("action") or {}
        kind = "expression" if "expression" in condition else ("form" if condition else "")
        value = condition.get("value")
        return {
            "name": step.get("name", ""),
            "condition_kind": kind,
            "field": condition.get("field", ""),
            "operator": condition.get("operator", ""),
            "value": ", ".join(value) if isinstance(value, list) else (value or ""),
            "expression": condition.get("expression", ""),
            "action": action.get("type", ""),
            "target": action.get("field", ""),
            "to": action.get("to", ""),
            "set_value": "" if action.get("value") is None else action.get("value"),
            "set_expression": action.get("expression", ""),
            "event_name": action.get("event_name", ""),
            "keep": action.get("keep"),
        }
