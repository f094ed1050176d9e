"""/platform/v2/workspaces/{ws}/data-models: list, create, get, replace, delete."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Status
from pydantic import Field, field_validator

from feeds.api import data_models as domain
from feeds.api.auth import ADMIN, EDITOR, VIEWER, Caller
from feeds.api.errors import Invalid
from feeds.api.types import Id, Name, NonBlank, OneOf, refuse
from feeds.api.views.common import (
    CREATES,
    LEFT_OUT,
    READS,
    WRITES,
    Audit,
    Error,
    Health,
    Strict,
    caller,
    created_links,
    get_in_workspace,
    no_content,
    object_id,
)
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


@router.get(
    "",
    auth=VIEWER,
    response={200: list[DataModel], READS: Error},
    operation_id="list_DataModel",
    summary="List data models",
    description="Needs the viewer role.",
)
def data_model_list(request: HttpRequest) -> Any:
    return MODELS.filter(workspace=caller(request).workspace).order_by("slug")


@router.post(
    "",
    auth=EDITOR,
    response={200: DataModel, CREATES: Error},
    operation_id="create_DataModel",
    openapi_extra=created_links("DataModel", "dataModelId"),
    summary="Create a data model",
    description="Needs the editor role.",
)
def data_model_create(request: HttpRequest, body: DataModelInput) -> Model:
    return _save(caller(request), body, None)


@router.get(
    "/{dataModelId}",
    auth=VIEWER,
    response={200: DataModel, READS: Error},
    operation_id="get_DataModel",
    summary="Get a data model",
    description="Needs the viewer role.",
)
def data_model_get(request: HttpRequest, dataModelId: str) -> Model:
    return get_in_workspace(MODELS, caller(request).workspace, dataModelId, "data model")


@router.put(
    "/{dataModelId}",
    auth=EDITOR,
    response={200: DataModel, WRITES: Error},
    operation_id="update_DataModel",
    summary="Update a data model",
    description="Needs the editor role.",
)
def data_model_update(request: HttpRequest, dataModelId: str, body: DataModelUpdate) -> Model:
    found = get_in_workspace(MODELS, caller(request).workspace, dataModelId, "data model")
    return _save(caller(request), body, found)


@router.delete(
    "/{dataModelId}",
    auth=ADMIN,
    response={204: None, WRITES: Error},
    operation_id="delete_DataModel",
    summary="Delete a data model",
    description="Needs the admin role.",
)
def data_model_delete(request: HttpRequest, dataModelId: str) -> Status:
    found = get_in_workspace(MODELS, caller(request).workspace, dataModelId, "data model")
    domain.delete_data_model(found, caller(request).user)
    return no_content()


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
