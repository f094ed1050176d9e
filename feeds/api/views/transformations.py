"""/platform/v2/workspaces/{ws}/field-transformations: list, create, get, replace, delete."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from feeds.accounts.models import Role
from feeds.api import serializers as s
from feeds.api import transformations as domain
from feeds.api.auth import Caller, endpoint, read_json
from feeds.api.views.common import get_in_workspace, no_content, ok
from feeds.models import FieldTransformation

TRANSFORMATIONS = FieldTransformation.objects.select_related("created_by", "last_modified_by")


@endpoint(GET=Role.VIEWER, POST=Role.EDITOR)
def transformation_list(request: HttpRequest, caller: Caller, ws: str) -> HttpResponse:
    if request.method == "POST":
        return ok(s.transformation_json(_save(caller, read_json(request), None)))
    found = TRANSFORMATIONS.filter(workspace=caller.workspace).order_by("slug")
    return ok([s.transformation_json(t) for t in found])


@endpoint(GET=Role.VIEWER, PUT=Role.EDITOR, DELETE=Role.ADMIN)
def transformation_detail(
    request: HttpRequest, caller: Caller, ws: str, transformation_id: str
) -> HttpResponse:
    found = get_in_workspace(TRANSFORMATIONS, caller.workspace, transformation_id, "field transformation")
    if request.method == "PUT":
        return ok(s.transformation_json(_save(caller, read_json(request), found)))
    if request.method == "DELETE":
        domain.delete_transformation(found, caller.user)
        return no_content()
    return ok(s.transformation_json(found))


def _save(caller: Caller, body: dict, found: FieldTransformation | None) -> FieldTransformation:
    slug = s.object_id(body, found.slug if found else None)
    name = s.text(body, "name")
    s.choice(body.get("destination_type", "event_batch"), ("event_batch",), "destination_type")
    return domain.save_transformation(
        caller.workspace,
        transformation=found,
        slug=slug,
        name=name,
        mappings=domain.read_mappings(body.get("mappings")),
        user=caller.user,
    )
