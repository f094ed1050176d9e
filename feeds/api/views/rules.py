"""/platform/v2/workspaces/{ws}/rules: each pipeline's Rules Applied (list, get, replace), and those of one
pipeline→output connection (rules/{pipelineId}/outputs/{connectionId}) (docs/rules.md).

Steps come back as they were saved (exclude_unset): a step holds only the settings it was given.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import ConfigDict, Field

from feeds.api.auth import EDITOR, VIEWER
from feeds.api.errors import Invalid, NotFound
from feeds.api.types import Id, OneOf
from feeds.api.views.common import LEFT_OUT, READS, WRITES, Error, Strict, caller, get_in_workspace
from feeds.models import Feed
from feeds.outputs.models import FeedOutput
from feeds.rules import ACTIONS, OPERATORS, service
from feeds.rules.models import RuleSet
from feeds.rules.service import Owner
from feeds.rules.steps import StepsInvalid

router = Router(tags=["rules"], exclude_unset=True)
ANY = Field(LEFT_OUT, description="text, number, boolean, list or object")


class Condition(Schema):
    model_config = ConfigDict(extra="allow", strict=True)

    field: str = LEFT_OUT  # left out, not null: as the step was given
    operator: Annotated[str, OneOf(tuple(OPERATORS))] = LEFT_OUT
    value: Any = ANY
    expression: str = Field(LEFT_OUT, description="a CEL expression instead of field/operator/value")


class Action(Schema):
    model_config = ConfigDict(extra="allow", strict=True)

    type: Annotated[str, OneOf(tuple(ACTIONS))]
    field: str = LEFT_OUT
    to: str = LEFT_OUT
    value: Any = ANY
    expression: str = LEFT_OUT
    event_name: str = LEFT_OUT
    keep: int = Field(LEFT_OUT, ge=0, le=64)


class RuleStep(Schema):
    model_config = ConfigDict(extra="allow", strict=True)

    id: str | None = None
    name: str = Field(max_length=200)
    enabled: bool = LEFT_OUT
    condition: Condition | None = None
    action: Action


Steps = Annotated[list[RuleStep], Field(max_length=50)]


class Rules(Schema):
    pipeline_id: Id
    connection_id: int | None
    version: int | None
    steps: Steps
    draft_steps: Steps
    has_unactivated_changes: bool


class RulesInput(Strict):
    steps: Steps
    activate: bool = True


@router.get(
    "",
    auth=VIEWER,
    response={200: list[Rules], READS: Error},
    operation_id="list_Rules",
    summary="List each pipeline's rules",
    description="Needs the viewer role.",
)
def rules_list(request: HttpRequest) -> Any:
    feeds = (
        Feed.objects.filter(workspace=caller(request).workspace)
        .select_related("rule_set")
        .prefetch_related("rule_set__versions")
        .order_by("slug")
    )
    return [_json(feed, getattr(feed, "rule_set", None)) for feed in feeds]


@router.get(
    "/{pipelineId}",
    auth=VIEWER,
    response={200: Rules, READS: Error},
    operation_id="get_Rules",
    summary="Get a pipeline's rules",
    description="Needs the viewer role.",
)
def rules_get(request: HttpRequest, pipelineId: str) -> Any:
    feed = get_in_workspace(Feed.objects, caller(request).workspace, pipelineId, "pipeline")
    return _json(feed, RuleSet.objects.filter(feed=feed).first())


@router.put(
    "/{pipelineId}",
    auth=EDITOR,
    response={200: Rules, WRITES: Error},
    operation_id="update_Rules",
    summary="Replace a pipeline's rule steps (and activate them unless activate is false)",
    description="Needs the editor role.",
)
def rules_replace(request: HttpRequest, pipelineId: str, body: RulesInput) -> Any:
    feed = get_in_workspace(Feed.objects, caller(request).workspace, pipelineId, "pipeline")
    _replace(request, feed, body)
    return _json(feed, RuleSet.objects.filter(feed=feed).first())


@router.get(
    "/{pipelineId}/outputs/{connectionId}",
    auth=VIEWER,
    response={200: Rules, READS: Error},
    operation_id="get_OutputRules",
    summary="Get the rules of a pipeline's connected output",
    description="Needs the viewer role.",
)
def output_rules_get(request: HttpRequest, pipelineId: str, connectionId: str) -> Any:
    feed, found = _connected(request, pipelineId, connectionId)
    return _json(feed, RuleSet.objects.filter(connection=found).first(), found)


@router.put(
    "/{pipelineId}/outputs/{connectionId}",
    auth=EDITOR,
    response={200: Rules, WRITES: Error},
    operation_id="update_OutputRules",
    summary="Replace the rule steps of a pipeline's connected output (only what it receives)",
    description="Needs the editor role.",
)
def output_rules_replace(
    request: HttpRequest,
    pipelineId: str,
    connectionId: str,
    body: RulesInput,
) -> Any:
    feed, found = _connected(request, pipelineId, connectionId)
    _replace(request, found, body)
    return _json(feed, RuleSet.objects.filter(connection=found).first(), found)


def _connected(request: HttpRequest, pipeline_id: str, connection_id: str) -> tuple[Feed, FeedOutput]:
    feed = get_in_workspace(Feed.objects, caller(request).workspace, pipeline_id, "pipeline")
    found = (
        FeedOutput.objects.select_related("output").filter(feed=feed, pk=connection_id).first()
        if connection_id.isascii() and connection_id.isdigit() and len(connection_id) <= 18
        else None
    )
    if found is None:
        raise NotFound(f"Pipeline “{pipeline_id}” has no connected output “{connection_id}”.")
    return feed, found


def _replace(request: HttpRequest, owner: Owner, body: RulesInput) -> None:
    """Save the steps as the draft and, unless "activate" is false, make them the version in effect."""
    steps = [step.model_dump(exclude_unset=True) for step in body.steps]
    try:
        service.replace_steps(owner, steps)
        if body.activate:
            service.activate(owner, caller(request).user)
    except StepsInvalid as invalid:
        field, message = next(iter(invalid.problems.items()))
        raise Invalid(f"{field}: {message}", field=field) from None


def _json(feed: Feed, found: RuleSet | None, connection: FeedOutput | None = None) -> dict[str, Any]:
    # The versions are read through .all() so that the list's prefetch serves them (no query per pipeline).
    active = next((v for v in found.versions.all() if v.number == found.version), None) if found else None
    steps = active.steps if active else []
    draft = found.draft if found else []
    return {
        "pipeline_id": feed.slug,
        "connection_id": connection.pk if connection else None,
        "version": active.number if active else None,
        "steps": steps,
        "draft_steps": draft,
        "has_unactivated_changes": draft != steps,
    }
