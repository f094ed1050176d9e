"""The OpenAPI 3 description of the API, served at /platform/v2/openapi.json and shown on the docs page."""

from __future__ import annotations

from typing import Any

from django.db import models

from feeds.api.serializers import (
    CONNECTION_STATE,
    MAX_LOOKBACK_SECONDS,
    PIPELINE_RUN_STATE,
    PIPELINE_RUN_TYPE,
    RUN_COUNTS,
    UNSUPPORTED_PIPELINE_FIELDS,
)
from feeds.models import (
    Environment,
    FeedState,
    Frequency,
    Health,
    InputProtection,
    PipelineType,
    ScheduleType,
    SyncMode,
)
from feeds.sync.models import AttemptOutcome, RunKind, RunState
from feeds.warehouses.registry import PROVIDERS

JSON = "application/json"
TEXT = {"type": "string"}
NTEXT = {"type": "string", "nullable": True}
TIME = {"type": "string", "format": "date-time", "nullable": True}
ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$", "example": "crm-users"}
# A name: 1 to 200 characters, not only spaces (serializers.text).
NAME = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def enum(*values: str, nullable: bool = False) -> dict[str, Any]:
    return {"type": "string", "enum": list(values), **({"nullable": True} if nullable else {})}


def choices(declared: type[models.TextChoices], nullable: bool = False) -> dict[str, Any]:
    """The model's choices as the API's enum: the API uses the model's values as they are."""
    return enum(*declared.values, nullable=nullable)


AUDIT = {"created_on": TIME, "created_by": NTEXT, "last_modified_on": TIME, "last_modified_by": NTEXT}
HEALTH = {
    "status": choices(Health),
    "errors": {"type": "array", "items": obj({"message": TEXT}, ("message",))},
}
READ_ONLY = (*AUDIT, "status", "errors")
INTERVAL = {
    **NTEXT,
    "description": "ISO-8601 with offset for a time iterator (2026-11-03T07:29:00.000Z); the date or "
    "number itself for a date or numeric iterator.",
}
SERVICE_PROVIDER = enum(*(spec.api_name for spec in PROVIDERS.values()))
CONNECTION_STATES = enum(*CONNECTION_STATE.values())


