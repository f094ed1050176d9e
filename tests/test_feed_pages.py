"""The feed list, the feed summary and its actions, runs and rejected rows, for each role."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
import time_machine
from django.utils import timezone

from feeds.models import AuditEntry, Connection, Feed, FeedState, Health, Provider
from feeds.sync.models import (
    FeedSchedule,
    IdentityConflictRecord,
    RejectedRow,
    RunAttempt,
    RunState,
    SyncRun,
)
from tests.personas import client_for


def _url(feed, suffix=""):
    return f"/w/acme/feeds/{feed.pk}/{suffix}"


class _FeedGroups(HTMLParser):
    """Reads the feed list as [(group heading, [feed names in the group])], in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[tuple[str, list[str]]] = []
        self._reading: str | None = None  # "heading" or "feed" while inside one

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "div" and "card-header" in (attributes.get("class") or "").split():
            self.groups.append(("", []))
            self._reading = "heading"
        elif tag == "a" and re.fullmatch(r"/w/acme/feeds/\d+/", attributes.get("href") or ""):
            self._reading = "feed"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("strong", "a"):
            self._reading = None

    def handle_data(self, data: str) -> None:
        if self._reading == "heading" and data.strip():
            heading, feeds = self.groups[-1]
            self.groups[-1] = (heading + data.strip(), feeds)
        elif self._reading == "feed":
            self.groups[-1][1].append(data.strip())


def _feed_groups(html: str) -> list[tuple[str, list[str]]]:
    parser = _FeedGroups()
    parser.feed(html)
    return parser.groups


def test_it_lists_feeds_grouped_by_provider(active_feed, workspace, viewer):
    # Groups come by provider name (not by provider key: redshift's "Amazon Redshift" leads), feeds by
    # name inside their group, and drafts without a connection last.
    def connection(provider):
        return Connection.objects.create(workspace=workspace, slug=provider, name=provider, provider=provider)

    redshift, postgres = connection(Provider.REDSHIFT), connection(Provider.POSTGRES)
    Feed.objects.create(workspace=workspace, slug="orders", name="Orders", connection=postgres)
    Feed.objects.create(
        workspace=workspace, slug="accounts", name="Accounts", connection=active_feed.connection
    )
    Feed.objects.create(workspace=workspace, slug="draft", name="A draft")
    Feed.objects.create(workspace=workspace, slug="events", name="Events", connection=redshift)
    html = client_for(viewer).get("/w/acme/feeds/").content.decode()
    assert _feed_groups(html) == [
        ("Amazon Redshift", ["Events"]),
        ("DuckDB", ["Accounts", "Users"]),
        ("PostgreSQL", ["Orders"]),
        ("Not connected yet", ["A draft"]),
    ]


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


PAGE_SEEN_AT = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _fragment(user, feed):
    return client_for(user).get(_url(feed), headers={"HX-Request": "true"}).content.decode()


def _fragment_at(user, feed, moment):
    """The poll as rendered at `moment` with the clock stopped: speed and time left come from elapsed time,
    which on a busy machine would otherwise grow by the second while the test runs."""
    with time_machine.travel(moment, tick=False):
        return _fragment(user, feed)


def test_it_polls_the_progress_of_a_running_run_only(active_feed, viewer):
    run = SyncRun.objects.create(feed=active_feed, state=RunState.RUNNING, rows_read=1234, total_rows=5000)
    fragment = _fragment(viewer, active_feed)
    assert 'hx-trigger="every 2s"' in fragment and "1,234 rows read" in fragment and "<html" not in fragment
    run.state = RunState.SUCCEEDED
    run.save()
    assert "hx-trigger" not in _fragment(viewer, active_feed)


