"""The rule editor's pages: editors build, reorder, toggle, preview and activate; viewers read; outsiders get 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from feeds.rules import service
from feeds.rules.models import RuleSet
from tests.personas import client_for

FORM = {
    "name": "Drop test users",
    "condition_kind": "form",
    "field": "attributes.plan",
    "operator": "equals",
    "value": "pro",
    "action": "drop_user",
}


def url(feed, name="editor", *args, scope="feed"):
    return reverse(f"rules:{name}", args=[feed.workspace.slug, feed.pk, scope, *args])


def test_an_editor_adds_a_step_from_the_form_and_sees_it_listed(active_feed, editor):
    client = client_for(editor)
    response = client.post(url(active_feed, "add_step"), FORM, follow=True)
    assert response.status_code == 200
    assert "When attributes.plan equals pro: Drop the user&#x27;s data" in response.content.decode()
    assert RuleSet.objects.get(feed=active_feed).draft[0]["name"] == "Drop test users"


def test_a_bad_step_comes_back_with_the_problem_next_to_its_field(active_feed, editor):
    client = client_for(editor)
    response = client.post(
        url(active_feed, "add_step"), {**FORM, "condition_kind": "expression", "expression": "plan =="}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Line 1, column 6" in body
    assert not RuleSet.objects.exclude(draft=[]).exists()


def test_steps_are_reordered_toggled_and_deleted(active_feed, editor):
    first = service.save_step(active_feed, {"name": "A", "action": {"type": "drop_user"}})
    second = service.save_step(active_feed, {"name": "B", "action": {"type": "drop_user"}})
    client = client_for(editor)
    client.post(url(active_feed, "change_step", second["id"], "up"))
    client.post(url(active_feed, "change_step", first["id"], "toggle"))
    draft = RuleSet.objects.get(feed=active_feed).draft
    assert [(s["name"], s["enabled"]) for s in draft] == [("B", True), ("A", False)]
    client.post(url(active_feed, "change_step", second["id"], "delete"))
    assert [s["name"] for s in RuleSet.objects.get(feed=active_feed).draft] == ["A"]


def test_the_preview_fragment_shows_dropped_rows(active_feed, editor):
    service.save_step(
        active_feed,
        {
            "name": "Drop pro",
            "action": {"type": "drop_user"},
            "condition": {"field": "attributes.plan", "operator": "equals", "value": "pro"},
        },
    )
    response = client_for(editor).get(url(active_feed, "preview"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and 'id="preview"' in body and "<html" not in body
    assert 'data-status="dropped"' in body


def test_activate_makes_the_draft_the_version_in_effect(active_feed, editor):
    service.save_step(active_feed, {"name": "Hash", "action": {"type": "hash", "field": "identities.email"}})
    response = client_for(editor).post(url(active_feed, "activate"), follow=True)
    assert "Rules version 1 is active" in response.content.decode()
    assert service.active_steps(active_feed)[0]["name"] == "Hash"


def test_a_viewer_reads_the_rules_but_may_not_change_them(active_feed, viewer):
    client = client_for(viewer)
    page = client.get(url(active_feed))
    assert page.status_code == 200 and 'id="step-form"' not in page.content.decode()
    assert client.post(url(active_feed, "add_step"), FORM).status_code == 403
    assert client.post(url(active_feed, "activate")).status_code == 403


@pytest.mark.parametrize("name", ["editor", "preview"])
def test_an_outsider_gets_404(active_feed, outsider, name):
    assert client_for(outsider).get(url(active_feed, name)).status_code == 404


def test_the_feed_list_and_summary_show_rules_applied_with_setup(active_feed, editor, viewer):
    client = client_for(editor)
    listing = client.get(reverse("feeds:list", args=[active_feed.workspace.slug])).content.decode()
    assert "Rules Applied" in listing and "+ Setup" in listing
    service.save_step(active_feed, {"name": "Hash", "action": {"type": "hash", "field": "identities.email"}})
    service.activate(active_feed, editor)
    summary = client.get(
        reverse("feeds:summary", args=[active_feed.workspace.slug, active_feed.pk])
    ).content.decode()
    assert 'id="rules-applied-card"' in summary and "Version 1" in summary
    viewer_list = (
        client_for(viewer).get(reverse("feeds:list", args=[active_feed.workspace.slug])).content.decode()
    )
    assert "Version 1" in viewer_list and "+ Setup" not in viewer_list


def test_reading_the_editor_creates_nothing(active_feed, viewer):
    assert client_for(viewer).get(url(active_feed)).status_code == 200
    assert not RuleSet.objects.exists()
