"""A marketer builds a rule in the form, previews it on sample rows and activates it, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from feeds.profiles.models import Profile
from feeds.rules import service
from feeds.sync.models import SyncRun
from feeds.sync.tasks import run_feed
from tests.browser.chromium import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_builds_previews_and_activates_a_rule(page_as, editor, active_feed):
    page = page_as(editor)
    page.goto("/w/acme/feeds/")
    row = page.locator("tr", has_text=active_feed.name)
    row.get_by_role("link", name="+ Setup").click()
    expect(page.get_by_role("heading", name="Rules Applied")).to_be_visible()

    # A mistake first: the problem shows at the field, with its position.
    page.get_by_label("Step name").fill("Drop pro users")
    page.get_by_label("Apply").select_option("expression")
    page.get_by_label("Condition (CEL expression)").fill("attributes.plan == ")
    page.get_by_label("Action").select_option("drop_user")
    page.get_by_role("button", name="Save step").click()
    expect(page.locator("#step-form")).to_contain_text("Line 1, column 17")

    page.get_by_label("Apply").select_option("form")
    page.get_by_label("Condition field").fill("attributes.plan")
    page.get_by_label("Operator").select_option("equals")
    page.get_by_label("Compare with").fill("pro")
    page.get_by_role("button", name="Save step").click()
    expect(page.locator("#steps")).to_contain_text("When attributes.plan equals pro: Drop the user's data")
    expect(page.locator("#rules-unactivated")).to_be_visible()

    page.get_by_role("link", name="Preview the steps").click()
    expect(page.locator("#preview-counts")).to_contain_text("10 sample rows")
    dropped = page.locator('.preview-row[data-status="dropped"]')
    expect(dropped.first).to_be_visible()
    shot(page, "60-rules-preview")

    page.get_by_role("button", name="Activate").click()
    expect(page.locator(".alert-success")).to_contain_text("Rules version 1 is active")
    expect(page.locator("#rules-in-effect")).to_contain_text("Drop pro users")
    assert service.active_steps(active_feed)[0]["condition"]["value"] == "pro"

    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    expect(page.locator("#rules-applied-card")).to_contain_text("Version 1")
    page.get_by_role("button", name="Run Sync").click()
    run_feed(SyncRun.objects.get(feed=active_feed).pk)
    kept = Profile.objects.filter(workspace=active_feed.workspace)
    assert kept.count() > 0
    assert not any(p.attribute_values().get("plan") == "pro" for p in kept)


def test_it_reorders_and_disables_steps(page_as, editor, active_feed):
    service.save_step(active_feed, {"name": "First", "action": {"type": "drop_user"}})
    service.save_step(
        active_feed, {"name": "Second", "action": {"type": "hash", "field": "identities.email"}}
    )
    page = page_as(editor)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/rules/")
    page.get_by_role("button", name="Move Second up").click()
    expect(page.locator("#steps .rule-step").first).to_contain_text("Second")
    page.locator(".rule-step", has_text="First").get_by_role("button", name="Disable").click()
    expect(page.locator(".rule-step", has_text="First")).to_contain_text("off")
    shot(page, "61-rules-editor")
