"""/platform/v2/workspaces/{ws}/connections: list, create, get, replace, delete."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Status
from pydantic import Field

from feeds.api import connections as domain
from feeds.api.auth import ADMIN, EDITOR, VIEWER
from feeds.api.types import Id, Name, OneOf, ServiceProvider
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
    named,
    no_content,
    object_id,
)
from feeds.models import Connection

router = Router(tags=["connections"])
CONNECTION_STATE = {True: "active", False: "inactive"}  # the API's words for Connection.is_active
State = Annotated[str, OneOf(tuple(CONNECTION_STATE.values()))]
CONFIG = "The provider's settings; send “************” for a secret to keep the stored one."


class ConnectionUpdate(Strict):
    id: Id = Field(LEFT_OUT, description="Leave out on a PUT: the address has it.")
    name: Name
    state: State = "active"
    service_provider: ServiceProvider
    config: dict[str, Any] = Field(description=CONFIG)


class ConnectionInput(ConnectionUpdate):
    id: Id


class _Connection(Health, Audit):
    id: str = Field(alias="slug")
    name: str
    state: State
    service_provider: str
    config: dict[str, Any]

    @staticmethod
    def resolve_state(connection: Connection) -> str:
        return CONNECTION_STATE[connection.is_active]

    @staticmethod
    def resolve_service_provider(connection: Connection) -> str:
        return domain.api_name(connection.provider)

    @staticmethod
    def resolve_config(connection: Connection) -> dict[str, Any]:
        return domain.shown_config(connection)


ConnectionOut = named("Connection", _Connection)
CONNECTIONS = Connection.objects.select_related("created_by", "last_modified_by")


@router.get(
    "",
    auth=VIEWER,
    response={200: list[ConnectionOut], WRITES: Error},  # type: ignore[valid-type]  # named(): see there
    operation_id="list_Connection",
    summary="List connections",
    description="Needs the viewer role.",
)
def connection_list(
    request: HttpRequest,
    serviceProvider: Annotated[
        ServiceProvider | None, Field(description="Only connections to this warehouse.")
    ] = None,
) -> Any:
    found = Connection.objects.filter(workspace=caller(request).workspace).select_related(
        "created_by", "last_modified_by"
    )
    if serviceProvider:
        found = found.filter(provider=serviceProvider)
    return found.order_by("slug")


@router.post(
    "",
    auth=EDITOR,
    response={200: ConnectionOut, CREATES: Error},
    operation_id="create_Connection",
    summary="Create a connection",
    description="Needs the editor role.",
    openapi_extra=created_links("Connection", "connectionId"),
)
def connection_create(request: HttpRequest, body: ConnectionInput) -> Connection:
    return _save(request, body, None)


@router.get(
    "/{connectionId}",
    auth=VIEWER,
    response={200: ConnectionOut, READS: Error},
    operation_id="get_Connection",
    summary="Get a connection",
    description="Needs the viewer role.",
)
def connection_get(request: HttpRequest, connectionId: str) -> Connection:
    return get_in_workspace(CONNECTIONS, caller(request).workspace, connectionId, "connection")


@router.put(
    "/{connectionId}",
    auth=EDITOR,
    response={200: ConnectionOut, WRITES: Error},
    operation_id="update_Connection",
    summary="Update a connection",
    description="Needs the editor role.",
)
def connection_update(request: HttpRequest, connectionId: str, body: ConnectionUpdate) -> Connection:
    found = get_in_workspace(CONNECTIONS, caller(request).workspace, connectionId, "connection")
    return _save(request, body, found)


@router.delete(
    "/{connectionId}",
    auth=ADMIN,
    response={204: None, WRITES: Error},
    operation_id="delete_Connection",
    summary="Delete a connection",
    description="Needs the admin role.",
)
def connection_delete(request: HttpRequest, connectionId: str) -> Status:
    found = get_in_workspace(CONNECTIONS, caller(request).workspace, connectionId, "connection")
    domain.delete_connection(found, caller(request).user)
    return no_content()


def _save(request: HttpRequest, body: ConnectionUpdate, connection: Connection | None) -> Connection:
    saved = domain.save_checked_connection(
        caller(request).workspace,
        connection=connection,
        slug=object_id(body.id, connection.slug if connection else None),
        name=body.name,
        provider=body.service_provider,
        raw_config=body.config,
        active=body.state == CONNECTION_STATE[True],
        user=caller(request).user,
    )
    return CONNECTIONS.get(pk=saved.pk)
