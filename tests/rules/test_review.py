"""The review step shows the rules in effect and samples profiles after them."""

from __future__ import annotations

from django.urls import reverse

from feeds.review import readiness
from feeds.rules import service
from tests.personas import client_for

DROP_PRO = {
    "name": "Drop pro",
    "action": {"type": "drop_user"},
    "condition": {"field": "attributes.plan", "operator": "equals", "value": "pro"},
}


def test_the_sample_profiles_are_the_rows_after_the_rules_in_effect(active_feed, editor):
    before = readiness.sample_profiles(active_feed, limit=10)
    plans = [p.change.attributes_after.get("plan") for p in before.changes]
    assert "pro" in plans
    service.save_step(active_feed, DROP_PRO)
    service.activate(active_feed, editor)

    after = readiness.sample_profiles(active_feed, limit=10)

    assert len(after.changes) == len(before.changes) - plans.count("pro")
    assert "pro" not in [p.change.attributes_after.get("plan") for p in after.changes]


def test_the_review_page_lists_the_rules_in_effect(active_feed, editor):
    service.save_step(active_feed, DROP_PRO)
    service.activate(active_feed, editor)
    html = (
        client_for(editor)
        .get(reverse("review:step", args=[active_feed.workspace.slug, active_feed.pk]))
        .content.decode()
    )
    assert 'id="summary-rules"' in html
    assert "1. Drop pro: <code>When attributes.plan equals pro: Drop the user&#x27;s data</code>" in html
