"""The feed list, the feed summary and its actions, runs and rejected rows, for each role."""

from __future__ import annotations

from feeds.models import AuditEntry, Feed, FeedState
from feeds.sync.models import RejectedRow, RunState, SyncRun
from tests.personas import client_for


def _url(feed, suffix=""):
    return f"/w/acme/feeds/{feed.pk}/{suffix}"


def test_it_lists_feeds_grouped_by_provider(active_feed, viewer):
    html = client_for(viewer).get("/w/acme/feeds/").content.decode()
    assert "DuckDB" in html and "Users" in html and "Active" in html


def test_it_lets_an_editor_run_a_sync_and_records_it(active_feed, editor):
    response = client_for(editor).post(_url(active_feed, "run/"), follow=True)
    assert "Sync started" in response.content.decode()
    assert SyncRun.objects.get(feed=active_feed).state == RunState.QUEUED
    assert AuditEntry.objects.get(action="run").actor_label == "eddie@acme.example"


def test_it_refuses_a_second_run_while_one_is_running(active_feed, editor):
    SyncRun.objects.create(feed=active_feed, state=RunState.RUNNING)
    response = client_for(editor).post(_url(active_feed, "run/"), follow=True)
    assert "already running" in response.content.decode()
    assert SyncRun.objects.filter(feed=active_feed).count() == 1


def test_it_refuses_a_viewers_run_pause_and_delete(active_feed, viewer):
    client = client_for(viewer)
    for action in ("run/", "pause/", "resume/", "delete/"):
        assert client.post(_url(active_feed, action)).status_code == 403
    assert not SyncRun.objects.exists()
    assert Feed.objects.get(pk=active_feed.pk).state == FeedState.ACTIVE


def test_it_hides_buttons_a_role_cannot_use(active_feed, viewer, editor):
    run_form = f'action="{_url(active_feed, "run/")}"'
    viewer_html = client_for(viewer).get(_url(active_feed)).content.decode()
    assert run_form not in viewer_html and "Pause Sync" not in viewer_html
    editor_html = client_for(editor).get(_url(active_feed)).content.decode()
    assert run_form in editor_html and "Pause Sync" not in editor_html


def test_it_lets_only_an_admin_pause_and_resume(active_feed, editor, admin):
    assert client_for(editor).post(_url(active_feed, "pause/")).status_code == 403
    client_for(admin).post(_url(active_feed, "pause/"))
    assert Feed.objects.get(pk=active_feed.pk).state == FeedState.PAUSED
    paused_html = client_for(admin).get(_url(active_feed)).content.decode()
    assert "Resume" in paused_html
    client_for(admin).post(_url(active_feed, "resume/"))
    assert Feed.objects.get(pk=active_feed.pk).state == FeedState.ACTIVE
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["resume", "pause"]


def test_it_deletes_a_feed_after_a_confirmation_that_says_profiles_stay(active_feed, admin):
    client = client_for(admin)
    assert (
        "Profiles, identities, attributes and events"
        in client.get(_url(active_feed, "delete/")).content.decode()
    )
    client.post(_url(active_feed, "delete/"))
    assert not Feed.objects.filter(pk=active_feed.pk).exists()
    assert AuditEntry.objects.get(action="delete").target == "Users"


def test_it_polls_the_progress_of_a_running_run_only(active_feed, viewer):
    run = SyncRun.objects.create(feed=active_feed, state=RunState.RUNNING, rows_read=1234, total_rows=5000)
    fragment = client_for(viewer).get(_url(active_feed), headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in fragment and "1,234 rows read" in fragment and "<html" not in fragment
    run.state = RunState.SUCCEEDED
    run.save()
    fragment = client_for(viewer).get(_url(active_feed), headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in fragment


def test_it_shows_a_run_with_its_rejected_rows_and_a_csv(active_feed, viewer):
    run = SyncRun.objects.create(feed=active_feed, state=RunState.FAILED, error="The password was wrong.")
    RejectedRow.objects.create(
        run=run, row_key="row 7", reason="The row has no identity.", values={"plan": "pro"}
    )
    client = client_for(viewer)
    html = client.get(_url(active_feed, f"runs/{run.pk}/")).content.decode()
    assert "The password was wrong." in html and "The row has no identity." in html
    csv_body = b"".join(
        client.get(_url(active_feed, f"runs/{run.pk}/rejected.csv")).streaming_content
    ).decode()
    assert csv_body.splitlines() == [
        "row_key,reason,values",
        'row 7,The row has no identity.,"{""plan"": ""pro""}"',
    ]


def test_it_hides_another_workspaces_feed(active_feed, outsider):
    client = client_for(outsider)
    assert client.get(_url(active_feed)).status_code == 404
    assert client.post(_url(active_feed, "run/")).status_code == 404


def test_it_charts_rows_and_duration_of_finished_runs(active_feed, viewer):
    from datetime import timedelta

    from django.utils import timezone

    start = timezone.now() - timedelta(hours=1)
    for rows, seconds in ((100, 10), (400, 40)):
        SyncRun.objects.create(
            feed=active_feed,
            state=RunState.SUCCEEDED,
            rows_read=rows,
            started_at=start,
            finished_at=start + timedelta(seconds=seconds),
        )
    html = client_for(viewer).get(_url(active_feed)).content.decode()
    assert html.count("<rect") == 2 and "<polyline" in html
    assert "most: 400" in html and "longest: 40.0 s" in html
