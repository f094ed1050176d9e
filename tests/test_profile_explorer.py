"""The profile explorer: reviewers find profiles by identity value or MPID, per environment."""

from __future__ import annotations

from datetime import UTC, datetime

from feeds.models import Environment
from feeds.profiles.models import Event
from tests.personas import client_for
from tests.profile_fixtures import make_profile


def _profile(workspace, mpid, email, environment=Environment.PRODUCTION, feed_id=None):
    return make_profile(workspace, mpid, {"email": email}, environment, feed_id)


def test_it_finds_a_profile_by_email_or_mpid(workspace, viewer):
    _profile(workspace, 7100001, "ada@example.com")
    _profile(workspace, 7200002, "alan@example.com")
    client = client_for(viewer)
    by_email = client.get("/w/acme/profiles/", {"q": "ADA@example.com"}).content.decode()
    assert "/profiles/7100001/" in by_email and "/profiles/7200002/" not in by_email
    by_mpid = client.get("/w/acme/profiles/", {"q": "7200002"}).content.decode()
    assert "email: alan@example.com" in by_mpid and "email: ada@example.com" not in by_mpid


def test_it_keeps_environments_apart(workspace, viewer):
    _profile(workspace, 7300003, "dev@example.com", Environment.DEVELOPMENT)
    _profile(workspace, 7300004, "prod@example.com")
    client = client_for(viewer)
    assert (
        "/profiles/7300003/" not in client.get("/w/acme/profiles/", {"q": "dev@example.com"}).content.decode()
    )
    html = client.get(
        "/w/acme/profiles/", {"q": "dev@example.com", "environment": "development"}
    ).content.decode()
    assert "/profiles/7300003/" in html


def test_it_renders_only_the_results_for_htmx_searches(workspace, viewer):
    _profile(workspace, 7100001, "ada@example.com")
    html = (
        client_for(viewer)
        .get("/w/acme/profiles/", {"q": "ada"}, headers={"HX-Request": "true"})
        .content.decode()
    )
    assert 'id="results"' in html and "<nav" not in html


def test_it_shows_attributes_with_lineage_and_events_newest_first(workspace, viewer, active_feed):
    profile = _profile(workspace, 7100001, "ada@example.com")
    profile.attributes = {"plan": ["pro", active_feed.pk, 7, ""]}
    profile.set_at = {"7": "2026-11-30T10:00:00+00:00"}
    profile.save()
    for day, name in ((1, "older_event"), (2, "newer_event")):
        Event.objects.create(
            workspace=workspace,
            environment=Environment.PRODUCTION,
            profile=profile,
            event_id=name,
            event_type="custom_event",
            event_name=name,
            timestamp=datetime(2026, 1, day, tzinfo=UTC),
            feed=active_feed,
        )
    html = client_for(viewer).get("/w/acme/profiles/7100001/").content.decode()
    assert "plan" in html and "run #7" in html and active_feed.name in html
    assert html.index("newer_event") < html.index("older_event")


def test_it_hides_profiles_of_another_workspace(workspace, outsider):
    _profile(workspace, 7100001, "ada@example.com")
    assert client_for(outsider).get("/w/acme/profiles/7100001/").status_code == 404
    assert client_for(outsider).get("/w/acme/profiles/").status_code == 404


def test_it_pages_the_event_timeline_newest_first(workspace, viewer):
    profile = _profile(workspace, 7100001, "ada@example.com")
    Event.objects.bulk_create(
        Event(
            workspace=workspace,
            environment=Environment.PRODUCTION,
            profile=profile,
            event_id=f"e{day}",
            event_type="custom_event",
            event_name=f"event_of_day_{day:02}",
            timestamp=datetime(2026, 1, day, tzinfo=UTC),
        )
        for day in range(1, 31)
    )
    client = client_for(viewer)
    first = client.get("/w/acme/profiles/7100001/").content.decode()
    assert "event_of_day_30" in first and "event_of_day_06" in first and "event_of_day_05" not in first
    assert "Page 1 of 2" in first and "?environment=production&page=2" in first
    second = client.get("/w/acme/profiles/7100001/", {"page": "2"}).content.decode()
    assert "event_of_day_05" in second and "event_of_day_01" in second and "event_of_day_06" not in second
    assert second.index("event_of_day_05") < second.index("event_of_day_01")


def test_it_opens_on_dev_when_the_workspace_has_only_dev_profiles_and_counts_them(workspace, viewer):
    _profile(workspace, 7300005, "dev1@example.com", Environment.DEVELOPMENT)
    _profile(workspace, 7300006, "dev2@example.com", Environment.DEVELOPMENT)
    client = client_for(viewer)
    html = client.get("/w/acme/profiles/").content.decode()
    assert '<option value="development" selected>' in html and "/profiles/7300005/" in html
    assert "2 profiles in Dev" in html
    prod = client.get("/w/acme/profiles/", {"environment": "production"}).content.decode()
    assert "0 profiles in Prod" in prod and "/profiles/7300005/" not in prod


def test_it_names_each_identitys_feed_the_run_by_its_number_and_a_deleted_feed(
    workspace, viewer, active_feed
):
    from feeds.sync.models import SyncRun

    SyncRun.objects.create(feed=active_feed, state="succeeded")
    run = SyncRun.objects.create(feed=active_feed, state="succeeded")
    profile = _profile(workspace, 7100009, "ada@example.com", feed_id=active_feed.pk)
    profile.attributes = {"plan": ["pro", active_feed.pk, run.pk, ""], "tier": ["gold", 999, 3, ""]}
    profile.save()
    html = client_for(viewer).get("/w/acme/profiles/7100009/").content.decode()
    source = html.split('class="small text-body-secondary identity-source"')[1].split("</div>")[0]
    assert f'href="/w/acme/feeds/{active_feed.pk}/">Users</a>' in source
    assert f'/runs/{run.pk}/">run #2</a>' in html
    assert "a deleted feed (id 999)" in html


def test_an_attribute_set_by_a_deleted_feed_names_that_feed(workspace, viewer, admin, active_feed):
    from feeds.models import AuditEntry, DeletedFeed

    profile = _profile(workspace, 7100010, "grace@example.com")
    profile.attributes = {"plan": ["pro", active_feed.pk, None, ""]}
    profile.save()
    feed_id = active_feed.pk
    response = client_for(admin).post(f"/w/acme/feeds/{feed_id}/delete/")
    assert response.status_code == 302
    tombstone = DeletedFeed.objects.get(pk=feed_id)
    assert (tombstone.name, tombstone.workspace, tombstone.deleted_by) == ("Users", workspace, admin)
    assert AuditEntry.objects.filter(action="delete", target="Users").exists()
    html = client_for(viewer).get("/w/acme/profiles/7100010/").content.decode()
    cell = html.split('class="deleted-feed"')[1].split("</td>")[0]
    assert "Users" in cell and "(deleted)" in cell
    assert "a deleted feed (id" not in html
