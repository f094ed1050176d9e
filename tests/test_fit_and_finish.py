"""Fit and finish of the feed pages (issue 20): what the pages say, in the words and numbers a reader expects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feeds.models import Feed, FeedState
from feeds.pages.overview import run_chart
from feeds.sync.models import RejectedRow, RunKind, RunState, SyncRun
from tests.feed_fixtures import build_feed
from tests.personas import client_for

pytestmark = pytest.mark.django_db


def _url(feed, suffix=""):
    return f"/w/acme/feeds/{feed.pk}/{suffix}"


def test_it_shows_rejected_values_as_json_like_the_csv(active_feed, viewer):
    run = SyncRun.objects.create(feed=active_feed, state=RunState.SUCCEEDED)
    RejectedRow.objects.create(
        run=run, row_key="row 1", reason="The row has no identity.", values={"customer_id": None}
    )
    html = client_for(viewer).get(_url(active_feed, f"runs/{run.pk}/")).content.decode()
    assert "{&quot;customer_id&quot;: null}" in html
    assert "None" not in html.split('id="rejected"')[1]


def test_it_numbers_runs_per_feed_from_one(active_feed, workspace, viewer):
    other = build_feed(
        workspace, active_feed.connection, sql="SELECT 1", slug="other", name="Other", state=FeedState.ACTIVE
    )
    SyncRun.objects.create(feed=active_feed, state=RunState.SUCCEEDED)
    SyncRun.objects.create(feed=other, state=RunState.SUCCEEDED)
    backfill = [SyncRun(feed=other, kind=RunKind.BACKFILL), SyncRun(feed=other, kind=RunKind.BACKFILL)]
    SyncRun.objects.bulk_create(backfill)
    latest = SyncRun.objects.create(feed=active_feed, state=RunState.SUCCEEDED)
    assert list(SyncRun.objects.filter(feed=other).order_by("pk").values_list("number", flat=True)) == [
        1,
        2,
        3,
    ]
    assert latest.number == 2 and latest.pk >= 5  # four runs were made before it
    html = client_for(viewer).get(_url(active_feed, f"runs/{latest.pk}/")).content.decode()
    assert "Run #2" in html and f"Run #{latest.pk}" not in html
    summary = client_for(viewer).get(_url(active_feed)).content.decode()
    assert f'href="/w/acme/feeds/{active_feed.pk}/runs/{latest.pk}/">#2</a>' in summary


def test_the_feed_list_formats_counts_and_times(active_feed, workspace, viewer):
    SyncRun.objects.create(feed=active_feed, state=RunState.SUCCEEDED, rows_read=1)
    html = client_for(viewer).get("/w/acme/feeds/").content.decode()
    assert "1 row<" in html and "1 rows" not in html and "0 minutes ago" not in html
    assert "just now · 1 row<" in html
    SyncRun.objects.create(
        feed=active_feed,
        state=RunState.SUCCEEDED,
        rows_read=5000,
        queued_at=timezone.now() - timedelta(minutes=5, seconds=3),
    )
    html = client_for(viewer).get("/w/acme/feeds/").content.decode()
    assert "5\xa0minutes ago · 5,000 rows" in html  # humanize keeps the number and unit together


def test_the_feed_list_says_history_is_loading_instead_of_an_empty_last_run(active_feed, viewer):
    SyncRun.objects.bulk_create(
        [SyncRun(feed=active_feed, kind=RunKind.BACKFILL, window_from=f"2025-0{m}-01") for m in (1, 2)]
    )
    SyncRun.objects.create(feed=active_feed, state=RunState.SUCCEEDED, rows_read=0)
    html = client_for(viewer).get("/w/acme/feeds/").content.decode()
    assert "Loading history" in html and "2 windows to go" in html and "0 rows" not in html


def test_the_feed_list_filters_by_name_and_says_when_nothing_matches(active_feed, workspace, viewer):
    build_feed(workspace, active_feed.connection, sql="SELECT 1", slug="orders", name="Orders")
    client = client_for(viewer)
    html = client.get("/w/acme/feeds/", {"q": "ORD"}).content.decode()
    assert ">Orders</a>" in html and ">Users</a>" not in html
    html = client.get("/w/acme/feeds/", {"q": "nothing"}).content.decode()
    assert "No feed name contains “nothing”" in html and "No warehouse syncs yet" not in html


def test_the_feed_list_offers_each_role_its_row_actions(active_feed, viewer, editor, admin):
    pause = f'action="/w/acme/feeds/{active_feed.pk}/pause/"'
    run = f'action="/w/acme/feeds/{active_feed.pk}/run/"'
    assert run not in client_for(viewer).get("/w/acme/feeds/").content.decode()
    editor_html = client_for(editor).get("/w/acme/feeds/").content.decode()
    assert run in editor_html and pause not in editor_html
    admin_html = client_for(admin).get("/w/acme/feeds/").content.decode()
    assert run in admin_html and pause in admin_html
    Feed.objects.filter(pk=active_feed.pk).update(state=FeedState.PAUSED)
    admin_html = client_for(admin).get("/w/acme/feeds/").content.decode()
    assert run not in admin_html and f'action="/w/acme/feeds/{active_feed.pk}/resume/"' in admin_html


def test_the_feed_list_reads_its_runs_in_a_fixed_number_of_queries(active_feed, workspace, viewer):
    for i in range(5):
        feed = build_feed(
            workspace,
            active_feed.connection,
            sql="SELECT 1",
            slug=f"f{i}",
            name=f"F{i}",
            state=FeedState.ACTIVE,
        )
        SyncRun.objects.create(feed=feed, state=RunState.SUCCEEDED, rows_read=i)
        SyncRun.objects.create(feed=feed, kind=RunKind.BACKFILL)
    client = client_for(viewer)
    client.get("/w/acme/feeds/")  # the session's first request also saves it
    with CaptureQueriesContext(connection) as six:
        client.get("/w/acme/feeds/")
    build_feed(
        workspace, active_feed.connection, sql="SELECT 1", slug="f9", name="F9", state=FeedState.ACTIVE
    )
    with CaptureQueriesContext(connection) as seven:
        client.get("/w/acme/feeds/")
    assert len(seven) == len(six)


def test_a_viewer_is_not_told_to_click_a_button_they_do_not_have(active_feed, viewer, editor):
    Feed.objects.filter(pk=active_feed.pk).update(schedule_type="on_demand")
    assert "Click Run Sync" not in client_for(viewer).get(_url(active_feed)).content.decode()
    assert "Click Run Sync to start one." in client_for(editor).get(_url(active_feed)).content.decode()


def test_a_paused_feed_says_no_run_comes_and_offers_no_run_sync(active_feed, editor):
    Feed.objects.filter(pk=active_feed.pk).update(schedule_type="on_demand", state=FeedState.PAUSED)
    html = client_for(editor).get(_url(active_feed)).content.decode()
    assert "None while paused" in html and "When you click Run Sync" not in html
    assert "Run Sync</button>" not in html and "alert-danger" not in html


def test_the_runs_chart_starts_at_the_left_and_puts_bar_and_point_on_one_x(active_feed):
    start = timezone.now() - timedelta(hours=1)
    runs = [
        SyncRun.objects.create(
            feed=active_feed,
            state=state,
            rows_read=rows,
            started_at=start,
            finished_at=start + timedelta(seconds=seconds),
        )
        for rows, seconds, state in ((100, 10, RunState.SUCCEEDED), (400, 40, RunState.FAILED))
    ]
    chart = run_chart(runs)
    assert chart["width"] == 72  # two slots of 36 px, not a 600 px canvas with the bars in its middle
    for bar, point in zip(chart["bars"], chart["points"], strict=True):
        assert bar["x"] + bar["w"] / 2 == point["x"]
    assert chart["bars"][1]["h"] == 4 * chart["bars"][0]["h"]
    lone = run_chart(runs[:1])
    assert lone["width"] == 36 and lone["bars"][0]["x"] < 36


def test_the_runs_chart_uses_the_palette_classes(active_feed, viewer):
    start = timezone.now() - timedelta(hours=1)
    for state in (RunState.SUCCEEDED, RunState.FAILED):
        SyncRun.objects.create(
            feed=active_feed,
            state=state,
            rows_read=10,
            started_at=start,
            finished_at=start + timedelta(seconds=5),
        )
    html = client_for(viewer).get(_url(active_feed)).content.decode()
    assert 'class="chart-bar chart-bar-failed"' in html and "fill-danger" not in html
    assert "#0d6efd" not in html and "#fd7e14" not in html


def test_403_and_404_pages_are_in_the_site_frame(active_feed, viewer, outsider):
    forbidden = client_for(viewer).get(_url(active_feed, "delete/"))
    assert forbidden.status_code == 403
    html = forbidden.content.decode()
    assert "This needs the Admin role in Acme." in html and 'class="navbar' in html
    assert 'href="/"' in html  # back to the feeds
    missing = client_for(outsider).get(_url(active_feed))
    assert missing.status_code == 404
    html = missing.content.decode()
    assert "Page not found" in html and "Users" not in html and 'class="navbar' in html


def test_long_data_model_sql_wraps_in_the_summary_and_review(active_feed, editor):
    html = client_for(editor).get(_url(active_feed)).content.decode()
    assert 'class="text-mono bg-body-tertiary p-2 rounded sql-wrap"' in html


def test_every_page_has_a_favicon(active_feed, viewer):
    html = client_for(viewer).get("/w/acme/feeds/").content.decode()
    assert 'rel="icon" href="/static/img/favicon.svg"' in html


def test_removing_a_member_asks_for_a_second_click(workspace, admin, viewer):
    html = client_for(admin).get("/w/acme/settings/members/").content.decode()
    assert "<summary" in html and "Yes, remove</button>" in html
    assert "Remove vera@acme.example from Acme?" in html