@time_machine.travel(PAGE_SEEN_AT, tick=False)  # the elapsed time is what the page shows
def test_it_shows_percent_speed_elapsed_and_time_left_when_the_row_count_is_known(active_feed, viewer):
    started = timezone.now() - timedelta(seconds=100)
    SyncRun.objects.create(
        feed=active_feed, state=RunState.RUNNING, rows_read=10_000, total_rows=50_000, started_at=started
    )
    fragment = _fragment_at(viewer, active_feed, started + timedelta(seconds=100))
    assert "10,000 rows read of 50,000" in fragment
    assert "100 rows/s" in fragment  # 10,000 rows in 100 s
    assert "1 min 40 s elapsed" in fragment and "started" not in fragment
    assert "20% done" in fragment and 'aria-valuenow="20"' in fragment
    assert "6 min 40 s left" in fragment  # 40,000 rows to go at 100 rows/s


@time_machine.travel(PAGE_SEEN_AT, tick=False)  # the elapsed time is what the page shows
def test_it_shows_no_percent_or_time_left_without_a_row_count(active_feed, viewer):
    started = timezone.now() - timedelta(seconds=100)
    SyncRun.objects.create(feed=active_feed, state=RunState.RUNNING, rows_read=10_000, started_at=started)
    fragment = _fragment_at(viewer, active_feed, started + timedelta(seconds=100))
    assert "10,000 rows read" in fragment and "100 rows/s" in fragment and "1 min 40 s elapsed" in fragment
    assert "% done" not in fragment and "aria-valuenow" not in fragment and " left" not in fragment


@time_machine.travel(PAGE_SEEN_AT, tick=False)  # the elapsed time is what the page shows
def test_it_says_about_for_an_estimated_row_count_and_stops_guessing_past_it(active_feed, viewer):
    started = timezone.now() - timedelta(seconds=100)
    run = SyncRun.objects.create(
        feed=active_feed,
        state=RunState.RUNNING,
        rows_read=10_000,
        total_rows=50_000,
        total_rows_estimated=True,
        started_at=started,
    )
    fragment = _fragment_at(viewer, active_feed, started + timedelta(seconds=100))
    assert "of about 50,000" in fragment and "about 6 min 40 s left" in fragment
    run.rows_read = 60_000
    run.save()
    assert run.eta_seconds is None and " left" not in _fragment(viewer, active_feed)


def test_it_refreshes_the_badge_fault_alert_and_buttons_when_the_polled_run_ends(active_feed, admin):
    run = SyncRun.objects.create(feed=active_feed, state=RunState.RUNNING, started_at=timezone.now())
    polling = _fragment(admin, active_feed)
    assert 'id="feed-live"' in polling and 'hx-trigger="every 2s"' in polling
    assert "Active</span>" in polling and "Pause Sync" in polling
    # The run fails and faults the feed; the admin pauses it from another tab meanwhile.
    run.state, run.finished_at = RunState.FAILED, timezone.now()
    run.save()
    Feed.objects.filter(pk=active_feed.pk).update(
        status=Health.FAULTED, errors=[{"message": "The password was wrong."}], state=FeedState.PAUSED
    )
    ended = _fragment(admin, active_feed)
    assert "hx-trigger" not in ended and 'id="feed-live"' in ended
    assert "Faulted</span>" in ended and "This sync is faulted." in ended
    assert "The password was wrong." in ended
    assert "Resume</button>" in ended and "Pause Sync" not in ended
    assert "Failed</span>" in ended  # the run's row in the table


# --- the feed list ------------------------------------------------------------------------------


def test_it_lists_schedule_last_run_and_next_run(active_feed, viewer):
    active_feed.schedule_type, active_feed.frequency = "interval", "daily"
    active_feed.save()
    FeedSchedule.objects.create(feed=active_feed, next_run_at=datetime(2030, 5, 6, 7, 8, tzinfo=UTC))
    SyncRun.objects.create(feed=active_feed, state=RunState.SUCCEEDED, rows_read=1234)
    html = client_for(viewer).get("/w/acme/feeds/").content.decode()
    assert "Interval · Daily" in html
    assert "Succeeded</span>" in html and "1,234 rows" in html
    assert "May 6, 2030 07:08 UTC" in html


def test_it_shows_on_demand_and_no_next_run_for_a_paused_feed(active_feed, viewer):
    html = client_for(viewer).get("/w/acme/feeds/").content.decode()
    assert "On demand" in html and "Never" in html
    Feed.objects.filter(pk=active_feed.pk).update(state=FeedState.PAUSED)
    FeedSchedule.objects.create(feed=active_feed, next_run_at=datetime(2030, 5, 6, 7, 8, tzinfo=UTC))
    html = client_for(viewer).get("/w/acme/feeds/").content.decode()
    assert "Paused</span>" in html and "2030" not in html


