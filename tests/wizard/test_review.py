"""Review: summary with Edit links, re-validation of every step, sample profiles, Activate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feeds import wizard
from feeds.models import FeedState
from tests.personas import client_for

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(feed, tail=""):
    return f"/w/acme/feeds/{feed.pk}/setup/review/{tail}"


def ready(feed, editor, **schedule):
    client_for(editor).get(f"/w/acme/feeds/{feed.pk}/setup/map/")  # pre-fills the mapping
    values = {
        "sync_mode": "incremental",
        "iterator": "updated_at",
        "iterator_type": "timestamptz",
        "schedule_type": "on_demand",
        **schedule,
    }
    wizard.save_section(feed, "schedule", values, editor)
    feed.refresh_from_db()
    return feed


def test_it_summarises_every_step_with_edit_links(workspace, editor, modelled):
    feed = ready(modelled, editor)
    html = client_for(editor).get(url(feed)).content.decode()
    for step in ("connect", "model", "map", "schedule"):
        assert f'href="/w/acme/feeds/{feed.pk}/setup/{step}/">Edit' in html
    assert "customer_id</code> → <code>user_identities.customer_id" in html


def test_it_offers_activate_once_every_check_passes(workspace, editor, modelled):
    feed = ready(modelled, editor)
    html = client_for(editor).get(url(feed, "checks/"), **HTMX).content.decode()
    assert 'id="checks-ok"' in html and ">Activate</button>" in html


def test_it_names_the_step_to_fix_when_a_check_fails(workspace, editor, modelled, demo_file):
    feed = ready(modelled, editor)
    feed.connection.config = {"path": str(demo_file.parent / "gone.duckdb")}
    feed.connection.save()
    html = client_for(editor).get(url(feed, "checks/"), **HTMX).content.decode()
    assert "The connection test failed" in html and "Go to Connect" in html and "Activate" not in html


def test_it_previews_sample_profiles_without_writing(workspace, editor, modelled):
    from feeds.profiles.models import Profile

    feed = ready(modelled, editor)
    html = client_for(editor).get(url(feed, "sample/"), **HTMX).content.decode()
    assert "Would create 10 profiles, update 0" in html
    assert "C000001" in html and "new" in html
    assert Profile.objects.count() == 0


def test_it_activates_an_on_demand_feed(workspace, editor, modelled):
    feed = ready(modelled, editor)
    response = client_for(editor).post(url(feed, "activate/"))
    assert response.status_code == 302 and response["Location"] == f"/w/acme/feeds/{feed.pk}/"
    feed.refresh_from_db()
    assert feed.state == FeedState.ACTIVE and feed.activated_on is not None


def test_it_refuses_to_activate_when_a_check_fails(workspace, editor, modelled):
    feed = ready(modelled, editor, iterator="")
    response = client_for(editor).post(url(feed, "activate/"))
    assert response.status_code == 200 and "Pick the iterator column" in response.content.decode()
    feed.refresh_from_db()
    assert feed.state == FeedState.DRAFT


def test_it_applies_a_live_feeds_pending_changes_only_on_save(workspace, editor, modelled):
    feed = ready(modelled, editor)
    client = client_for(editor)
    client.post(url(feed, "activate/"))
    feed.refresh_from_db()
    start = datetime(2099, 1, 1, 9, tzinfo=UTC)
    wizard.save_section(
        feed, "schedule", {"schedule_type": "interval", "frequency": "daily", "schedule_start": start}, editor
    )
    feed.refresh_from_db()
    assert feed.schedule_type == "on_demand"
    html = client.get(url(feed, "checks/"), **HTMX).content.decode()
    assert ">Save</button>" in html
    client.post(url(feed, "activate/"))
    feed.refresh_from_db()
    assert (feed.schedule_type, feed.frequency, feed.schedule_start) == ("interval", "daily", start)
    assert feed.pending_changes == {}


def test_it_lets_a_viewer_review_but_not_activate(workspace, editor, viewer, modelled):
    feed = ready(modelled, editor)
    client = client_for(viewer)
    assert client.get(url(feed)).status_code == 200
    html = client.get(url(feed, "checks/"), **HTMX).content.decode()
    assert 'id="checks-ok"' in html and "Activate" not in html
    assert client.post(url(feed, "activate/")).status_code == 403
    feed.refresh_from_db()
    assert feed.state == FeedState.DRAFT


def test_it_asks_for_a_complete_mapping_before_sampling_profiles(workspace, editor, modelled):
    feed = ready(modelled, editor)
    wizard.save_section(feed, "map", {"mappings": []}, editor)
    html = client_for(editor).get(url(feed, "sample/"), **HTMX).content.decode()
    assert "Complete the mapping first: The column “customer_id” is not mapped" in html


def test_it_shows_the_events_an_event_feed_would_write(workspace, editor, draft):
    from feeds.mapping.rules import auto_mappings
    from feeds.model.query import run_query

    sql = "SELECT event_id, event_name, customer_id, occurred_at FROM events ORDER BY event_id"
    outcome = run_query(draft.connection, sql, 5)
    model = {"sql": sql, "columns": outcome.columns, "columns_sql": sql, "timestamp_field": "occurred_at"}
    wizard.save_section(draft, "model", model, editor)
    mappings = auto_mappings([c["name"] for c in outcome.columns], "events", "occurred_at")
    wizard.save_section(draft, "map", {"pipeline_type": "events", "mappings": mappings}, editor)
    draft.refresh_from_db()
    html = client_for(editor).get(url(draft, "sample/"), **HTMX).content.decode()
    assert "Events that would be written" in html and "<code>custom_event</code>" in html


COUNTS_SQL = (
    "SELECT CASE WHEN customer_id = 'C000004' THEN NULL ELSE customer_id END AS customer_id, "
    "CASE WHEN customer_id = 'C000004' THEN NULL ELSE email END AS email, first_name, plan, updated_at "
    "FROM users ORDER BY users.customer_id"
)


def store_first_rows(feed, count, change_plan_of):
    """Write the feed's first rows to the profile store as a run would, one of them with another plan."""
    from feeds.mapping.pages import compile_mappings, map_page
    from feeds.profiles.store import apply_batches
    from feeds.warehouses.base import Page
    from feeds.warehouses.registry import open_warehouse

    warehouse = open_warehouse("duckdb", feed.connection.warehouse_config())
    preview = warehouse.preview(COUNTS_SQL, count)
    warehouse.close()
    mapping = wizard.section_values(feed, "map")["mappings"]
    compiled = compile_mappings(mapping, [c.name for c in preview.columns])
    mapped = map_page(
        Page(preview.columns, preview.rows),
        compiled,
        feed_id=feed.pk,
        environment=feed.environment,
        iterator=None,
        timezone="UTC",
    )
    mapped.batches[change_plan_of]["user_attributes"]["plan"] = "legacy"
    apply_batches(
        feed=feed,
        run_id=None,
        batches=mapped.batches,
        row_keys=mapped.row_keys,
        iterator_values=[None] * len(mapped.batches),
    )


