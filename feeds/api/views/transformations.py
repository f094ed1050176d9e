"""/platform/v2/workspaces/{ws}/field-transformations: list, create, get, replace, delete."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from feeds.api import transformations as domain
from feeds.api.types import Id, Name, OneOf
from feeds.api.views.common import (
    LEFT_OUT,
    Audit,
    Strict,
    caller,
    get_in_workspace,
    object_id,
)
from feeds.api.views.crud import Resource, crud
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


def _list(request: HttpRequest) -> Any:
    return TRANSFORMATIONS.filter(workspace=caller(request).workspace).order_by("slug")


def _delete(request: HttpRequest, found: Model) -> None:
    domain.delete_transformation(found, caller(request).user)


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


crud(
    router,
    Resource(
        "FieldTransformation",
        "a field transformation",
        "fieldTransformationId",
        FieldTransformation,
        FieldTransformationInput,
        FieldTransformationUpdate,
        find=_found,
        save=_save,
        delete=_delete,
    ),
    listing=_list,
)
