"""/platform/v2/workspaces/{ws}/data-models: list, create, get, replace, delete."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from feeds.accounts.models import Role
from feeds.api import data_models as domain
from feeds.api import serializers as s
from feeds.api.auth import Caller, endpoint, read_json
from feeds.api.errors import Invalid
from feeds.api.views.common import get_in_workspace, no_content, ok
from feeds.models import Connection, DataModel

MODELS = DataModel.objects.select_related("connection", "created_by", "last_modified_by")


@endpoint(GET=Role.VIEWER, POST=Role.EDITOR)
def data_model_list(request: HttpRequest, caller: Caller, ws: str) -> HttpResponse:
    if request.method == "POST":
        return ok(s.data_model_json(_save(caller, read_json(request), None)))
    return ok([s.data_model_json(m) for m in MODELS.filter(workspace=caller.workspace).order_by("slug")])


@endpoint(GET=Role.VIEWER, PUT=Role.EDITOR, DELETE=Role.ADMIN)
def data_model_detail(request: HttpRequest, caller: Caller, ws: str, model_id: str) -> HttpResponse:
    model = get_in_workspace(MODELS, caller.workspace, model_id, "data model")
    if request.method == "PUT":
        return ok(s.data_model_json(_save(caller, read_json(request), model)))
    if request.method == "DELETE":
        domain.delete_data_model(model, caller.user)
        return no_content()
    return ok(s.data_model_json(model))


def _save(caller: Caller, body: dict, model: DataModel | None) -> DataModel:
    slug = s.object_id(body, model.slug if model else None)
    name = s.text(body, "name")
    s.choice(body.get("type", "sql"), ("sql",), "type")
    if body.get("state", "active") != "active":
        # Not stored: a data model is only SQL; what stops syncing is a paused pipeline.
        raise Invalid(
            "A data model's state is always “active”; to stop syncing, pause the pipelines that use it.",
            field="state",
        )
    sql = s.text(body, "sql_query", limit=100_000)
    timestamp_field = body.get("timestamp_field")
    if timestamp_field is not None and not isinstance(timestamp_field, str):
        raise Invalid("“timestamp_field” must be a column name.", field="timestamp_field")
    return domain.save_data_model(
        caller.workspace,
        model=model,
        slug=slug,
        name=name,
        connection=_connection(caller, body, model),
        sql=sql,
        timestamp_field=timestamp_field,
        user=caller.user,
    )


def _connection(caller: Caller, body: dict, model: DataModel | None) -> Connection:
    """Return the connection that runs the SQL: the body's, the model's own, or the workspace's only one."""
    wanted = body.get("connection_id")
    if isinstance(wanted, str) and wanted:
        found = Connection.objects.filter(workspace=caller.workspace, slug=wanted).first()
        if found is None:
            raise Invalid(f"There is no connection “{wanted}” in this workspace.", field="connection_id")
        return found
    if wanted is not None:
        raise Invalid("“connection_id” must be the id of a connection.", field="connection_id")
    if model is not None:
        return model.connection
    only = list(Connection.objects.filter(workspace=caller.workspace)[:2])
    if len(only) != 1:
        raise Invalid(
            "Give “connection_id”: the connection whose warehouse runs this SQL.", field="connection_id"
        )
    return only[0]