def test_it_groups_feeds_by_provider_with_a_plus_link_each(active_feed, workspace, editor, viewer):
    pg = Connection.objects.create(
        workspace=workspace, slug="pg", name="PG", provider=Provider.POSTGRES, config={}
    )
    Feed.objects.create(workspace=workspace, slug="orders", name="Orders", connection=pg)
    Feed.objects.create(workspace=workspace, slug="draft", name="Half done")
    html = client_for(editor).get("/w/acme/feeds/").content.decode()
    duckdb, postgres, unconnected = (html.index(label) for label in ("DuckDB", "PostgreSQL", "Not connected"))
    assert duckdb < html.index(">Users<") < postgres < html.index(">Orders<") < unconnected
    assert html.index(">Half done<") > unconnected and "Draft</span>" in html
    assert 'href="/w/acme/feeds/new/duckdb/"' in html and 'href="/w/acme/feeds/new/postgres/"' in html
    assert html.count('aria-label="Add a ') == 2  # none for the group without a connection
    assert 'aria-label="Add a ' not in client_for(viewer).get("/w/acme/feeds/").content.decode()


def test_it_shows_a_faulted_feeds_reason_as_text_in_the_list(active_feed, viewer):
    Feed.objects.filter(pk=active_feed.pk).update(
        status=Health.FAULTED, errors=[{"message": "The warehouse refused the password."}]
    )
    html = client_for(viewer).get("/w/acme/feeds/").content.decode()
    assert "Faulted</span>" in html
    assert 'fault-reason">The warehouse refused the password.</div>' in html


# --- roles ----------------------------------------------------------------------------------------


def test_it_refuses_an_editors_resume_and_delete(active_feed, editor):
    Feed.objects.filter(pk=active_feed.pk).update(state=FeedState.PAUSED)
    client = client_for(editor)
    assert client.post(_url(active_feed, "resume/")).status_code == 403
    assert client.post(_url(active_feed, "delete/")).status_code == 403
    assert client.get(_url(active_feed, "delete/")).status_code == 403
    assert Feed.objects.get(pk=active_feed.pk).state == FeedState.PAUSED
    assert not AuditEntry.objects.exists()


def test_it_shows_an_editor_no_trash_or_resume_and_a_viewer_no_edit(active_feed, editor, viewer, admin):
    Feed.objects.filter(pk=active_feed.pk).update(state=FeedState.PAUSED)
    admin_html = client_for(admin).get(_url(active_feed)).content.decode()
    assert 'aria-label="Delete feed"' in admin_html and "Resume</button>" in admin_html
    editor_html = client_for(editor).get(_url(active_feed)).content.decode()
    assert 'aria-label="Delete feed"' not in editor_html and "Resume</button>" not in editor_html
    assert editor_html.count(">Edit</a>") == 3
    # A paused feed refuses runs, so it offers none; it says who can resume it.
    assert "Run Sync</button>" not in editor_html and "until an admin resumes it" in editor_html
    viewer_html = client_for(viewer).get(_url(active_feed)).content.decode()
    assert ">Edit</a>" not in viewer_html and 'aria-label="Delete feed"' not in viewer_html
    list_html = client_for(editor).get("/w/acme/feeds/").content.decode()
    assert 'aria-label="Delete Users"' not in list_html


def test_it_shows_the_activity_tab_to_admins_only_a_page_at_a_time(active_feed, admin, editor, viewer):
    AuditEntry.objects.bulk_create(
        AuditEntry(workspace=active_feed.workspace, feed=active_feed, action="run", target=f"entry {i:02}")
        for i in range(55)
    )
    for user in (editor, viewer):
        html = client_for(user).get(_url(active_feed)).content.decode()
        assert 'data-bs-target="#tab-activity"' not in html and "entry 54" not in html
    client = client_for(admin)
    first = client.get(_url(active_feed)).content.decode()
    assert 'data-bs-target="#tab-activity"' in first and "Page 1 of 2" in first
    assert "entry 54" in first and "entry 04" not in first  # newest first, 50 a page
    assert '?activity_page=2#tab-activity"' in first
    second = client.get(_url(active_feed), {"activity_page": "2"}).content.decode()
    assert "entry 04" in second and "entry 54" not in second
    assert 'class="tab-pane card-body fade show active" id="tab-activity"' in second


