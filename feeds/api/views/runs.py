"""/platform/v2/workspaces/{ws}/pipelines/{id}/runs and /report: run history, one run, restart, health.

Each run carries mParticle's v1 fields beside wsync's (docs/api.md, “Runs as mParticle names them”).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from django.core.paginator import Paginator
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field, WithJsonSchema

from feeds.api import pipelines as domain
from feeds.api.auth import ADMIN, VIEWER
from feeds.api.errors import NotFound
from feeds.api.types import MAX_ID, OneOf, QueryInstant, WholeNumber
from feeds.api.views.common import READS, WRITES, Error, Message, Time, caller, messages
from feeds.api.views.connections import CONNECTION_STATE
from feeds.api.views.pipelines import pipeline
from feeds.models import Feed, FeedState
from feeds.models import Health as HealthState
from feeds.sync import service
from feeds.sync.models import AttemptOutcome, RunKind, RunState, SyncRun

router = Router(tags=["runs"])
RunId = Annotated[int, Field(ge=0, le=MAX_ID)]
MAX_PAGE_SIZE = 100
# mParticle v1's run type: a scheduled run is "scheduled", one someone asked for "manual"; a window of the
# history that activation (or an on-demand feed's first run) splits off is "backfill", which mParticle lacks.
PIPELINE_RUN_TYPE = {
    kind: "scheduled"
    if kind in (RunKind.SCHEDULED, RunKind.ONCE)
    else "backfill"
    if kind == RunKind.BACKFILL
    else "manual"
    for kind in RunKind.values
}
# mParticle v1's pipeline_run_state for each run state (its documented values plus its examples' success/failed).
PIPELINE_RUN_STATE: dict[str, str] = {
    RunState.QUEUED: "queued",
    RunState.RUNNING: "running",
    RunState.SUCCEEDED: "success",
    RunState.FAILED: "failed",
    RunState.CANCELLED: "failed",
}
# mParticle v2's run status for each run state.
RUN_STATUS: dict[str, str] = {
    RunState.QUEUED: "queued",
    RunState.RUNNING: "in_progress",
    RunState.SUCCEEDED: "complete",
    RunState.FAILED: "failed",
    RunState.CANCELLED: "cancelled",
}
# The run pages' text for a time bound (feeds.sync.windows.display); a date or a number stays as it is.
_DISPLAYED_TIME = "%Y-%m-%d %H:%M:%S UTC"
Interval = Annotated[
    str | datetime | None,
    WithJsonSchema(
        {
            "type": "string",
            "nullable": True,
            "description": "ISO-8601 with offset for a time iterator (2026-11-03T07:29:00.000Z); the date or "
            "number itself for a date or numeric iterator.",
        }
    ),
]


def interval_bound(text: str) -> str | datetime | None:
    """Return a run's data-interval bound: a time when it is one (written as ISO-8601), else as stored."""
    if not text:
        return None
    try:
        return datetime.strptime(text, _DISPLAYED_TIME).replace(tzinfo=UTC)
    except ValueError:
        return text


def _errors(text: str) -> list[dict[str, str]]:
    return [{"message": text}] if text else []


class Attempt(Schema):
    number: int
    start_date: Time = Field(validation_alias="started_at")
    end_date: Time = Field(validation_alias="finished_at")
    outcome: Annotated[str, OneOf(AttemptOutcome)]
    errors: list[Message]

    @staticmethod
    def resolve_errors(attempt: Any) -> list[dict[str, str]]:
        return _errors(attempt.error)


class Counts(Schema):
    """A run's counters, as SyncRun names them."""

    rows_read: int
    rows_reread: int
    rows_mapped: int
    rows_rejected: int
    profiles_created: int
    profiles_updated: int
    profiles_unchanged: int
    events_written: int
    identity_conflicts: int


RUN_COUNTS = tuple(Counts.model_fields)