def _schemas() -> dict[str, Any]:
    run_counts = {name: {"type": "integer"} for name in RUN_COUNTS}
    mapping = obj(
        {
            "mapping_type": enum("column", "static", "ignore"),
            "source": NTEXT,
            "destination": NTEXT,
            "value": {"nullable": True, "description": "A text, number or boolean for static mappings."},
        },
        ("mapping_type",),
    )
    schemas: dict[str, Any] = {
        "Error": obj(
            {
                "statusCode": {"type": "integer"},
                "errors": {
                    "type": "array",
                    "items": obj({"code": TEXT, "message": TEXT, "field": TEXT}, ("code", "message")),
                },
            },
            ("statusCode", "errors"),
        ),
        "TokenRequest": obj(
            {
                "client_id": TEXT,
                "client_secret": TEXT,
                "audience": {**TEXT, "example": "https://api.mparticle.com"},
                "grant_type": enum("client_credentials"),
            },
            ("client_id", "client_secret", "grant_type"),
        ),
        "Token": obj(
            {"access_token": TEXT, "expires_in": {"type": "integer"}, "token_type": enum("Bearer")},
            ("access_token", "expires_in", "token_type"),
        ),
        "ConnectionInput": obj(
            {
                "id": ID,
                "name": NAME,
                "state": CONNECTION_STATES,
                "service_provider": SERVICE_PROVIDER,
                "config": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "The provider's settings; send “************” for a secret to keep the stored one.",
                },
            },
            ("id", "name", "service_provider", "config"),
        ),
        "Connection": obj(
            {
                "id": ID,
                "name": TEXT,
                "state": CONNECTION_STATES,
                **HEALTH,
                "service_provider": TEXT,
                "config": {"type": "object", "additionalProperties": True},
                **AUDIT,
            },
            ("id", "name", "state", "status", "errors", "service_provider", "config", *AUDIT),
        ),
        "DataModelInput": obj(
            {
                "id": ID,
                "name": NAME,
                "type": enum("sql"),
                "sql_query": TEXT,
                "connection_id": {**TEXT, "description": "wsync: the connection that runs the SQL."},
                "timestamp_field": NTEXT,
                "state": {**enum("active"), "description": "Optional: only “active” is accepted."},
            },
            ("id", "name", "sql_query"),
        ),
        "DataModel": obj(
            {
                "id": ID,
                "name": TEXT,
                "type": enum("sql"),
                "sql_query": TEXT,
                "connection_id": TEXT,
                "columns": {"type": "array", "items": obj({"name": TEXT, "type": TEXT}, ("name", "type"))},
                "timestamp_field": NTEXT,
                "state": {
                    **enum("active"),
                    "readOnly": True,
                    "description": "Always “active”: a data model is not paused; pause its pipelines.",
                },
                **HEALTH,
                **AUDIT,
            },
            ("id", "name", "type", "sql_query", "connection_id", "columns", "state", *READ_ONLY),
        ),
        "Mapping": mapping,
        "FieldTransformationInput": obj(
            {
                "id": ID,
                "name": NAME,
                "destination_type": enum("event_batch"),
                "mappings": {"type": "array", "items": ref("Mapping")},
            },
            ("id", "name", "mappings"),
        ),
        "FieldTransformation": obj(
            {
                "id": ID,
                "name": TEXT,
                "destination_type": enum("event_batch"),
                "mappings": {"type": "array", "items": ref("Mapping")},
                **AUDIT,
            },
            ("id", "name", "destination_type", "mappings", *AUDIT),
        ),
        "SyncMode": obj(
            {
                "type": choices(SyncMode),
                "iterator": NTEXT,
                "iterator_data_type": NTEXT,
                "from": TIME,
                "until": {
                    **TIME,
                    "description": "Optional end on the iterator: rows whose iterator is at or past it are never "
                    "read (main runs and the history load). Incremental pipelines with a date or time iterator "
                    "only, and after `from`; null for no end.",
                },
                "lookback_seconds": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_LOOKBACK_SECONDS,
                    "multipleOf": 60,
                    "default": 0,
                    "description": "wsync: re-read this many seconds before the last run's iterator value, "
                    "for rows that arrive late (whole minutes).",
                },
                "timezone": {
                    **TEXT,
                    "default": "UTC",
                    "example": "Europe/Berlin",
                    "description": "wsync: IANA time zone for iterator and timestamp values without a zone.",
                },
            }
        ),
        "Schedule": obj(
            {
                "type": choices(ScheduleType),
                "frequency": choices(Frequency, nullable=True),
                "start": TIME,
                "end": TIME,
            }
        ),
        "PipelineInput": obj(_pipeline_fields(), ("id", "name", "connection_id", "data_model_id")),
        "PipelineUpdate": obj(
            _pipeline_fields(),
            description="Fields left out keep their value; a PUT of state pauses or resumes.",
        ),
        "Pipeline": obj(
            {**_pipeline_fields(), "state": choices(FeedState), **HEALTH, **AUDIT},
            ("id", "name", "pipeline_type", "state", "sync_mode", "schedule", *READ_ONLY),
        ),
        "Trigger": obj(
            {"pipeline_run_id": {"type": "integer"}, "status": enum("trigger_requested")},
            ("pipeline_run_id", "status"),
        ),
        "Run": obj(
            {
                "id": {"type": "integer"},
                "pipeline_run_id": {"type": "integer"},
                "pipeline_id": TEXT,
                "workspace_id": {**TEXT, "description": "The workspace's id as the address has it."},
                "type": choices(RunKind),
                "pipeline_run_type": enum(*dict.fromkeys(PIPELINE_RUN_TYPE.values())),
                "state": choices(RunState),
                "pipeline_run_state": enum(*dict.fromkeys(PIPELINE_RUN_STATE.values())),
                "status": TEXT,
                "is_externally_triggered": {"type": "boolean"},
                "logical_date": TIME,
                "queued_on": TIME,
                "start_date": TIME,
                "end_date": TIME,
                "data_interval_start": INTERVAL,
                "data_interval_end": INTERVAL,
                "records_extracted": {"type": "integer"},
                "records_mapped": {"type": "integer"},
                "event_batches_generated": {"type": "integer"},
                "counts": obj(run_counts, tuple(run_counts)),
                "errors": HEALTH["errors"],
                "next_retry_on": TIME,
                "attempts": {
                    "type": "array",
                    "items": obj(
                        {
                            "number": {"type": "integer"},
                            "start_date": TIME,
                            "end_date": TIME,
                            "outcome": choices(AttemptOutcome),
                            "errors": HEALTH["errors"],
                        },
                        ("number", "outcome", "errors"),
                    ),
                },
            },
            ("id", "pipeline_id", "type", "state", "status", "counts", "errors", "attempts"),
        ),
        "RunPage": obj(
            {
                "items": {"type": "array", "items": ref("Run")},
                "currentPage": {"type": "integer"},
                "pageSize": {"type": "integer"},
                "totalItems": {"type": "integer"},
            },
            ("items", "currentPage", "pageSize", "totalItems"),
        ),
        "Report": obj(
            {
                "pipeline_id": TEXT,
                "state": choices(FeedState),
                **HEALTH,
                "connection": obj({"id": TEXT, "state": CONNECTION_STATES, **HEALTH}, nullable=True),
                "latest_run": {**ref("Run"), "nullable": True},
                "latest_successful_run": {**ref("Run"), "nullable": True},
                "windows_owed": {
                    "type": "array",
                    "items": obj(
                        {
                            "data_interval_start": INTERVAL,
                            "data_interval_end": INTERVAL,
                            "pipeline_run_id": {"type": "integer"},
                            # A window is owed until a run writes it: any state but succeeded.
                            "state": enum(*(v for v in RunState.values if v != RunState.SUCCEEDED)),
                        }
                    ),
                },
            },
            ("pipeline_id", "state", "status", "errors", "connection", "latest_run", "latest_successful_run"),
        ),
    }
    for name in ("Connection", "DataModel", "FieldTransformation"):
        # A PUT may leave the id out (the address has it), so its body is the create body minus that rule.
        update = dict(schemas[f"{name}Input"])
        update["required"] = [field for field in update["required"] if field != "id"]
        schemas[f"{name}Update"] = update
    return schemas