def test_it_records_pause_resume_and_run_with_who_and_from_where(active_feed, admin):
    client = client_for(admin)
    for action in ("pause/", "resume/"):
        client.post(_url(active_feed, action), REMOTE_ADDR="203.0.113.7")
    SyncRun.objects.filter(feed=active_feed).delete()  # the catch-up run, so Run Sync is not refused
    client.post(_url(active_feed, "run/"), REMOTE_ADDR="203.0.113.7")
    entries = AuditEntry.objects.order_by("pk")
    assert [e.action for e in entries] == ["pause", "resume", "run"]
    assert {(e.actor, e.actor_label, e.ip_address, e.feed_id) for e in entries} == {
        (admin, "alice@acme.example", "203.0.113.7", active_feed.pk)
    }


# --- runs -----------------------------------------------------------------------------------------


def _failed_run(feed, **fields):
    return SyncRun.objects.create(
        feed=feed, **{"state": RunState.FAILED, "error": "The warehouse timed out.", **fields}
    )


@pytest.mark.parametrize(
    ("run_fields", "attempts", "wording"),
    [
        ({"error_permanent": True}, 1, "Fix the problem above, then click Run Sync"),
        ({}, 3, "wsync tried 3 times and stopped retrying. The next run, scheduled or Run Sync, starts"),
        ({"kind": "backfill", "error_permanent": True}, 1, "This historical window is still owed"),
        (
            {"state": RunState.QUEUED, "error": "", "next_retry_at": datetime(2030, 1, 2, 3, 4, tzinfo=UTC)},
            1,
            "Attempt 1 failed; wsync retries at Jan 2, 2030 03:04 UTC. Run Sync starts the retry now.",
        ),
    ],
)
def test_it_says_in_one_statement_whether_a_run_is_retried(
    active_feed, viewer, run_fields, attempts, wording
):
    run = _failed_run(active_feed, **{"attempt": attempts, **run_fields})
    for number in range(1, attempts + 1):
        RunAttempt.objects.create(run=run, number=number, outcome="failed", error="The warehouse timed out.")
    html = client_for(viewer).get(_url(active_feed, f"runs/{run.pk}/")).content.decode()
    assert "The warehouse timed out." in html and wording in html
    statements = ("wsync retries", "does not retry", "stopped retrying", "Fix the problem", "reads it again")
    said = [w for w in statements if w in html]
    assert len(said) == 1, said  # never both "wsync retries" and "wsync does not retry"


def test_a_retried_run_that_succeeded_shows_its_failed_attempt_but_no_error(active_feed, viewer, admin):
    run = SyncRun.objects.create(feed=active_feed, state=RunState.SUCCEEDED, attempt=2)
    RunAttempt.objects.create(run=run, number=1, outcome="failed", error="The profile store was busy.")
    RunAttempt.objects.create(run=run, number=2, outcome="succeeded")
    html = client_for(viewer).get(_url(active_feed, f"runs/{run.pk}/")).content.decode()
    assert "What went wrong" not in html and "alert-danger" not in html
    assert html.count("The profile store was busy.") == 1  # in the attempts table, against attempt 1
    body = _api_run(active_feed, admin, run)
    assert body["errors"] == [] and body["status"] == "complete"
    assert [(a["number"], a["outcome"], a["errors"]) for a in body["attempts"]] == [
        (1, "failed", [{"message": "The profile store was busy."}]),
        (2, "succeeded", []),
    ]


