"""The OpenAPI schemas and paths of the `rules` resource (feeds/api/views/rules.py), joined by openapi.schema()."""

from __future__ import annotations

from typing import Any

from feeds.api.openapi import ID, NTEXT, TEXT, obj, op, path_param, ref
from feeds.rules import ACTIONS, OPERATORS

_ANY = {"nullable": True, "description": "text, number, boolean, list or object"}


def schemas() -> dict[str, Any]:
    """Return RuleStep, Rules and RulesInput."""
    condition = obj(
        {
            "field": TEXT,
            "operator": {"type": "string", "enum": list(OPERATORS)},
            "value": _ANY,
            "expression": {
                "type": "string",
                "description": "a CEL expression instead of field/operator/value",
            },
        },
        nullable=True,
    )
    action = obj(
        {
            "type": {"type": "string", "enum": list(ACTIONS)},
            "field": TEXT,
            "to": TEXT,
            "value": _ANY,
            "expression": TEXT,
            "event_name": TEXT,
            "keep": {"type": "integer", "minimum": 0, "maximum": 64},
        },
        ("type",),
    )
    step = obj(
        {
            "id": NTEXT,
            "name": {"type": "string", "maxLength": 200},
            "enabled": {"type": "boolean"},
            "condition": condition,
            "action": action,
        },
        ("name", "action"),
    )
    steps = {"type": "array", "items": ref("RuleStep"), "maxItems": 50}
    return {
        "RuleStep": step,
        "Rules": obj(
            {
                "pipeline_id": ID,
                "connection_id": {"type": "integer", "nullable": True},
                "version": {"type": "integer", "nullable": True},
                "steps": steps,
                "draft_steps": steps,
                "has_unactivated_changes": {"type": "boolean"},
            },
            ("pipeline_id", "connection_id", "version", "steps", "draft_steps", "has_unactivated_changes"),
        ),
        "RulesInput": obj(
            {"steps": steps, "activate": {"type": "boolean", "default": True}},
            ("steps",),
        ),
    }


def paths() -> dict[str, Any]:
    """Return the list and the per-pipeline paths."""
    base = "/platform/v2/workspaces/{workspaceId}/rules"
    connection = {
        "parameters": [path_param("pipelineId"), path_param("connectionId")],
        "get": op("get_OutputRules", "Get the rules of a pipeline's connected output", out=ref("Rules")),
        "put": op(
            "update_OutputRules",
            "Replace the rule steps of a pipeline's connected output (only what it receives)",
            out=ref("Rules"),
            body="RulesInput",
            errors=(400, 401, 403, 404, 429),
            role="editor",
        ),
    }
    return {
        f"{base}/{{pipelineId}}/outputs/{{connectionId}}": connection,
        base: {
            "get": op(
                "list_Rules", "List each pipeline's rules", out={"type": "array", "items": ref("Rules")}
            )
        },
        f"{base}/{{pipelineId}}": {
            "parameters": [path_param("pipelineId")],
            "get": op("get_Rules", "Get a pipeline's rules", out=ref("Rules")),
            "put": op(
                "update_Rules",
                "Replace a pipeline's rule steps (and activate them unless activate is false)",
                out=ref("Rules"),
                body="RulesInput",
                errors=(400, 401, 403, 404, 429),
                role="editor",
            ),
        },
    }