def _pipeline_fields() -> dict[str, Any]:
    refused = "wsync refuses a value (400) and returns null; see the README's API section."
    return {
        "id": ID,
        "name": NAME,
        "pipeline_type": choices(PipelineType),
        "connection_id": TEXT,
        "data_model_id": TEXT,
        "field_transformation_id": {
            **NTEXT,
            "description": "Leave out for the automatic mapping of reserved column names.",
        },
        "state": choices(FeedState),
        "environment": choices(Environment),
        "input_protection": choices(InputProtection),
        "sync_mode": ref("SyncMode"),
        "schedule": ref("Schedule"),
        **{name: {**NTEXT, "description": refused} for name in UNSUPPORTED_PIPELINE_FIELDS},
    }


ERRORS = {
    400: "Refused: the message says what to fix (the wizard's words).",
    401: "No valid access token.",
    403: "The credential's role may not do this.",
    404: "Not found in the caller's workspace.",
    409: "The id exists already.",
    429: "Rate limited; see Retry-After.",
}


def _error_response(code: int) -> dict[str, Any]:
    return {"description": ERRORS[code], "content": {JSON: {"schema": ref("Error")}}}


def _responses(ok: int, schema: dict[str, Any] | None, errors: tuple[int, ...], description: str) -> dict:
    responses: dict[Any, Any] = {str(ok): {"description": description}}
    if schema is not None:
        responses[str(ok)]["content"] = {JSON: {"schema": schema}}
    for code in errors:
        responses[str(code)] = _error_response(code)
    if 429 in errors:
        responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return responses


def op(
    op_id: str,
    summary: str,
    *,
    ok: int = 200,
    out: dict | None = None,
    body: str | None = None,
    params: list[dict] | None = None,
    errors: tuple[int, ...] = (401, 403, 404, 429),
    role: str = "viewer",
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "description": f"Needs the {role} role.",
        "responses": _responses(ok, out, tuple(sorted(set(errors))), summary),
    }
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": ref(body)}}}
    return operation


def path_param(name: str, schema: dict | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or TEXT}


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _crud(plural: str, noun: str, schema: str, id_name: str) -> dict[str, Any]:
    base = f"/platform/v2/workspaces/{{workspaceId}}/{plural}"
    listing: dict[str, Any] = {
        "get": op(f"list_{schema}", f"List {noun}s", out={"type": "array", "items": ref(schema)}),
        "post": op(
            f"create_{schema}",
            f"Create a {noun}",
            out=ref(schema),
            body=f"{schema}Input",
            errors=(400, 401, 403, 404, 409, 429),
            role="editor",
        ),
    }
    # Stateful links: what a create answers names the object the other operations address.
    by_id = {"workspaceId": "$request.path.workspaceId", id_name: "$response.body#/id"}
    listing["post"]["responses"]["200"]["links"] = {
        f"{verb}{schema}": {"operationId": f"{verb.lower()}_{schema}", "parameters": by_id}
        for verb in ("Get", "Update", "Delete")
    }
    update_body = f"{schema}Update"
    detail = {
        "parameters": [path_param(id_name)],
        "get": op(f"get_{schema}", f"Get a {noun}", out=ref(schema)),
        "put": op(
            f"update_{schema}",
            f"Update a {noun}",
            out=ref(schema),
            body=update_body,
            errors=(400, 401, 403, 404, 429),
            role="editor (admin to change a pipeline's state)" if schema == "Pipeline" else "editor",
        ),
        "delete": op(
            f"delete_{schema}", f"Delete a {noun}", ok=204, errors=(400, 401, 403, 404, 429), role="admin"
        ),
    }
    return {base: listing, f"{base}/{{{id_name}}}": detail}


LOGICAL = "Runs whose logical date (schedule slot; for a manual run, when it was queued) is {} this time."


def _with_links(operation: dict[str, Any], links: dict[str, Any]) -> dict[str, Any]:
    operation["responses"]["200"]["links"] = links
    return operation


