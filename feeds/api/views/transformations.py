"""/platform/v2/workspaces/{ws}/field-transformations: list, create, get, replace, delete."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from feeds.api import transformations as domain
from feeds.api.auth import ADMIN, EDITOR, VIEWER
from feeds.api.types import Id, Name, OneOf
from feeds.api.views.common import (
    CREATES,
    LEFT_OUT,
    READS,
    WRITES,
    Audit,
    Error,
    Strict,
    caller,
    created_links,
    get_in_workspace,
    no_content,
    object_id,
)
from feeds.mapping import MappingType
from feeds.models import FieldTransformation as Model

router = Router(tags=["field transformations"])
EventBatch = Annotated[str, OneOf(("event_batch",))]
TRANSFORMATIONS = Model.objects.select_related("created_by", "last_modified_by")


class Mapping(Schema):
    mapping_type: Annotated[str, OneOf(MappingType)]
    source: str | None = None
    destination: str | None = None
    value: Any = Field(LEFT_OUT, description="A text, number or boolean for static mappings.")


class FieldTransformationUpdate(Strict):
    id: Id = Field(LEFT_OUT, description="Leave out on a PUT: the address has it.")
    name: Name
    destination_type: EventBatch = "event_batch"
    mappings: list[Mapping]


class FieldTransformationInput(FieldTransformationUpdate):
    id: Id


class FieldTransformation(Audit):
    id: str = Field(alias="slug")
    name: str
    destination_type: EventBatch
    mappings: list[Mapping]


@router.get(
    "",
    auth=VIEWER,
    response={200: list[FieldTransformation], READS: Error},
    operation_id="list_FieldTransformation",
    summary="List field transformations",
    description="Needs the viewer role.",
)
def transformation_list(request: HttpRequest) -> Any:
    return TRANSFORMATIONS.filter(workspace=caller(request).workspace).order_by("slug")


@router.post(
    "",
    auth=EDITOR,
    response={200: FieldTransformation, CREATES: Error},
    operation_id="create_FieldTransformation",
    openapi_extra=created_links("FieldTransformation", "fieldTransformationId"),
    summary="Create a field transformation",
    description="Needs the editor role.",
)
def transformation_create(request: HttpRequest, body: FieldTransformationInput) -> Model:
    return _save(request, body, None)


@router.get(
    "/{fieldTransformationId}",
    auth=VIEWER,
    response={200: FieldTransformation, READS: Error},
    operation_id="get_FieldTransformation",
    summary="Get a field transformation",
    description="Needs the viewer role.",
)
def transformation_get(request: HttpRequest, fieldTransformationId: str) -> Model:
    return _found(request, fieldTransformationId)


@router.put(
    "/{fieldTransformationId}",
    auth=EDITOR,
    response={200: FieldTransformation, WRITES: Error},
    operation_id="update_FieldTransformation",
    summary="Update a field transformation",
    description="Needs the editor role.",
)
def transformation_update(
    request: HttpRequest,
    fieldTransformationId: str,
    body: FieldTransformationUpdate,
) -> Model:
    return _save(request, body, _found(request, fieldTransformationId))


@router.delete(
    "/{fieldTransformationId}",
    auth=ADMIN,
    response={204: None, WRITES: Error},
    operation_id="delete_FieldTransformation",
    summary="Delete a field transformation",
    description="Needs the admin role.",
)
def transformation_delete(request: HttpRequest, fieldTransformationId: str) -> Status:
    domain.delete_transformation(_found(request, fieldTransformationId), caller(request).user)
    return no_content()


def _found(request: HttpRequest, slug: str) -> Model:
    return get_in_workspace(TRANSFORMATIONS, caller(request).workspace, slug, "field transformation")


def _save(request: HttpRequest, body: FieldTransformationUpdate, found: Model | None) -> Model:
    saved = domain.save_transformation(
        caller(request).workspace,
        transformation=found,
        slug=object_id(body.id, found.slug if found else None),
        name=body.name,
        mappings=[mapping.model_dump() for mapping in body.mappings],
        user=caller(request).user,
    )
    return TRANSFORMATIONS.get(pk=saved.pk)
