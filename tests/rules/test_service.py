"""Editing a feed's rules: the draft, activation with audit before → after, the preview on the model's sample rows."""

from __future__ import annotations

import pytest

from feeds.models import AuditEntry
from feeds.rules import service
from feeds.rules.models import RuleSet
from feeds.rules.steps import StepsInvalid
from feeds.sync import fingerprints
from feeds.sync.models import FingerprintBlock

HASH = {"name": "Hash email", "action": {"type": "hash", "field": "identities.email"}}
DROP_PRO = {
    "name": "Drop pro",
    "action": {"type": "drop_user"},
    "condition": {"field": "attributes.plan", "operator": "equals", "value": "pro"},
}


def test_the_draft_is_edited_step_by_step_without_touching_the_active_version(active_feed, admin):
    first = service.save_step(active_feed, HASH)
    second = service.save_step(active_feed, DROP_PRO)
    service.move_step(active_feed, second["id"], -1)
    service.toggle_step(active_feed, first["id"])
    draft = RuleSet.objects.get(feed=active_feed).draft
    assert [(s["name"], s["enabled"]) for s in draft] == [("Drop pro", True), ("Hash email", False)]
    service.save_step(active_feed, {**HASH, "name": "Hash the email"}, step_id=first["id"])
    service.delete_step(active_feed, second["id"])
    assert [s["name"] for s in RuleSet.objects.get(feed=active_feed).draft] == ["Hash the email"]
    assert service.active_steps(active_feed) == []


def test_a_bad_step_is_refused_and_nothing_is_saved(active_feed):
    with pytest.raises(StepsInvalid) as raised:
        service.save_step(active_feed, {"name": "x", "action": {"type": "hash", "field": "nope"}})
    assert "action.field" in raised.value.problems
    assert RuleSet.objects.filter(feed=active_feed, draft=[]).count() in (0, 1)
    assert not RuleSet.objects.exclude(draft=[]).exists()


def test_activation_makes_a_version_audits_before_and_after_and_forgets_fingerprints(active_feed, admin):
    fingerprints.record(active_feed.pk, {"C1": 2})
    service.save_step(active_feed, HASH)
    version = service.activate(active_feed, admin)
    assert version.number == 1
    service.save_step(active_feed, DROP_PRO)
    assert service.has_unactivated_changes(RuleSet.objects.get(feed=active_feed))
    second = service.activate(active_feed, admin)

    assert second.number == 2
    entry = AuditEntry.objects.filter(feed=active_feed, action="rules").first()
    assert entry.actor == admin
    before, after = entry.changes["rules"]
    assert before == ["1. Hash email: Hash with SHA-256 identities.email"]
    assert after[1] == "2. Drop pro: When attributes.plan equals pro: Drop the user's data"
    assert entry.changes["version"] == [1, 2]
    assert not FingerprintBlock.objects.filter(feed=active_feed).exists()


def test_activating_an_unchanged_draft_makes_no_new_version(active_feed, admin):
    service.save_step(active_feed, HASH)
    service.activate(active_feed, admin)
    assert service.activate(active_feed, admin) is None
    assert AuditEntry.objects.filter(feed=active_feed, action="rules").count() == 1


def test_the_preview_runs_the_steps_on_the_models_sample_rows_step_by_step(active_feed):
    steps = [service.save_step(active_feed, DROP_PRO), service.save_step(active_feed, HASH)]

    shown = service.preview(active_feed, steps, limit=10)

    assert shown.error == ""
    assert len(shown.before) == 10
    plans = [row.get("attributes.plan") for row in shown.before]
    dropped = [r.key for r in shown.steps[0].rows if r.status == "dropped"]
    assert 0 < len(dropped) == plans.count("pro") and shown.dropped == len(dropped)
    hashed = [r for r in shown.steps[1].rows if r.status == "changed"]
    assert len(hashed) == 10 - len(dropped)
    field, before, after = hashed[0].changes[0]
    assert field == "identities.email" and "@" in before and len(after) == 64
    assert shown.kept == 10 - len(dropped)


def test_lineage_names_the_step_that_set_an_attribute(active_feed, admin):
    from feeds.rules.models import RunRules
    from feeds.sync.models import SyncRun

    service.save_step(
        active_feed,
        {"name": "Tier", "action": {"type": "rename_attribute", "field": "attributes.plan", "to": "tier"}},
    )
    version = service.activate(active_feed, admin)
    run = SyncRun.objects.create(feed=active_feed)
    RunRules.objects.create(run=run, version=version)
    assert service.lineage({run.pk}) == {run.pk: {"tier": "rule step 1 “Tier” (rules v1)"}}