def _pipeline_extras() -> dict[str, Any]:
    base = "/platform/v2/workspaces/{workspaceId}/pipelines/{pipelineId}"
    pipeline = [path_param("pipelineId")]
    runs = [
        query("currentPage", {"type": "integer", "minimum": 1}, "Page number, from 1."),
        query("pageSize", {"type": "integer", "minimum": 1, "maximum": 100}, "Runs per page (at most 100)."),
        query("startDate", {"type": "string", "format": "date-time"}, LOGICAL.format("at or after")),
        query("endDate", {"type": "string", "format": "date-time"}, LOGICAL.format("at or before")),
    ]
    return {
        f"{base}/trigger": {
            "parameters": pipeline,
            "post": _with_links(
                op(
                    "trigger_pipeline",
                    "Start an on-demand run",
                    out=ref("Trigger"),
                    errors=(400, 401, 403, 404, 429),
                    role="editor",
                ),
                {
                    "GetRun": {
                        "operationId": "get_run",
                        "parameters": {
                            "workspaceId": "$request.path.workspaceId",
                            "pipelineId": "$request.path.pipelineId",
                            "runId": "$response.body#/pipeline_run_id",
                        },
                    }
                },
            ),
        },
        f"{base}/report": {
            "parameters": pipeline,
            "get": op("pipeline_report", "Pipeline health and latest runs", out=ref("Report")),
        },
        f"{base}/runs": {
            "parameters": pipeline,
            "get": op(
                "list_runs", "Run history", out=ref("RunPage"), params=runs, errors=(400, 401, 403, 404, 429)
            ),
        },
        f"{base}/runs/{{runId}}": {
            "parameters": [*pipeline, path_param("runId", {"type": "integer"})],
            "get": op("get_run", "One run", out=ref("Run")),
        },
        f"{base}/runs/{{runId}}/restart": {
            "parameters": [*pipeline, path_param("runId", {"type": "integer"})],
            "post": op(
                "restart_run",
                "Restart a running run whose worker is stuck, from its last committed page (wsync extra)",
                out=ref("Run"),
                errors=(401, 403, 404, 409, 429),
                role="admin",
            ),
        },
    }


def schema(server_url: str = "/") -> dict[str, Any]:
    """Return the OpenAPI 3.0 document of the API."""
    paths: dict[str, Any] = {
        "/oauth/token": {
            "post": {
                "operationId": "get_token",
                "summary": "Exchange client credentials for an access token",
                "security": [],
                "description": "A JSON body (mParticle's examples) or a form body (OAuth2 client libraries); "
                "the client id and secret may instead come as HTTP Basic credentials.",
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": ref("TokenRequest")},
                        "application/x-www-form-urlencoded": {"schema": ref("TokenRequest")},
                    },
                },
                "responses": _responses(200, ref("Token"), (400, 401, 429), "An access token, valid 8 hours"),
            }
        }
    }
    for plural, noun, name, id_name in (
        ("connections", "connection", "Connection", "connectionId"),
        ("data-models", "data model", "DataModel", "dataModelId"),
        ("field-transformations", "field transformation", "FieldTransformation", "fieldTransformationId"),
        ("pipelines", "pipeline", "Pipeline", "pipelineId"),
    ):
        paths.update(_crud(plural, noun, name, id_name))
    paths.update(_pipeline_extras())
    from feeds.api import outputs_openapi, rules_openapi  # they build on this module's helpers

    paths.update(rules_openapi.paths())
    paths.update(outputs_openapi.paths())
    workspace = path_param("workspaceId", {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"})
    for address, item in paths.items():
        if "{workspaceId}" in address:
            item["parameters"] = [workspace, *item.get("parameters", [])]
    listing = paths["/platform/v2/workspaces/{workspaceId}/connections"]["get"]
    listing["parameters"] = [
        query("serviceProvider", SERVICE_PROVIDER, "Only connections to this warehouse.")
    ]
    listing["responses"]["400"] = _error_response(400)  # an unknown serviceProvider
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "wsync Warehouse Sync API",
            "version": "2.0.0",
            "description": "mParticle Warehouse Sync API v2 shapes: connections, data models, field "
            "transformations and pipelines of one workspace, with OAuth client credentials.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {**_schemas(), **rules_openapi.schemas(), **outputs_openapi.schemas()},
        },
        "paths": paths,
    }


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every operation as {method, path, summary, description, body, responses} for the docs page."""
    found = []
    for address, item in document["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                operation = item[method]
                body = operation.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema", {})
                found.append(
                    {
                        "method": method.upper(),
                        "path": address,
                        "summary": operation["summary"],
                        "description": operation.get("description", ""),
                        "body": body.get("$ref", "").rpartition("/")[2],
                        "responses": sorted(operation["responses"]),
                        "params": [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"],
                    }
                )
    return found
