"""/platform/v2/workspaces/{ws}/data-models: list, create, get, replace, delete."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router
from pydantic import Field, field_validator

from feeds.api import data_models as domain
from feeds.api.auth import Caller
from feeds.api.errors import Invalid
from feeds.api.types import Id, Name, NonBlank, OneOf, refuse
from feeds.api.views.common import (
    LEFT_OUT,
    Audit,
    Health,
    Strict,
    caller,
    get_in_workspace,
    object_id,
)
from feeds.api.views.crud import Resource, crud
from feeds.models import Connection
from feeds.models import DataModel as Model

router = Router(tags=["data models"])
Sql = Annotated[str, OneOf(("sql",))]
MODELS = Model.objects.select_related("connection", "created_by", "last_modified_by")


class DataModelUpdate(Strict):
    id: Id = Field(LEFT_OUT, description="Leave out on a PUT: the address has it.")
    name: Name
    type: Sql = "sql"
    sql_query: Annotated[str, NonBlank(100_000)]
    connection_id: str | None = Field(LEFT_OUT, description="wsync: the connection that runs the SQL.")
    timestamp_field: str | None = None
    state: str = Field(
        "active", json_schema_extra={"enum": ["active"]}, description="Optional: only “active”."
    )

    @field_validator("state", mode="before")
    @classmethod
    def _always_active(cls, value: Any) -> Any:
        # Not stored: a data model is only SQL; what stops syncing is a paused pipeline.
        if value != "active":
            raise refuse(
                "A data model's state is always “active”; to stop syncing, pause the pipelines that use it."
            )
        return value


class DataModelInput(DataModelUpdate):
    id: Id


class Column(Strict):
    name: str
    type: str


class DataModel(Health, Audit):
    id: str = Field(alias="slug")
    name: str
    type: Sql = "sql"
    sql_query: str = Field(alias="sql")
    connection_id: str
    columns: list[Column]
    timestamp_field: str | None
    state: str = Field(
        "active",
        json_schema_extra={"enum": ["active"], "readOnly": True},
        description="Always “active”: a data model is not paused; pause its pipelines.",
    )

    @staticmethod
    def resolve_connection_id(model: Model) -> str:
        return model.connection.slug

    @staticmethod
    def resolve_columns(model: Model) -> list[dict[str, str]]:
        return [{"name": c["name"], "type": c.get("type", "")} for c in model.columns or []]

    @staticmethod
    def resolve_timestamp_field(model: Model) -> str | None:
        return model.timestamp_field or None


def _list(request: HttpRequest) -> Any:
    return MODELS.filter(workspace=caller(request).workspace).order_by("slug")


def _find(request: HttpRequest, slug: str) -> Model:
    return get_in_workspace(MODELS, caller(request).workspace, slug, "data model")


def _delete(request: HttpRequest, found: Model) -> None:
    domain.delete_data_model(found, caller(request).user)


def _save(caller: Caller, body: DataModelUpdate, model: Model | None) -> Model:
    saved = domain.save_data_model(
        caller.workspace,
        model=model,
        slug=object_id(body.id, model.slug if model else None),
        name=body.name,
        connection=_connection(caller, body.connection_id, model),
        sql=body.sql_query,
        timestamp_field=body.timestamp_field,
        user=caller.user,
    )
    return MODELS.get(pk=saved.pk)


def _connection(caller: Caller, wanted: str | None, model: Model | None) -> Connection:
    """Return the connection that runs the SQL: the body's, the model's own, or the workspace's only one."""
    if wanted:
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


crud(
    router,
    Resource(
        "DataModel",
        "a data model",
        "dataModelId",
        DataModel,
        DataModelInput,
        DataModelUpdate,
        find=_find,
        save=lambda request, body, found: _save(caller(request), body, found),
        delete=_delete,
    ),
    listing=_list,
)
