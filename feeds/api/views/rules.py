"""/platform/v2/workspaces/{ws}/rules: each pipeline's Rules Applied (list, get, replace), and those of one
pipeline→output connection (rules/{pipelineId}/outputs/{connectionId}) (docs/rules.md)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from feeds.accounts.models import Role
from feeds.api.auth import Caller, endpoint, read_json
from feeds.api.errors import Invalid, NotFound
from feeds.api.views.common import get_in_workspace, ok
from feeds.models import Feed
from feeds.outputs.models import FeedOutput
from feeds.rules import service
from feeds.rules.models import RuleSet
from feeds.rules.service import Owner
from feeds.rules.steps import StepsInvalid


@endpoint(GET=Role.VIEWER)
def rules_list(request: HttpRequest, caller: Caller, ws: str) -> HttpResponse:
    feeds = (
        Feed.objects.filter(workspace=caller.workspace)
        .select_related("rule_set")
        .prefetch_related("rule_set__versions")
        .order_by("slug")
    )
    return ok([_json(feed, getattr(feed, "rule_set", None)) for feed in feeds])


@endpoint(GET=Role.VIEWER, PUT=Role.EDITOR)
def rules_detail(request: HttpRequest, caller: Caller, ws: str, pipeline_id: str) -> HttpResponse:
    feed = get_in_workspace(Feed.objects, caller.workspace, pipeline_id, "pipeline")
    if request.method == "PUT":
        _replace(feed, read_json(request), caller)
    return ok(_json(feed, RuleSet.objects.filter(feed=feed).first()))


@endpoint(GET=Role.VIEWER, PUT=Role.EDITOR)
def output_rules(
    request: HttpRequest, caller: Caller, ws: str, pipeline_id: str, connection_id: str
) -> HttpResponse:
    feed = get_in_workspace(Feed.objects, caller.workspace, pipeline_id, "pipeline")
    found = (
        FeedOutput.objects.select_related("output").filter(feed=feed, pk=connection_id).first()
        if connection_id.isdigit()
        else None
    )
    if found is None:
        raise NotFound(f"Pipeline “{pipeline_id}” has no connected output “{connection_id}”.")
    if request.method == "PUT":
        _replace(found, read_json(request), caller)
    return ok(_json(feed, RuleSet.objects.filter(connection=found).first(), found))


def _replace(owner: Owner, body: dict[str, Any], caller: Caller) -> None:
    """Save the steps as the draft and, unless "activate" is false, make them the version in effect."""
    activate = body.get("activate", True)
    if not isinstance(activate, bool):
        raise Invalid("activate: say true or false.", field="activate")
    try:
        service.replace_steps(owner, body.get("steps"))
        if activate:
            service.activate(owner, caller.user)
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