class Run(Schema):
    id: int = Field(validation_alias="pk")
    pipeline_run_id: int = Field(validation_alias="pk")
    pipeline_id: str = Field(validation_alias="feed.slug")
    workspace_id: str = Field(
        validation_alias="feed.workspace.slug", description="The workspace's id as the address has it."
    )
    type: Annotated[str, OneOf(RunKind)] = Field(validation_alias="kind")
    pipeline_run_type: Annotated[str, OneOf(tuple(dict.fromkeys(PIPELINE_RUN_TYPE.values())))]
    state: Annotated[str, OneOf(RunState)]
    pipeline_run_state: Annotated[str, OneOf(tuple(dict.fromkeys(PIPELINE_RUN_STATE.values())))]
    status: str
    is_externally_triggered: bool
    logical_date: Time
    queued_on: Time = Field(validation_alias="queued_at")
    start_date: Time = Field(validation_alias="started_at")
    end_date: Time = Field(validation_alias="finished_at")
    data_interval_start: Interval
    data_interval_end: Interval
    records_extracted: int = Field(validation_alias="rows_read")
    records_mapped: int = Field(validation_alias="rows_mapped")
    event_batches_generated: int = Field(validation_alias="rows_mapped")
    counts: Counts
    errors: list[Message]
    next_retry_on: Time = Field(validation_alias="next_retry_at")
    attempts: list[Attempt]

    @staticmethod
    def resolve_pipeline_run_type(run: SyncRun) -> str:
        return PIPELINE_RUN_TYPE[run.kind]

    @staticmethod
    def resolve_pipeline_run_state(run: SyncRun) -> str:
        return PIPELINE_RUN_STATE[run.state]

    @staticmethod
    def resolve_status(run: SyncRun) -> str:
        return RUN_STATUS.get(run.state, run.state)

    @staticmethod
    def resolve_is_externally_triggered(run: SyncRun) -> bool:
        return run.kind == RunKind.MANUAL

    @staticmethod
    def resolve_logical_date(run: SyncRun) -> datetime | None:
        # mParticle always sets it: a run outside the schedule stands for the moment it was asked for.
        return run.logical_date or run.queued_at

    @staticmethod
    def resolve_data_interval_start(run: SyncRun) -> str | datetime | None:
        return interval_bound(run.window_from or run.data_from)

    @staticmethod
    def resolve_data_interval_end(run: SyncRun) -> str | datetime | None:
        return interval_bound(run.window_to or run.data_to)

    @staticmethod
    def resolve_counts(run: SyncRun) -> dict[str, int]:
        return {name: getattr(run, name) for name in RUN_COUNTS}

    @staticmethod
    def resolve_errors(run: SyncRun) -> list[dict[str, str]]:
        # The run's own error: only a Failed or Cancelled run has one. Each attempt keeps its own.
        return _errors(run.error)

    @staticmethod
    def resolve_attempts(run: SyncRun) -> list[Any]:
        return list(run.attempts.all())


class RunPage(Schema):
    items: list[Run]
    currentPage: int
    pageSize: int
    totalItems: int


class ConnectionHealth(Schema):
    id: str
    state: Annotated[str, OneOf(tuple(CONNECTION_STATE.values()))]
    status: Annotated[str, OneOf(HealthState)]
    errors: list[Message]


class OwedWindow(Schema):
    """A historical window not written yet, and the run that last took it up."""

    data_interval_start: Interval
    data_interval_end: Interval
    pipeline_run_id: int
    # A window is owed until a run writes it: any state but succeeded.
    state: Annotated[str, OneOf(tuple(v for v in RunState.values if v != RunState.SUCCEEDED))]


class Report(Schema):
    pipeline_id: str
    state: Annotated[str, OneOf(FeedState)]
    status: Annotated[str, OneOf(HealthState)]
    errors: list[Message]
    connection: ConnectionHealth | None
    latest_run: Run | None
    latest_successful_run: Run | None
    windows_owed: list[OwedWindow] = []


RUNS = SyncRun.objects.select_related("feed__workspace").prefetch_related("attempts")
LOGICAL = "Runs whose logical date (schedule slot; for a manual run, when it was queued) is {} this time."
AT_OR_AFTER, AT_OR_BEFORE = LOGICAL.format("at or after"), LOGICAL.format("at or before")
PER_PAGE = f"Runs per page (at most {MAX_PAGE_SIZE})."


