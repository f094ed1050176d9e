"""Every page of the wizard, the feed pages and the settings pages renders in Chromium under the
Content-Security-Policy without one violation in the console, and its scripts still work (issue 14,
finding 4): a policy that the pages break would be switched off by the first person who meets it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from feeds.profiles.models import Profile
from feeds.sync.models import RunState, SyncRun
from feeds.sync.tasks import run_feed
from feeds.warehouses.registry import PROVIDERS
from tests.browser.chromium import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def watched(page_as) -> Iterator[Callable[[object], tuple[object, list[str]]]]:
    """Return a function opening a page as a user, with the list its console's CSP reports land in."""

    def open_page(user: object) -> tuple[object, list[str]]:
        page = page_as(user)
        violations: list[str] = []
        page.on(  # type: ignore[attr-defined]
            "console",
            lambda message: (
                violations.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        return page, violations

    yield open_page


def visit(page, path: str) -> None:
    response = page.goto(path)
    assert response.status < 400, path
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")


def test_it_renders_the_wizard_steps_without_a_csp_violation(watched, editor, active_feed):
    page, violations = watched(editor)
    base = f"/w/acme/feeds/{active_feed.pk}/setup"
    visit(page, "/w/acme/directory/")
    page.get_by_placeholder("Search warehouses").fill("duck")
    expect(page.locator(".provider-card")).to_have_count(1)  # htmx swapped the list
    for provider in PROVIDERS:  # each provider's connection form and "Prepare your warehouse" panel
        visit(page, f"/w/acme/feeds/new/{provider}/")
    visit(page, f"{base}/connect/")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connected")
    visit(page, f"{base}/model/")
    expect(page.locator(".CodeMirror")).to_be_visible()  # the editor's script ran
    page.get_by_role("button", name="Run Query").click()
    expect(page.locator("#columns")).to_contain_text("customer_id")
    visit(page, f"{base}/map/")
    visit(page, f"{base}/schedule/")
    visit(page, f"{base}/review/")
    expect(page.locator("#sample")).not_to_contain_text("Loading", timeout=30000)
    shot(page, "90-csp-review")
    assert violations == []


def test_it_renders_the_feed_pages_without_a_csp_violation(watched, admin, active_feed):
    page, violations = watched(admin)
    done = SyncRun.objects.create(feed=active_feed)
    run_feed(done.pk)
    running = SyncRun.objects.create(
        feed=active_feed, state=RunState.RUNNING, started_at=timezone.now(), rows_read=120, total_rows=300
    )
    visit(page, "/w/acme/feeds/")
    visit(page, f"/w/acme/feeds/{active_feed.pk}/")
    bar = page.locator(".progress-bar").first
    expect(bar).to_have_attribute("data-width", "40")
    assert bar.evaluate("element => element.style.width") == "40%"  # set by static/js/wsync.js
    shot(page, "91-csp-feed-summary")
    running.state = RunState.SUCCEEDED
    running.save(update_fields=["state"])
    visit(page, f"/w/acme/feeds/{active_feed.pk}/runs/{done.pk}/")
    visit(page, f"/w/acme/feeds/{active_feed.pk}/delete/")
    visit(page, "/w/acme/profiles/")
    page.locator("#q").fill("1")
    page.wait_for_load_state("networkidle")
    profile = Profile.objects.first()
    visit(page, f"/w/acme/profiles/{profile.mpid}/?environment={profile.environment}")
    for path in ["/w/acme/settings/members/", "/w/acme/settings/api/", "/w/acme/settings/audit/"]:
        visit(page, path)
    visit(page, "/accounts/password/")
    visit(page, "/platform/v2/docs/")
    page.get_by_role("button", name="Workspaces").or_(page.get_by_label("Switch workspace")).first.click()
    expect(page.locator(".dropdown-menu").first).to_be_visible()  # Bootstrap's script ran
    assert violations == []


def test_it_renders_the_sign_in_pages_without_a_csp_violation(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    for path in ["/accounts/login/", "/accounts/password/reset/"]:
        visit(page, path)
    context.close()
    assert violations == []
