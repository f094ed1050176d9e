"""/platform/v2/workspaces/{ws}/outputs and /pipelines/{id}/outputs: outputs, connections, dead letters.

The same domain services as the pages (feeds/outputs/service.py); secrets come back as the mask.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse

from feeds.accounts.models import Role
from feeds.api.auth import Caller, endpoint, read_json
from feeds.api.errors import Invalid, NotFound
from feeds.api.serializers import MASK
from feeds.api.views.common import get_in_workspace, no_content, ok
from feeds.models import Feed
from feeds.outputs import service
from feeds.outputs.kinds import kind_class
from feeds.outputs.models import BatchState, FeedOutput, Output


def _output_json(output: Output) -> dict[str, Any]:
    secrets = output.secrets or {}
    config = dict(output.config)
    for spec in kind_class(output.kind).fields:
        if spec.secret:
            config[spec.name] = MASK if secrets.get(spec.name) else None
    return {
        "id": output.pk,
        "name": output.name,
        "kind": output.kind,
        "state": output.state,
        "fault": output.fault,
        "config": config,
    }


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


MAX_ID = 2**63 - 1  # the databases' largest integer key: a larger id is no row, not a database error


def _id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) <= MAX_ID else None


def _output(caller: Caller, output_id: str) -> Output:
    pk = _id(output_id)
    found = Output.objects.filter(workspace=caller.workspace, pk=pk).first() if pk is not None else None
    if found is None:
        raise NotFound(f"There is no output “{output_id}” in this workspace.")
    return found


def _connection(caller: Caller, pipeline_id: str, connection_id: str) -> FeedOutput:
    feed = get_in_workspace(Feed.objects, caller.workspace, pipeline_id, "pipeline")
    pk = _id(connection_id)
    connections = feed.output_connections.select_related("output", "feed__workspace")
    found = connections.filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise NotFound(f"Pipeline “{pipeline_id}” has no connected output “{connection_id}”.")
    return found


def _save(caller: Caller, body: dict, output: Output | None) -> Output:
    kind = output.kind if output else str(body.get("kind") or "")
    config = body.get("config") or {}
    if not isinstance(config, dict):
        raise Invalid("“config” must be an object of the kind's settings.", field="config")
    values = {k: (None if v == MASK else v) for k, v in config.items()}  # the mask keeps a saved secret
    try:
        return service.save_output(
            caller.workspace, kind, str(body.get("name") or ""), values, caller.user, output=output
        )
    except service.Invalid as error:
        field = next(iter(error.errors))
        raise _invalid(error, "" if field in ("name", "kind") else "config.") from None


@endpoint(GET=Role.VIEWER, POST=Role.EDITOR)
def output_list(request: HttpRequest, caller: Caller, ws: str) -> HttpResponse:
    if request.method == "POST":
        return ok(_output_json(_save(caller, read_json(request), None)))
    return ok([_output_json(o) for o in Output.objects.filter(workspace=caller.workspace).order_by("name")])


@endpoint(GET=Role.VIEWER, PUT=Role.EDITOR, DELETE=Role.ADMIN)
def output_detail(request: HttpRequest, caller: Caller, ws: str, output_id: str) -> HttpResponse:
    output = _output(caller, output_id)
    if request.method == "PUT":
        return ok(_output_json(_save(caller, read_json(request), output)))
    if request.method == "DELETE":
        with_connections = request.GET.get("disconnect", "") == "true"
        try:
            service.delete_output(output, caller.user, with_connections=with_connections)
        except service.Invalid as error:
            raise Invalid(
                error.errors["disconnect"] + " Add ?disconnect=true to delete them with it.",
                field="disconnect",
            ) from None
        return no_content()
    return ok(_output_json(output))


@endpoint(POST=Role.EDITOR)
def output_test(request: HttpRequest, caller: Caller, ws: str, output_id: str) -> HttpResponse:
    answer = service.send_test(_output(caller, output_id))
    return ok({"delivered": answer.delivered, "message": answer.message})


@endpoint(GET=Role.VIEWER, POST=Role.EDITOR)
def connection_list(request: HttpRequest, caller: Caller, ws: str, pipeline_id: str) -> HttpResponse:
    feed = get_in_workspace(Feed.objects, caller.workspace, pipeline_id, "pipeline")
    if request.method == "POST":
        body = read_json(request)
        output = _output(caller, str(body.get("output_id") or ""))
        attributes = body.get("attributes") or []
        if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
            raise Invalid("“attributes” must be a list of attribute names.", field="attributes")
        try:
            made = service.connect(
                feed,
                output,
                caller.user,
                sends=str(body.get("sends") or "both"),
                attributes=attributes,
                history=bool(body.get("history")),
            )
        except service.Invalid as error:
            raise _invalid(error) from None
        return ok(_connection_json(made, service.counters([made])[made.pk]))
    rows = service.connected_outputs(feed)
    return ok([_connection_json(r.connection, r.counters) for r in rows])


@endpoint(GET=Role.VIEWER, PATCH=Role.ADMIN, DELETE=Role.ADMIN)
def connection_detail(
    request: HttpRequest, caller: Caller, ws: str, pipeline_id: str, connection_id: str
) -> HttpResponse:
    connection = _connection(caller, pipeline_id, connection_id)
    if request.method == "PATCH":
        paused = read_json(request).get("paused")
        if not isinstance(paused, bool):
            raise Invalid('Send {"paused": true} to pause or {"paused": false} to resume.', field="paused")
        service.set_paused(connection, paused, caller.user)
    if request.method == "DELETE":
        drop = request.GET.get("drop_backlog", "")
        if drop not in ("true", "false"):
            raise Invalid(
                "Say whether to drop the pending batches: ?drop_backlog=true or false.", field="drop_backlog"
            )
        service.disconnect(connection, caller.user, drop_backlog=drop == "true")
        return no_content()
    return ok(_connection_json(connection, service.counters([connection])[connection.pk]))


def _dead_letter_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


@endpoint(GET=Role.VIEWER, POST=Role.ADMIN)
def dead_letters(
    request: HttpRequest, caller: Caller, ws: str, pipeline_id: str, connection_id: str
) -> HttpResponse:
    connection = _connection(caller, pipeline_id, connection_id)
    if request.method == "POST":
        ids = read_json(request).get("ids")
        if ids is not None and (not isinstance(ids, list) or not all(_dead_letter_id(i) for i in ids)):
            raise Invalid("“ids” must be a list of dead-letter ids, or absent for all of them.", field="ids")
        return ok({"redelivered": service.redeliver(connection, ids, caller.user)})
    dead = connection.outbox.filter(state=BatchState.DEAD).order_by("seq")[:500]
    return ok(
        [
            {
                "id": b.pk,
                "batch_id": b.batch_id,
                "changes": b.changes,
                "attempts": b.attempts,
                "error": b.last_error,
                "payload": json.loads(b.payload),
            }
            for b in dead
        ]
    )
