"""An admin runs, watches, pauses and resumes a feed on its summary page, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from feeds.profiles.models import Profile
from feeds.sync.models import RunState, SyncRun
from feeds.sync.tasks import run_feed
from tests.browser.chromium import check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_runs_a_sync_and_watches_it_finish(page_as, admin, active_feed):
    page = page_as(admin)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    page.get_by_role("button", name="Run Sync").click()
    expect(page.locator(".alert-success")).to_contain_text("Sync started")
    expect(page.locator("#runs")).to_contain_text("Queued")
    run = SyncRun.objects.get(feed=active_feed)
    run_feed(run.pk)  # what the django-q2 worker does; the page keeps polling meanwhile
    expect(page.locator("#runs")).to_contain_text("Succeeded", timeout=10000)
    expect(page.locator("#feed-live")).not_to_have_attribute("hx-trigger", "every 2s")
    expect(page.locator("#runs tbody tr").first).to_contain_text("300")  # rows read
    check_page(page, "20-feed-summary-after-run")
    assert Profile.objects.count() == 300
    page.get_by_role("link", name=f"#{run.number}", exact=True).click()
    expect(page.locator("body")).to_contain_text("No rows were rejected.")


def test_it_pauses_and_resumes_a_feed(page_as, admin, active_feed):
    page = page_as(admin)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    page.get_by_role("button", name="Pause Sync").click()
    expect(page.locator(".badge", has_text="Paused")).to_be_visible()
    # A paused feed refuses runs, so it offers none (issue 20), and a deliberate pause is no fault.
    expect(page.get_by_role("button", name="Run Sync")).to_have_count(0)
    expect(page.locator("#paused-note")).to_contain_text("paused")
    expect(page.locator(".alert-danger")).to_have_count(0)
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".badge", has_text="Active")).to_be_visible()
    expect(page.locator("#runs")).to_contain_text("Catch")
    assert SyncRun.objects.get(feed=active_feed).state == RunState.QUEUED
    check_page(page, "21-feed-summary-resumed")


def test_it_shows_a_viewer_no_buttons(page_as, viewer, active_feed):
    page = page_as(viewer)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    expect(page.locator("h1")).to_contain_text("Users")
    expect(page.get_by_role("button", name="Run Sync")).to_have_count(0)
    expect(page.get_by_role("button", name="Pause Sync")).to_have_count(0)


def test_it_shows_the_fault_when_the_watched_run_fails(page_as, admin, active_feed):
    from django.utils import timezone

    from feeds.models import Feed, Health

    run = SyncRun.objects.create(
        feed=active_feed, state=RunState.RUNNING, started_at=timezone.now(), rows_read=10, total_rows=40
    )
    page = page_as(admin)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    expect(page.locator("#runs")).to_contain_text("25% done")
    expect(page.locator(".alert-danger")).to_have_count(0)
    # The worker gives up and faults the feed; the polled region brings the fault and the badge along.
    SyncRun.objects.filter(pk=run.pk).update(state=RunState.FAILED, finished_at=timezone.now())
    Feed.objects.filter(pk=active_feed.pk).update(
        status=Health.FAULTED, errors=[{"message": "The warehouse refused the password."}]
    )
    expect(page.locator(".alert-danger")).to_contain_text(
        "The warehouse refused the password.", timeout=10000
    )
    expect(page.locator(".badge", has_text="Faulted")).to_be_visible()
    expect(page.locator("#feed-live")).not_to_have_attribute("hx-trigger", "every 2s")
    expect(page.get_by_role("button", name="Pause Sync")).to_be_visible()
