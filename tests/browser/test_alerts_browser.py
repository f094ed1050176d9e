"""An admin chooses who is told about incidents on the Alerts page, in Chromium, and sees the history."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from feeds.ops import alerts
from feeds.ops.models import AlertSettings
from tests.browser.chromium import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_chooses_who_is_emailed_and_reads_the_history(page_as, admin, editor, active_feed, settings):
    active_feed.data_model.sql = "SELECT no_such_column FROM users"
    active_feed.data_model.save()
    from feeds.sync import engine, service

    engine.run(service.request_run(active_feed, None).pk)
    alerts.evaluate()

    page = page_as(admin)
    page.goto("/w/acme/settings/members/")
    page.get_by_role("link", name="Alerts").click()
    history = page.locator("#alert-history")
    expect(history).to_contain_text("Feed faulted")
    expect(history).to_contain_text("opened · email: sent")
    page.get_by_label("eddie@acme.example").check()
    page.get_by_label("Alert when an interval feed has not succeeded for this many intervals").fill("0")
    page.get_by_role("button", name="Save alert settings").click()
    expect(page.locator("#alert-settings")).to_contain_text("from 1 to 100")
    page.get_by_label("Alert when an interval feed has not succeeded for this many intervals").fill("5")
    page.get_by_role("button", name="Save alert settings").click()
    expect(page.locator(".alert-success")).to_contain_text("Alert settings saved.")
    shot(page, "60-alert-settings")
    config = AlertSettings.objects.get()
    assert [u.email for u in config.recipients.all()] == ["eddie@acme.example"]
    assert config.late_after_intervals == 5
