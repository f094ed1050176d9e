"""/platform/v2/workspaces/{ws}/outputs and /pipelines/{id}/outputs: outputs, connections, dead letters.

The same domain services as the pages (feeds/outputs/service.py); secrets come back as the mask.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from feeds.api.auth import ADMIN, EDITOR, VIEWER
from feeds.api.errors import Invalid, NotFound
from feeds.api.types import MASK, MAX_ID, Name, OneOf
from feeds.api.views.common import READS, WRITES, Error, Strict, caller, get_in_workspace, no_content
from feeds.models import Feed
from feeds.outputs import service
from feeds.outputs.kinds import kind_class
from feeds.outputs.models import BatchState, FeedOutput, OutputKind, OutputState, Sends
from feeds.outputs.models import Output as Model

router = Router(tags=["outputs"])
DROP_BACKLOG = "Drop the pending batches (true) or send them first."
DISCONNECT = "Delete the output even when pipelines are connected to it: they are disconnected and their pending batches and dead letters go (true)."
connected_router = Router(tags=["outputs"])
Key = Annotated[int, Field(ge=0, le=MAX_ID)]  # an id in an address: past the largest key it names no row
CONFIG = Field(
    description="The kind's settings (as on the output page); secrets come back as “************”, and "
    "sending that back keeps the stored secret."
)


class OutputUpdate(Strict):
    """The kind cannot change; a saved faulted output is active again."""

    name: Name
    config: dict[str, Any] = CONFIG


class OutputInput(OutputUpdate):
    name: Name
    kind: Annotated[str, OneOf(OutputKind)]
    config: dict[str, Any] = CONFIG


class Output(Schema):
    id: int = Field(validation_alias="pk")
    name: str
    kind: Annotated[str, OneOf(OutputKind)]
    state: Annotated[str, OneOf(OutputState)]
    fault: str = Field(description="Why a faulted output sends nothing (its credentials were refused).")
    config: dict[str, Any] = CONFIG

    @staticmethod
    def resolve_config(output: Model) -> dict[str, Any]:
        secrets, config = output.secrets or {}, dict(output.config)
        for spec in kind_class(output.kind).fields:
            if spec.secret:
                config[spec.name] = MASK if secrets.get(spec.name) else None
        return config


class OutputTest(Schema):
    delivered: bool
    message: str


class OutputConnectionInput(Strict):
    output_id: int
    sends: Annotated[str, OneOf(Sends)] = Sends.BOTH
    attributes: list[str] = Field(
        default_factory=list, description="Only these user attributes are sent; empty for all of them."
    )
    history: bool = Field(False, description="Also send every profile the pipeline already made.")


class OutputConnection(Schema):
    id: int
    output_id: int
    output_name: str
    sends: Annotated[str, OneOf(Sends)]
    attributes: list[str]
    history: bool
    paused: bool
    disconnecting: bool
    delivered: int = 0
    delivered_changes: int = 0
    pending: int = 0
    failed: int = Field(0, description="Dead letters.")
    lag_seconds: float | None = None
    last_error: str = ""


class OutputPause(Strict):
    paused: bool


class DeadLetter(Schema):
    id: int
    batch_id: str
    changes: int
    attempts: int
    error: str | None = None
    payload: Any = Field(description="The batch as it was sent.")


class Redelivery(Strict):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        None, description="Dead-letter ids; leave out for all."
    )


class Redelivered(Schema):
    redelivered: int


def _connection_json(connection: FeedOutput, counters: service.Counters) -> dict[str, Any]:
    return {
        "id": connection.pk,
        "output_id": connection.output_id,
        "output_name": connection.output.name,
        "sends": connection.sends,
        "attributes": connection.attributes,
        "history": connection.history,
        "paused": connection.paused,
        "disconnecting": connection.disconnected,
        "delivered": counters.delivered,
        "delivered_changes": counters.delivered_changes,
        "pending": counters.pending,
        "failed": counters.failed,
        "lag_seconds": counters.lag_seconds,
        "last_error": counters.last_error,
    }


def _invalid(error: service.Invalid, prefix: str = "") -> Invalid:
    field, message = next(iter(error.errors.items()))
    return Invalid(message, field=f"{prefix}{field}")


def _output(request: HttpRequest, pk: int) -> Model:
    found = Model.objects.filter(workspace=caller(request).workspace, pk=pk).first()
    if found is None:
        raise NotFound(f"There is no output “{pk}” in this workspace.")
    return found


def _connection(request: HttpRequest, pipeline_id: str, pk: int) -> FeedOutput:
    feed = get_in_workspace(Feed.objects, caller(request).workspace, pipeline_id, "pipeline")
    found = feed.output_connections.select_related("output", "feed__workspace").filter(pk=pk).first()
    if found is None:
        raise NotFound(f"Pipeline “{pipeline_id}” has no connected output “{pk}”.")
    return found


def _save(request: HttpRequest, kind: str, body: OutputUpdate, output: Model | None) -> Model:
    values = {k: (None if v == MASK else v) for k, v in body.config.items()}  # the mask keeps a saved secret
    try:
        return service.save_output(
            caller(request).workspace, kind, body.name, values, caller(request).user, output=output
        )
    except service.Invalid as error:
        field = next(iter(error.errors))
        raise _invalid(error, "" if field in ("name", "kind") else "config.") from None


@router.get(
    "",
    auth=VIEWER,
    response={200: list[Output], READS: Error},
    operation_id="list_Outputs",
    summary="List outputs",
    description="Needs the viewer role.",
)
def output_list(request: HttpRequest) -> Any:
    return Model.objects.filter(workspace=caller(request).workspace).order_by("name")


@router.post(
    "",
    auth=EDITOR,
    response={200: Output, WRITES: Error},
    operation_id="create_Output",
    summary="Create an output",
    description="Needs the editor role.",
)
def output_create(request: HttpRequest, body: OutputInput) -> Model:
    return _save(request, body.kind, body, None)


@router.get(
    "/{outputId}",
    auth=VIEWER,
    response={200: Output, READS: Error},
    operation_id="get_Output",
    summary="Get an output",
    description="Needs the viewer role.",
)
def output_get(request: HttpRequest, outputId: Key) -> Model:
    return _output(request, outputId)


@router.put(
    "/{outputId}",
    auth=EDITOR,
    response={200: Output, WRITES: Error},
    operation_id="update_Output",
    summary="Update an output",
    description="Needs the editor role.",
)
def output_update(request: HttpRequest, outputId: Key, body: OutputUpdate) -> Model:
    output = _output(request, outputId)
    return _save(request, output.kind, body, output)


@router.delete(
    "/{outputId}",
    auth=ADMIN,
    response={204: None, WRITES: Error},
    operation_id="delete_Output",
    summary="Delete an output (with its connections only when asked with ?disconnect=true)",
    description="Needs the admin role.",
)
def output_delete(
    request: HttpRequest,
    outputId: Key,
    disconnect: Annotated[str, OneOf(("true", "false"))] = Query("false", description=DISCONNECT),
) -> Status:
    output = _output(request, outputId)
    try:
        service.delete_output(output, caller(request).user, with_connections=disconnect == "true")
    except service.Invalid as error:
        raise Invalid(
            error.errors["disconnect"] + " Add ?disconnect=true to delete them with it.", field="disconnect"
        ) from None
    return no_content()


@router.post(
    "/{outputId}/test",
    auth=EDITOR,
    response={200: OutputTest, READS: Error},
    operation_id="test_Output",
    summary="Send one test event to the output now",
    description="Needs the editor role.",
)
def output_test(request: HttpRequest, outputId: Key) -> Any:
    return service.send_test(_output(request, outputId))


@connected_router.get(
    "/{pipelineId}/outputs",
    auth=VIEWER,
    response={200: list[OutputConnection], READS: Error},
    operation_id="list_OutputConnections",
    summary="List the outputs a pipeline sends to",
    description="Needs the viewer role.",
)
def connection_list(request: HttpRequest, pipelineId: str) -> Any:
    feed = get_in_workspace(Feed.objects, caller(request).workspace, pipelineId, "pipeline")
    return [_connection_json(r.connection, r.counters) for r in service.connected_outputs(feed)]


@connected_router.post(
    "/{pipelineId}/outputs",
    auth=EDITOR,
    response={200: OutputConnection, WRITES: Error},
    operation_id="create_OutputConnection",
    summary="Connect a pipeline to an output",
    description="Needs the editor role.",
)
def connection_create(request: HttpRequest, pipelineId: str, body: OutputConnectionInput) -> Any:
    feed = get_in_workspace(Feed.objects, caller(request).workspace, pipelineId, "pipeline")
    output = _output(request, body.output_id)
    try:
        made = service.connect(
            feed,
            output,
            caller(request).user,
            sends=body.sends,
            attributes=body.attributes,
            history=body.history,
        )
    except service.Invalid as error:
        raise _invalid(error) from None
    return _connection_json(made, service.counters([made])[made.pk])


@connected_router.get(
    "/{pipelineId}/outputs/{connectionId}",
    auth=VIEWER,
    response={200: OutputConnection, READS: Error},
    operation_id="get_OutputConnection",
    summary="Get a connected output",
    description="Needs the viewer role.",
)
def connection_get(request: HttpRequest, pipelineId: str, connectionId: Key) -> Any:
    connection = _connection(request, pipelineId, connectionId)
    return _connection_json(connection, service.counters([connection])[connection.pk])


@connected_router.patch(
    "/{pipelineId}/outputs/{connectionId}",
    auth=ADMIN,
    response={200: OutputConnection, WRITES: Error},
    operation_id="pause_OutputConnection",
    summary="Pause (keeps the backlog) or resume (drains it) a connected output",
    description="Needs the admin role.",
)
def connection_pause(request: HttpRequest, pipelineId: str, connectionId: Key, body: OutputPause) -> Any:
    connection = _connection(request, pipelineId, connectionId)
    service.set_paused(connection, body.paused, caller(request).user)
    return _connection_json(connection, service.counters([connection])[connection.pk])


@connected_router.delete(
    "/{pipelineId}/outputs/{connectionId}",
    auth=ADMIN,
    response={204: None, WRITES: Error},
    operation_id="delete_OutputConnection",
    summary="Disconnect a pipeline from an output",
    description="Needs the admin role.",
)
def connection_delete(
    request: HttpRequest,
    pipelineId: str,
    connectionId: Key,
    drop_backlog: Annotated[str, OneOf(("true", "false")), Query(description=DROP_BACKLOG)],
) -> Status:
    connection = _connection(request, pipelineId, connectionId)
    service.disconnect(connection, caller(request).user, drop_backlog=drop_backlog == "true")
    return no_content()


@connected_router.get(
    "/{pipelineId}/outputs/{connectionId}/dead-letters",
    auth=VIEWER,
    response={200: list[DeadLetter], READS: Error},
    operation_id="list_DeadLetters",
    summary="The connected output's dead letters (the oldest 500)",
    description="Needs the viewer role.",
)
def dead_letters(request: HttpRequest, pipelineId: str, connectionId: Key) -> Any:
    dead = _connection(request, pipelineId, connectionId).outbox.filter(state=BatchState.DEAD).order_by("seq")
    return [
        {
            "id": b.pk,
            "batch_id": b.batch_id,
            "changes": b.changes,
            "attempts": b.attempts,
            "error": b.last_error,
            "payload": json.loads(b.payload),
        }
        for b in dead[:500]
    ]


@connected_router.post(
    "/{pipelineId}/outputs/{connectionId}/dead-letters",
    auth=ADMIN,
    response={200: Redelivered, WRITES: Error},
    operation_id="redeliver_DeadLetters",
    summary="Send dead letters again",
    description="Needs the admin role.",
)
def redeliver(request: HttpRequest, pipelineId: str, connectionId: Key, body: Redelivery) -> Any:
    connection = _connection(request, pipelineId, connectionId)
    return {"redelivered": service.redeliver(connection, body.ids, caller(request).user)}
