"""/platform/v2/workspaces/{ws}/connections: list, create, get, replace, delete."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from feeds.accounts.models import Role
from feeds.api import connections as domain
from feeds.api import serializers as s
from feeds.api.auth import Caller, endpoint, read_json
from feeds.api.views.common import get_in_workspace, no_content, ok
from feeds.models import Connection


def _json(connection: Connection) -> dict:
    kind = connection.provider
    return s.connection_json(
        connection, domain.provider_fields(kind), domain.KEPT_MPARTICLE_SETTINGS.get(kind, ())
    )


@endpoint(GET=Role.VIEWER, POST=Role.EDITOR)
def connection_list(request: HttpRequest, caller: Caller, ws: str) -> HttpResponse:
    if request.method == "POST":
        return ok(_json(_save(caller, read_json(request), None)))
    found = Connection.objects.filter(workspace=caller.workspace).select_related(
        "created_by", "last_modified_by"
    )
    wanted = request.GET.get("serviceProvider")
    if wanted:
        found = found.filter(provider=domain.provider_kind(wanted, "serviceProvider"))
    return ok([_json(c) for c in found.order_by("slug")])


@endpoint(GET=Role.VIEWER, PUT=Role.EDITOR, DELETE=Role.ADMIN)
def connection_detail(request: HttpRequest, caller: Caller, ws: str, connection_id: str) -> HttpResponse:
    connection = get_in_workspace(Connection.objects, caller.workspace, connection_id, "connection")
    if request.method == "PUT":
        return ok(_json(_save(caller, read_json(request), connection)))
    if request.method == "DELETE":
        domain.delete_connection(connection, caller.user)
        return no_content()
    return ok(_json(connection))


def _save(caller: Caller, body: dict, connection: Connection | None) -> Connection:
    return domain.save_checked_connection(
        caller.workspace,
        connection=connection,
        slug=s.object_id(body, connection.slug if connection else None),
        name=s.text(body, "name"),
        provider=domain.provider_kind(body.get("service_provider")),
        raw_config=s.section(body, "config"),
        active=s.connection_active(body),
        user=caller.user,
    )