def _api_run(feed, admin, run):
    from feeds.api.credentials import create_credential
    from tests.api.conftest import ApiClient, token_for

    issued = create_credential(feed.workspace, name="pages", role="viewer", user=admin)
    api = ApiClient(token_for(issued.credential.client_id, issued.client_secret))
    response = api.get(f"/platform/v2/workspaces/{feed.workspace.slug}/pipelines/{feed.slug}/runs/{run.pk}")
    assert response.status_code == 200, response.content
    return response.json()


def test_it_lists_the_historical_windows_still_owed(active_feed, viewer):
    def window(start: str, **fields):
        return SyncRun.objects.create(
            feed=active_feed, kind="backfill", window_from=start, window_to=f"{start} +30d", **fields
        )

    window("2025-01-01", state=RunState.SUCCEEDED)
    window("2025-02-01", state=RunState.FAILED, owed=True, error="Bad row.")
    window("2025-03-01", state=RunState.QUEUED)
    html = client_for(viewer).get(_url(active_feed, "")).content.decode()
    owed = html[html.index('id="owed-windows"') :]
    owed = owed[: owed.index("</ul>")]
    assert "2025-01-01" not in owed and "2025-02-01" in owed and "2025-03-01" in owed
    assert owed.count("read again by the feed's next run") == 1  # the failed window, not the queued one
    assert 'hx-trigger="every 2s"' in html  # a queued window keeps the page polling


def test_it_keeps_polling_while_a_retry_is_pending(active_feed, viewer):
    SyncRun.objects.create(
        feed=active_feed, state=RunState.QUEUED, attempt=1, next_retry_at=datetime(2030, 1, 2, tzinfo=UTC)
    )
    html = client_for(viewer).get(_url(active_feed, "")).content.decode()
    assert 'hx-trigger="every 2s"' in html and "Retry at 00:00 UTC" in html


def test_only_an_admin_restarts_a_running_run(active_feed, admin, editor):
    run = SyncRun.objects.create(feed=active_feed, state=RunState.RUNNING, claim="abc", attempt=1)
    RunAttempt.objects.create(run=run, number=1)
    assert client_for(editor).post(_url(active_feed, f"runs/{run.pk}/restart/")).status_code == 403
    assert "Restart run" not in client_for(editor).get(_url(active_feed, f"runs/{run.pk}/")).content.decode()
    response = client_for(admin).post(_url(active_feed, f"runs/{run.pk}/restart/"))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.state == RunState.QUEUED and run.claim == "" and run.error == ""
    assert run.attempts.get().outcome == "stopped"
    html = client_for(admin).get(_url(active_feed, f"runs/{run.pk}/")).content.decode()
    assert "An admin restarted the run; resuming from the last checkpoint." in html
    assert AuditEntry.objects.filter(action="restart").count() == 1
    again = client_for(admin).post(_url(active_feed, f"runs/{run.pk}/restart/"), follow=True)
    assert "nothing to restart" in again.content.decode()


def test_it_pages_rejected_rows_and_identity_conflicts_separately(active_feed, viewer):
    run = _failed_run(active_feed)
    RejectedRow.objects.bulk_create(
        RejectedRow(run=run, row_key=f"rejected {i:02}", reason="No identity.") for i in range(60)
    )
    IdentityConflictRecord.objects.bulk_create(
        IdentityConflictRecord(
            run=run, row_key=f"conflict {i:03}", identity_type="email", value=f"{i}@x.example", owner_mpid=i
        )
        for i in range(260)
    )
    client = client_for(viewer)
    first = client.get(_url(active_feed, f"runs/{run.pk}/")).content.decode()
    assert "rejected 49" in first and "rejected 50" not in first
    assert "conflict 049" in first and "conflict 050" not in first
    assert 'href="?page=2#rejected"' in first and 'href="?conflicts_page=2#conflicts"' in first
    last = client.get(
        _url(active_feed, f"runs/{run.pk}/"), {"page": "2", "conflicts_page": "6"}
    ).content.decode()
    assert "rejected 59" in last and "rejected 49" not in last
    assert "conflict 259" in last and "conflict 249" not in last  # past the old cap of 200
    assert "Page 2 of 2" in last and "Page 6 of 6" in last
    assert 'href="?page=1&amp;conflicts_page=6#rejected"' in last  # one pager keeps the other's page


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
