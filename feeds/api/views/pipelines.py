"""/platform/v2/workspaces/{ws}/pipelines: list, create, get, replace, delete and trigger (runs: runs.py)."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router
from pydantic import Field, field_validator

from feeds.accounts.models import Role
from feeds.api import pipelines as domain
from feeds.api.auth import EDITOR, Caller, require_role
from feeds.api.errors import Invalid
from feeds.api.types import Id, Instant, Lookback, Name, NonBlank, OneOf, TimeZone, refuse
from feeds.api.views.common import (
    LEFT_OUT,
    WRITES,
    Audit,
    Error,
    Health,
    Strict,
    caller,
    get_in_workspace,
    object_id,
)
from feeds.api.views.crud import Resource, crud
from feeds.models import (
    Environment,
    Feed,
    FeedState,
    Frequency,
    InputProtection,
    PipelineType,
    ScheduleType,
)
from feeds.models import SyncMode as SyncModeChoice

router = Router(tags=["pipelines"], by_alias=True)  # by alias: sync_mode's `from`, a Python keyword
FEEDS = Feed.objects.select_related(
    "connection", "data_model", "field_transformation", "created_by", "last_modified_by"
)
Text = Annotated[str, Field(max_length=200)]
# mParticle pipeline settings wsync cannot honour: refused with the reason unless null, never silently dropped.
_NO_DATA_PLANS = "wsync has no data plans; leave it out or null (rows are checked by the mapping's rules)."
_NO_INPUT_FEEDS = (
    "wsync has no input feeds: a pipeline's rows go to its workspace's profile store; leave it out or null."
)
UNSUPPORTED = {
    "data_plan_id": _NO_DATA_PLANS,
    "data_plan_version": _NO_DATA_PLANS,
    "partner_feed_id": _NO_INPUT_FEEDS,
    "partner_feed_key": _NO_INPUT_FEEDS,
}
REFUSED = Field(
    None, description="wsync refuses a value (400) and returns null; see the README's API section."
)


class SyncMode(Strict):
    type: Annotated[str, OneOf(SyncModeChoice)] | None = None
    iterator: Text | None = None
    iterator_data_type: Text | None = None
    from_: Instant = Field(LEFT_OUT, alias="from")
    until: Instant = Field(
        None,
        description="Optional end on the iterator: rows whose iterator is at or past it are never read (main "
        "runs and the history load). Incremental pipelines with a date or time iterator only, and after "
        "`from`; null for no end.",
    )
    lookback_seconds: Lookback = 0
    timezone: TimeZone = "UTC"


class Schedule(Strict):
    type: Annotated[str, OneOf(ScheduleType)] | None = None
    frequency: Annotated[str, OneOf(Frequency)] | None = None
    start: Instant = None
    end: Instant = None

    @field_validator("frequency", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return value or None


class PipelineUpdate(Strict):
    """Fields left out keep their value; a PUT of state pauses or resumes."""

    id: Id = Field(LEFT_OUT, description="Leave out on a PUT: the address has it.")
    name: Name = LEFT_OUT
    pipeline_type: Annotated[str, OneOf(PipelineType)] = LEFT_OUT
    connection_id: Annotated[str, NonBlank(100)] = LEFT_OUT
    data_model_id: Annotated[str, NonBlank(100)] = LEFT_OUT
    field_transformation_id: Text | None = Field(
        None, description="Leave out for the automatic mapping of reserved column names."
    )
    state: Annotated[str, OneOf(FeedState)] = LEFT_OUT
    environment: Annotated[str, OneOf(Environment)] = LEFT_OUT
    input_protection: Annotated[str, OneOf(InputProtection)] = LEFT_OUT
    sync_mode: SyncMode = LEFT_OUT
    schedule: Schedule = LEFT_OUT
    data_plan_id: str | None = REFUSED
    data_plan_version: str | None = REFUSED
    partner_feed_id: str | None = REFUSED
    partner_feed_key: str | None = REFUSED

    @field_validator(*UNSUPPORTED, mode="before")
    @classmethod
    def _unsupported(cls, value: Any, info: Any) -> None:
        if value is not None:
            raise refuse(UNSUPPORTED[info.field_name], "unsupported")


class PipelineInput(PipelineUpdate):
    id: Id
    name: Name
    connection_id: Annotated[str, NonBlank(100)]
    data_model_id: Annotated[str, NonBlank(100)]


class Pipeline(Health, Audit):
    id: str = Field(validation_alias="slug")
    name: str
    pipeline_type: Annotated[str, OneOf(PipelineType)]
    connection_id: str | None
    data_model_id: str | None
    field_transformation_id: str | None
    state: Annotated[str, OneOf(FeedState)]
    environment: Annotated[str, OneOf(Environment)]
    input_protection: Annotated[str, OneOf(InputProtection)]
    sync_mode: SyncMode
    schedule: Schedule
    data_plan_id: None = None
    data_plan_version: None = None
    partner_feed_id: None = None
    partner_feed_key: None = None

    @staticmethod
    def resolve_connection_id(feed: Feed) -> str | None:
        return feed.connection.slug if feed.connection else None

    @staticmethod
    def resolve_data_model_id(feed: Feed) -> str | None:
        return feed.data_model.slug if feed.data_model else None

    @staticmethod
    def resolve_field_transformation_id(feed: Feed) -> str | None:
        return feed.field_transformation.slug if feed.field_transformation else None

    @staticmethod
    def resolve_sync_mode(feed: Feed) -> dict[str, Any]:
        return {
            "type": feed.sync_mode,
            "iterator": feed.iterator or None,
            "iterator_data_type": feed.iterator_type or None,
            "from": feed.from_time,
            "until": feed.until_time,
            "lookback_seconds": feed.lookback_seconds,
            "timezone": feed.timezone,
        }

    @staticmethod
    def resolve_schedule(feed: Feed) -> dict[str, Any]:
        return {
            "type": feed.schedule_type,
            "frequency": feed.frequency or None,
            "start": feed.schedule_start,
            "end": feed.schedule_end,
        }


class Trigger(Strict):
    pipeline_run_id: int
    status: Annotated[str, OneOf(("trigger_requested",))]


def _list(request: HttpRequest) -> Any:
    return FEEDS.filter(workspace=caller(request).workspace).order_by("slug")


def _delete(request: HttpRequest, found: Feed) -> None:
    domain.delete_pipeline(found, caller(request).user)


@router.post(
    "/{pipelineId}/trigger",
    auth=EDITOR,
    response={200: Trigger, WRITES: Error},
    operation_id="trigger_pipeline",
    summary="Start an on-demand run",
    description="Needs the editor role.",
    openapi_extra={
        "responses": {
            200: {
                "links": {
                    "GetRun": {
                        "operationId": "get_run",
                        "parameters": {
                            "workspaceId": "$request.path.workspaceId",
                            "pipelineId": "$request.path.pipelineId",
                            "runId": "$response.body#/pipeline_run_id",
                        },
                    }
                }
            }
        }
    },
)
def trigger(request: HttpRequest, pipelineId: str) -> dict[str, Any]:
    run = domain.trigger(pipeline(request, pipelineId), caller(request).user)
    return {"pipeline_run_id": run.pk, "status": "trigger_requested"}


def pipeline(request: HttpRequest, slug: str) -> Feed:
    """Return the caller's pipeline at this address; raises NotFound."""
    return get_in_workspace(FEEDS, caller(request).workspace, slug, "pipeline")


