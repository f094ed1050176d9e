"""/platform/v2/workspaces/{ws}/connections: list, create, get, replace, delete."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router
from pydantic import Field

from feeds.api import connections as domain
from feeds.api.auth import VIEWER
from feeds.api.types import Id, Name, OneOf, ServiceProvider
from feeds.api.views.common import (
    LEFT_OUT,
    WRITES,
    Audit,
    Error,
    Health,
    Strict,
    caller,
    get_in_workspace,
    named,
    object_id,
)
from feeds.api.views.crud import Resource, crud
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


def _find(request: HttpRequest, slug: str) -> Connection:
    return get_in_workspace(CONNECTIONS, caller(request).workspace, slug, "connection")


def _delete(request: HttpRequest, found: Connection) -> None:
    domain.delete_connection(found, caller(request).user)


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


crud(
    router,
    Resource(
        "Connection",
        "a connection",
        "connectionId",
        ConnectionOut,
        ConnectionInput,
        ConnectionUpdate,
        find=_find,
        save=_save,
        delete=_delete,
    ),
)
