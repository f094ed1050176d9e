"""The OpenAPI schemas and paths of outputs and pipelines' connected outputs (feeds/api/views/outputs.py),
joined by openapi.schema()."""

from __future__ import annotations

from typing import Any

from feeds.api.openapi import NTEXT, TEXT, enum, obj, op, path_param, query, ref
from feeds.outputs.models import OutputKind, OutputState, Sends

_INT = {"type": "integer"}
_CONFIG = {
    "type": "object",
    "additionalProperties": True,
    "description": "The kind's settings (as on the output page); secrets come back as “************”, and "
    "sending that back keeps the stored secret.",
}


def schemas() -> dict[str, Any]:
    """Return Output, OutputInput, OutputUpdate, OutputConnection(Input), OutputPause, DeadLetter, Redelivery."""
    name = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}
    return {
        "Output": obj(
            {
                "id": _INT,
                "name": TEXT,
                "kind": enum(*OutputKind.values),
                "state": enum(*OutputState.values),
                "fault": {
                    **TEXT,
                    "description": "Why a faulted output sends nothing (its credentials were refused).",
                },
                "config": _CONFIG,
            },
            ("id", "name", "kind", "state", "fault", "config"),
        ),
        "OutputInput": obj(
            {"name": name, "kind": enum(*OutputKind.values), "config": _CONFIG}, ("name", "kind", "config")
        ),
        "OutputUpdate": obj(
            {"name": name, "config": _CONFIG},
            ("name", "config"),
            description="The kind cannot change; a saved faulted output is active again.",
        ),
        "OutputTest": obj({"delivered": {"type": "boolean"}, "message": TEXT}, ("delivered", "message")),
        "OutputConnection": obj(
            {
                "id": _INT,
                "output_id": _INT,
                "output_name": TEXT,
                "sends": enum(*Sends.values),
                "attributes": {"type": "array", "items": TEXT},
                "history": {"type": "boolean"},
                "paused": {"type": "boolean"},
                "disconnecting": {"type": "boolean"},
                "delivered": _INT,
                "delivered_changes": _INT,
                "pending": _INT,
                "failed": {**_INT, "description": "Dead letters."},
                "lag_seconds": {"type": "number", "nullable": True},
                "last_error": TEXT,
            },
            ("id", "output_id", "output_name", "sends", "attributes", "history", "paused", "disconnecting"),
        ),
        "OutputConnectionInput": obj(
            {
                "output_id": _INT,
                "sends": {**enum(*Sends.values), "default": Sends.BOTH},
                "attributes": {
                    "type": "array",
                    "items": TEXT,
                    "description": "Only these user attributes are sent; empty for all of them.",
                },
                "history": {
                    "type": "boolean",
                    "default": False,
                    "description": "Also send every profile the pipeline already made.",
                },
            },
            ("output_id",),
        ),
        "OutputPause": obj({"paused": {"type": "boolean"}}, ("paused",)),
        "DeadLetter": obj(
            {
                "id": _INT,
                "batch_id": TEXT,
                "changes": _INT,
                "attempts": _INT,
                "error": NTEXT,
                "payload": {"description": "The batch as it was sent."},
            },
            ("id", "batch_id", "changes", "attempts", "payload"),
        ),
        "Redelivery": obj(
            {
                "ids": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                    "description": "Dead-letter ids; leave out for all.",
                }
            }
        ),
        "Redelivered": obj({"redelivered": _INT}, ("redelivered",)),
    }


def paths() -> dict[str, Any]:
    """Return the outputs paths and each pipeline's connected-output paths."""
    outputs = "/platform/v2/workspaces/{workspaceId}/outputs"
    output = [path_param("outputId", _INT)]
    connected = "/platform/v2/workspaces/{workspaceId}/pipelines/{pipelineId}/outputs"
    connection = [path_param("pipelineId"), path_param("connectionId", _INT)]
    writes = (400, 401, 403, 404, 429)
    return {
        outputs: {
            "get": op("list_Outputs", "List outputs", out={"type": "array", "items": ref("Output")}),
            "post": op(
                "create_Output",
                "Create an output",
                out=ref("Output"),
                body="OutputInput",
                errors=writes,
                role="editor",
            ),
        },
        f"{outputs}/{{outputId}}": {
            "parameters": output,
            "get": op("get_Output", "Get an output", out=ref("Output")),
            "put": op(
                "update_Output",
                "Update an output",
                out=ref("Output"),
                body="OutputUpdate",
                errors=writes,
                role="editor",
            ),
            "delete": op(
                "delete_Output",
                "Delete an output no pipeline is connected to",
                ok=204,
                errors=writes,
                role="admin",
            ),
        },
        f"{outputs}/{{outputId}}/test": {
            "parameters": output,
            "post": op(
                "test_Output", "Send one test event to the output now", out=ref("OutputTest"), role="editor"
            ),
        },
        connected: {
            "parameters": [path_param("pipelineId")],
            "get": op(
                "list_OutputConnections",
                "List the outputs a pipeline sends to",
                out={"type": "array", "items": ref("OutputConnection")},
            ),
            "post": op(
                "create_OutputConnection",
                "Connect a pipeline to an output",
                out=ref("OutputConnection"),
                body="OutputConnectionInput",
                errors=writes,
                role="editor",
            ),
        },
        f"{connected}/{{connectionId}}": {
            "parameters": connection,
            "get": op("get_OutputConnection", "Get a connected output", out=ref("OutputConnection")),
            "patch": op(
                "pause_OutputConnection",
                "Pause (keeps the backlog) or resume (drains it) a connected output",
                out=ref("OutputConnection"),
                body="OutputPause",
                errors=writes,
                role="admin",
            ),
            "delete": op(
                "delete_OutputConnection",
                "Disconnect a pipeline from an output",
                ok=204,
                params=[
                    {
                        **query(
                            "drop_backlog",
                            enum("true", "false"),
                            "Drop the pending batches (true) or send them first.",
                        ),
                        "required": True,
                    }
                ],
                errors=writes,
                role="admin",
            ),
        },
        f"{connected}/{{connectionId}}/dead-letters": {
            "parameters": connection,
            "get": op(
                "list_DeadLetters",
                "The connected output's dead letters (the oldest 500)",
                out={"type": "array", "items": ref("DeadLetter")},
            ),
            "post": op(
                "redeliver_DeadLetters",
                "Send dead letters again",
                out=ref("Redelivered"),
                body="Redelivery",
                errors=writes,
                role="admin",
            ),
        },
    }