@router.get(
    "/{pipelineId}/report",
    auth=VIEWER,
    response={200: Report, READS: Error},
    operation_id="pipeline_report",
    summary="Pipeline health and latest runs",
    description="Needs the viewer role.",
)
def report(request: HttpRequest, pipelineId: str) -> dict[str, Any]:
    feed = pipeline(request, pipelineId)
    runs = RUNS.filter(feed=feed).order_by("-pk")
    connection = feed.connection
    return {
        "pipeline_id": feed.slug,
        "state": feed.state,
        "status": feed.status,
        "errors": messages(feed.errors),
        "connection": {
            "id": connection.slug,
            "state": CONNECTION_STATE[connection.is_active],
            "status": connection.status,
            "errors": connection.errors or [],
        }
        if connection
        else None,
        "latest_run": runs.first(),
        "latest_successful_run": runs.filter(state=RunState.SUCCEEDED).first(),
        "windows_owed": [
            {
                "data_interval_start": interval_bound(run.window_from),
                "data_interval_end": interval_bound(run.window_to),
                "pipeline_run_id": run.pk,
                "state": run.state,
            }
            for run in service.owed_windows(feed)
        ],
    }


@router.get(
    "/{pipelineId}/runs",
    auth=VIEWER,
    response={200: RunPage, WRITES: Error},
    operation_id="list_runs",
    summary="Run history",
    description="Needs the viewer role.",
)
def run_list(
    request: HttpRequest,
    pipelineId: str,
    # Defaults as Query(default): ninja drops a default given beside Annotated[..., Query()].
    currentPage: Annotated[int, WholeNumber()] = Query(1, description="Page number, from 1."),
    pageSize: Annotated[int, WholeNumber(maximum=MAX_PAGE_SIZE)] = Query(20, description=PER_PAGE),
    startDate: QueryInstant = Query(None, description=AT_OR_AFTER),
    endDate: QueryInstant = Query(None, description=AT_OR_BEFORE),
) -> dict[str, Any]:
    feed = pipeline(request, pipelineId)
    # Bounds on the run's logical date (its schedule slot), as mParticle's; a manual run has none: when queued.
    runs = RUNS.filter(feed=feed).annotate(logical=Coalesce("logical_date", "queued_at")).order_by("-pk")
    if startDate is not None:
        runs = runs.filter(logical__gte=startDate)
    if endDate is not None:
        runs = runs.filter(logical__lte=endDate)
    paginator = Paginator(runs, pageSize)
    items = paginator.page(currentPage).object_list if currentPage <= paginator.num_pages else []
    return {"items": items, "currentPage": currentPage, "pageSize": pageSize, "totalItems": paginator.count}


@router.get(
    "/{pipelineId}/runs/{runId}",
    auth=VIEWER,
    response={200: Run, READS: Error},
    operation_id="get_run",
    summary="One run",
    description="Needs the viewer role.",
)
def run_detail(request: HttpRequest, pipelineId: str, runId: RunId) -> SyncRun:
    return _run(pipeline(request, pipelineId), runId)


@router.post(
    "/{pipelineId}/runs/{runId}/restart",
    auth=ADMIN,
    response={200: Run, frozenset({401, 403, 404, 409, 429}): Error},
    operation_id="restart_run",
    summary="Restart a running run whose worker is stuck, from its last committed page (wsync extra)",
    description="Needs the admin role.",
)
def restart_run(request: HttpRequest, pipelineId: str, runId: RunId) -> SyncRun:
    run = _run(pipeline(request, pipelineId), runId)
    domain.restart_run(run, caller(request).user)
    return _run(run.feed, runId)


def _run(feed: Feed, run_id: int) -> SyncRun:
    run = RUNS.filter(feed=feed, pk=run_id).first()
    if run is None:
        raise NotFound(f"Pipeline {feed.slug} has no run {run_id}.")
    return run
