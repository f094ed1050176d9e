"""/platform/v2/workspaces/{ws}/pipelines: CRUD, trigger, report and run history."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse

from feeds.accounts.models import Role
from feeds.api import pipelines as domain
from feeds.api import serializers as s
from feeds.api.auth import Caller, endpoint, read_json, require_role
from feeds.api.errors import NotFound
from feeds.api.params import id_from_path, whole_number
from feeds.api.views.common import get_in_workspace, no_content, ok
from feeds.models import Feed, FeedState
from feeds.sync import service
from feeds.sync.models import RunState, SyncRun

FEEDS = Feed.objects.select_related(
    "connection", "data_model", "field_transformation", "created_by", "last_modified_by"
)
MAX_PAGE_SIZE = 100


@endpoint(GET=Role.VIEWER, POST=Role.EDITOR)
def pipeline_list(request: HttpRequest, caller: Caller, ws: str) -> HttpResponse:
    if request.method == "POST":
        return ok(s.pipeline_json(_save(caller, read_json(request), None)))
    return ok([s.pipeline_json(f) for f in FEEDS.filter(workspace=caller.workspace).order_by("slug")])


@endpoint(GET=Role.VIEWER, PUT=Role.EDITOR, DELETE=Role.ADMIN)
def pipeline_detail(request: HttpRequest, caller: Caller, ws: str, pipeline_id: str) -> HttpResponse:
    feed = get_in_workspace(FEEDS, caller.workspace, pipeline_id, "pipeline")
    if request.method == "PUT":
        return ok(s.pipeline_json(_save(caller, read_json(request), feed)))
    if request.method == "DELETE":
        domain.delete_pipeline(feed, caller.user)
        return no_content()
    return ok(s.pipeline_json(feed))


def _save(caller: Caller, body: dict, feed: Feed | None) -> Feed:
    values = s.pipeline_values(body, feed)
    current = feed.state if feed else FeedState.DRAFT
    # Pausing and resuming are admin actions, as on the feed pages; activating a draft is an editor's.
    pausing = values["state"] == FeedState.PAUSED and current != FeedState.PAUSED
    resuming = current == FeedState.PAUSED and values["state"] != FeedState.PAUSED
    if pausing or resuming:
        require_role(caller, Role.ADMIN)
    saved = domain.save_pipeline(caller.workspace, feed=feed, values=values, user=caller.user)
    return FEEDS.get(pk=saved.pk)


@endpoint(POST=Role.EDITOR)
def trigger(request: HttpRequest, caller: Caller, ws: str, pipeline_id: str) -> HttpResponse:
    feed = get_in_workspace(FEEDS, caller.workspace, pipeline_id, "pipeline")
    run = domain.trigger(feed, caller.user)
    return ok({"pipeline_run_id": run.pk, "status": "trigger_requested"})


@endpoint(GET=Role.VIEWER)
def report(request: HttpRequest, caller: Caller, ws: str, pipeline_id: str) -> HttpResponse:
    feed = get_in_workspace(FEEDS, caller.workspace, pipeline_id, "pipeline")
    runs = SyncRun.objects.filter(feed=feed).order_by("-pk")
    latest, succeeded = runs.first(), runs.filter(state=RunState.SUCCEEDED).first()
    connection = feed.connection
    pipeline = s.pipeline_json(feed)
    return ok(
        {
            "pipeline_id": feed.slug,
            "state": feed.state,
            "status": pipeline["status"],
            "errors": pipeline["errors"],
            "connection": {
                "id": connection.slug,
                "state": s.CONNECTION_STATE[connection.is_active],
                "status": connection.status,
                "errors": connection.errors or [],
            }
            if connection
            else None,
            "latest_run": s.run_json(latest, feed.slug, ws) if latest else None,
            "latest_successful_run": s.run_json(succeeded, feed.slug, ws) if succeeded else None,
            "windows_owed": [s.owed_window_json(r) for r in service.owed_windows(feed)],
        }
    )


@endpoint(GET=Role.VIEWER)
def run_list(request: HttpRequest, caller: Caller, ws: str, pipeline_id: str) -> HttpResponse:
    feed = get_in_workspace(FEEDS, caller.workspace, pipeline_id, "pipeline")
    # Bounds on the run's logical date (its schedule slot), as mParticle's; a manual run has none: when queued.
    runs = SyncRun.objects.filter(feed=feed).prefetch_related("attempts")
    runs = runs.annotate(logical=Coalesce("logical_date", "queued_at"))
    runs = runs.order_by("-pk")
    start = s.datetime_value(request.GET.get("startDate"), "startDate", empty_is_none=False)
    end = s.datetime_value(request.GET.get("endDate"), "endDate", empty_is_none=False)
    if start is not None:
        runs = runs.filter(logical__gte=start)
    if end is not None:
        runs = runs.filter(logical__lte=end)
    page_number = whole_number(request.GET.get("currentPage"), "currentPage", default=1)
    page_size = whole_number(request.GET.get("pageSize"), "pageSize", default=20, maximum=MAX_PAGE_SIZE)
    paginator = Paginator(runs, page_size)
    items = paginator.page(page_number).object_list if page_number <= paginator.num_pages else []
    return ok(
        {
            "items": [s.run_json(r, feed.slug, ws) for r in items],
            "currentPage": page_number,
            "pageSize": page_size,
            "totalItems": paginator.count,
        }
    )


@endpoint(GET=Role.VIEWER)
def run_detail(request: HttpRequest, caller: Caller, ws: str, pipeline_id: str, run_id: str) -> HttpResponse:
    feed = get_in_workspace(FEEDS, caller.workspace, pipeline_id, "pipeline")
    return ok(s.run_json(_run(feed, run_id), feed.slug, ws))


@endpoint(POST=Role.ADMIN)
def restart_run(request: HttpRequest, caller: Caller, ws: str, pipeline_id: str, run_id: str) -> HttpResponse:
    feed = get_in_workspace(FEEDS, caller.workspace, pipeline_id, "pipeline")
    run = _run(feed, run_id)
    domain.restart_run(run, caller.user)
    run.refresh_from_db()
    return ok(s.run_json(run, feed.slug, ws))


def _run(feed: Feed, run_id: str) -> SyncRun:
    run_pk = id_from_path(run_id)
    run = SyncRun.objects.filter(feed=feed, pk=run_pk).first() if run_pk is not None else None
    if run is None:
        raise NotFound(f"Pipeline {feed.slug} has no run {run_id}.")
    return run