def _save(caller: Caller, body: PipelineUpdate, feed: Feed | None) -> Feed:
    values = _values(body, feed)
    current = feed.state if feed else FeedState.DRAFT
    # Pausing and resuming are admin actions, as on the feed pages; activating a draft is an editor's.
    pausing = values["state"] == FeedState.PAUSED and current != FeedState.PAUSED
    resuming = current == FeedState.PAUSED and values["state"] != FeedState.PAUSED
    if pausing or resuming:
        require_role(caller, Role.ADMIN)
    saved = domain.save_pipeline(caller.workspace, feed=feed, values=values, user=caller.user)
    return FEEDS.get(pk=saved.pk)


def _values(body: PipelineUpdate, feed: Feed | None) -> dict[str, Any]:
    """Return the pipeline's values from a request body; on update, fields left out keep their value."""
    sent = body.model_dump(exclude_unset=True, by_alias=True)
    base = Pipeline.from_orm(feed).model_dump(by_alias=True) if feed else {}
    merged = {**base, **sent}
    sync_mode = {**(base.get("sync_mode") or {}), **(sent.get("sync_mode") or {})}
    schedule = {**(base.get("schedule") or {}), **(sent.get("schedule") or {})}
    iterator = (sync_mode.get("iterator") or "").strip()
    return {
        "slug": object_id(sent.get("id"), feed.slug if feed else None),
        "name": merged["name"],
        "connection_id": _required(merged, "connection_id"),
        "data_model_id": _required(merged, "data_model_id"),
        "field_transformation_id": (merged.get("field_transformation_id") or "").strip(),
        "state": merged.get("state") or FeedState.ACTIVE,
        "pipeline_type": merged.get("pipeline_type") or PipelineType.USER_ATTRIBUTES,
        "environment": merged.get("environment") or Environment.PRODUCTION,
        "input_protection": merged.get("input_protection") or InputProtection.CREATE_AND_UPDATE,
        "sync_mode": sync_mode.get("type")
        or (SyncModeChoice.INCREMENTAL if iterator else SyncModeChoice.FULL),
        "iterator": iterator,
        "iterator_type": (sync_mode.get("iterator_data_type") or "").strip(),
        "from_time": sync_mode.get("from"),
        "until_time": sync_mode.get("until"),
        "lookback_seconds": sync_mode.get("lookback_seconds") or 0,
        "timezone": sync_mode.get("timezone") or "UTC",
        "schedule_type": schedule.get("type") or ScheduleType.ON_DEMAND,
        "frequency": schedule.get("frequency") or "",
        "schedule_start": schedule.get("start"),
        "schedule_end": schedule.get("end"),
    }


def _required(values: dict[str, Any], key: str) -> str:
    if not values.get(key):
        raise Invalid(f"“{key}” is required.", field=key)
    return str(values[key])


crud(
    router,
    Resource(
        "Pipeline",
        "a pipeline",
        "pipelineId",
        Pipeline,
        PipelineInput,
        PipelineUpdate,
        find=pipeline,
        save=lambda request, body, found: _save(caller(request), body, found),
        delete=_delete,
        update_role="editor (admin to change a pipeline's state)",
    ),
    listing=_list,
)
