"""Feed pages: the feed list (Setup › Inputs › Feeds), the feed summary, its actions and runs."""

from __future__ import annotations

import csv
from collections.abc import Callable

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from feeds import audit, wizard
from feeds.accounts.access import require_member
from feeds.accounts.models import Membership, Role
from feeds.models import Feed
from feeds.outputs import service as outputs
from feeds.pages import actions, overview
from feeds.pages.access import feed_for_user, feed_to_delete
from feeds.pages.http import HtmxHttpRequest
from feeds.sync.models import SyncRun
from feeds.sync.service import RunRefused

ROWS_PER_PAGE = 50  # rejected rows and identity conflicts on the run page


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    membership = Membership.objects.filter(user=request.user).select_related("workspace").first()
    if membership is None:
        return render(request, "feeds/no_workspace.html")
    return redirect("feeds:list", membership.workspace.slug)


@require_GET
def feed_list(request: HtmxHttpRequest, ws: str) -> HttpResponse:
    membership = require_member(request.user, ws)
    # No feed name holds NUL, and PostgreSQL refuses it in a query (a 500): it filters nothing.
    q = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    groups = overview.feeds_by_provider(membership.workspace, q)
    outputs.attach_connections([feed for group in groups for feed in group.feeds])
    ctx = {"workspace": membership.workspace, "membership": membership, "groups": groups, "nav": "feeds"}
    ctx.update(q=q, has_feeds=bool(groups) or overview.has_feeds(membership.workspace))
    return render(request, "feeds/feed_list.html", ctx)


@require_GET
def feed_summary(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    membership, feed = feed_for_user(request.user, ws, feed_id)
    ctx = {"workspace": membership.workspace, "membership": membership, "feed": feed, "nav": "feeds"}
    ctx.update(overview.feed_summary(feed))
    ctx["connected_outputs"] = outputs.connected_outputs(feed)
    ctx["resume_url"] = wizard.resume_url_name(feed)
    if request.htmx:  # the poll: header, fault alert, cards and runs, so all of them follow the run
        return render(request, "feeds/feed_summary.html#live", ctx)
    activity_page = request.GET.get("activity_page")
    if membership.allows(Role.ADMIN):
        ctx["activity"] = audit.entries(membership.workspace, activity_page, feed=feed)
    ctx["tab"] = "activity" if activity_page and "activity" in ctx else "model"
    return render(request, "feeds/feed_summary.html", ctx)


@require_POST
def run_sync(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    _, feed = feed_for_user(request.user, ws, feed_id, Role.EDITOR)
    _apply(request, actions.run_sync, feed, "Sync started. Its progress shows below.")
    return redirect("feeds:summary", ws, feed.pk)


@require_POST
def pause_sync(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    _, feed = feed_for_user(request.user, ws, feed_id, Role.ADMIN)
    _apply(request, actions.pause, feed, "Sync paused. No runs start until you resume it.")
    return redirect("feeds:summary", ws, feed.pk)


@require_POST
def resume_sync(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    _, feed = feed_for_user(request.user, ws, feed_id, Role.ADMIN)
    _apply(request, actions.resume, feed, "Sync resumed. One catch-up run covers the time it was paused.")
    return redirect("feeds:summary", ws, feed.pk)


def delete_feed(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    membership, feed = feed_to_delete(request.user, ws, feed_id)
    if request.method != "POST":
        ctx = {"workspace": membership.workspace, "feed": feed, "nav": "feeds"}
        return render(request, "feeds/feed_delete.html", ctx)
    name = feed.name
    _apply(request, actions.delete, feed, f"The feed “{name}” was deleted. Profiles it synced stay.")
    return redirect("feeds:list", ws)


def _apply(request: HtmxHttpRequest, action: Callable[..., object], feed: Feed, success: str) -> None:
    try:
        action(feed, request.user, request)
        messages.success(request, success)
    except RunRefused as refused:
        messages.error(request, str(refused))


@require_GET
def run_detail(request: HtmxHttpRequest, ws: str, feed_id: int, run_id: int) -> HttpResponse:
    membership, feed = feed_for_user(request.user, ws, feed_id)
    run = get_object_or_404(SyncRun, feed=feed, pk=run_id)
    ctx = {"workspace": membership.workspace, "feed": feed, "run": run, "nav": "feeds"}
    ctx.update(overview.run_detail(run, feed), can_restart=membership.allows(Role.ADMIN))
    if request.htmx:  # the 2-second poll: the progress part only, without the row tables' two counts
        return render(request, "feeds/run_detail.html#progress", ctx)
    rejected = run.rejected_rows.order_by("pk")
    ctx["rejected"] = Paginator(rejected, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    conflicts = run.identity_conflicts_list.order_by("pk")
    ctx["conflicts"] = Paginator(conflicts, ROWS_PER_PAGE).get_page(request.GET.get("conflicts_page"))
    return render(request, "feeds/run_detail.html", ctx)


@require_POST
def restart_run(request: HtmxHttpRequest, ws: str, feed_id: int, run_id: int) -> HttpResponse:
    _, feed = feed_for_user(request.user, ws, feed_id, Role.ADMIN)
    run = get_object_or_404(SyncRun, feed=feed, pk=run_id)
    if actions.restart_run(run, request.user, request):
        messages.success(request, "Run restarted: a worker takes it up again from its last committed page.")
    else:
        messages.error(request, "This run is not running any more, so there is nothing to restart.")
    return redirect("feeds:run_detail", ws, feed.pk, run.pk)


@require_GET
def rejected_csv(request: HtmxHttpRequest, ws: str, feed_id: int, run_id: int) -> StreamingHttpResponse:
    _, feed = feed_for_user(request.user, ws, feed_id)
    run = get_object_or_404(SyncRun, feed=feed, pk=run_id)
    rows = overview.rejected_rows_csv(run)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(r) for r in rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-rejected-rows.csv"'
    return response


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can stream."""

    def write(self, value: str) -> str:
        return value