def test_it_counts_profiles_to_update_leave_unchanged_and_reject_with_reasons(workspace, editor, draft):
    from feeds.model.query import run_query

    outcome = run_query(draft.connection, COUNTS_SQL, 5)
    model = {"sql": COUNTS_SQL, "columns": outcome.columns, "columns_sql": COUNTS_SQL}
    wizard.save_section(draft, "model", {**model, "timestamp_field": "updated_at"}, editor)
    feed = ready(draft, editor)
    store_first_rows(feed, 3, change_plan_of=1)
    html = client_for(editor).get(url(feed, "sample/"), **HTMX).content.decode()
    assert "Would create 6 profiles, update 1, leave 2 unchanged, reject 1." in html
    assert "<code>row 4 (updated_at=" in html and "</code>: The row has no identity" in html
    updated = html.split('data-outcome="update"')[1].split("sample-profile")[0]
    assert "row customer_id=C000002" in updated
    assert "legacy" in updated and ">changed</span>" in updated


def activated(modelled, editor, **schedule):
    from feeds.sync.models import FeedSchedule, SyncRun

    feed = ready(modelled, editor, **schedule)
    response = client_for(editor).post(url(feed, "activate/"))
    assert response.status_code == 302, response.content.decode()[:2000]
    feed.refresh_from_db()
    assert feed.state == FeedState.ACTIVE
    runs = list(SyncRun.objects.filter(feed=feed).values_list("kind", "logical_date"))
    return FeedSchedule.objects.get(feed=feed), runs


def test_it_activates_an_interval_feed_to_start_at_the_chosen_time(workspace, editor, modelled):
    start = datetime(2099, 1, 1, 9, tzinfo=UTC)
    schedule, runs = activated(
        modelled, editor, schedule_type="interval", frequency="daily", schedule_start=start
    )
    assert schedule.next_run_at == start and runs == []


def test_it_runs_a_passed_initial_interval_sync_at_once(workspace, editor, modelled):
    from django.utils import timezone

    start = (timezone.now() - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    schedule, runs = activated(
        modelled, editor, schedule_type="interval", frequency="daily", schedule_start=start
    )
    assert runs == [("scheduled", start)]
    assert schedule.next_run_at == start + timedelta(days=1)  # later runs stay anchored on the start


def test_it_activates_a_once_feed_for_the_chosen_time(workspace, editor, modelled):
    start = datetime(2099, 1, 1, 9, tzinfo=UTC)
    schedule, runs = activated(modelled, editor, schedule_type="once", schedule_start=start)
    assert schedule.next_run_at == start and runs == []


def test_it_runs_a_passed_once_feed_at_once(workspace, editor, modelled):
    start = datetime(2020, 1, 1, 9, tzinfo=UTC)
    schedule, runs = activated(modelled, editor, schedule_type="once", schedule_start=start)
    assert runs == [("once", start)] and schedule.next_run_at is None


def test_it_records_where_a_feed_was_activated_from(workspace, editor, modelled):
    from feeds.models import AuditEntry

    feed = ready(modelled, editor)
    client_for(editor).post(url(feed, "activate/"), REMOTE_ADDR="198.51.100.4")
    entry = AuditEntry.objects.get(action="activate")
    assert entry.feed == feed and entry.ip_address == "198.51.100.4"
