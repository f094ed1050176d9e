"""Rules applied through real sync runs (DuckDB warehouse, the engine, the profile store), with versions."""

from __future__ import annotations

import hashlib

import pytest

from feeds.models import SyncMode
from feeds.profiles.models import Profile
from feeds.rules import service
from feeds.rules.models import RunRules
from feeds.rules.runs import version_of
from feeds.sync.models import RejectedRow
from tests.sync.conftest import T0, make_feed, run_now, store_users, user_rows

LOWERCASE = {"name": "Lowercase email", "action": {"type": "normalise_identity", "field": "identities.email"}}
DROP_TESTS = {
    "name": "Drop test users",
    "action": {"type": "drop_user"},
    "condition": {"field": "attributes.plan", "operator": "equals", "value": "test"},
}


@pytest.fixture(params=[SyncMode.INCREMENTAL, SyncMode.FULL])
def feed(request, workspace, warehouse, settings):
    settings.WSYNC_PAGE_SIZE = 3
    if request.param == SyncMode.FULL:
        return make_feed(workspace, warehouse.path, sync_mode=SyncMode.FULL, iterator="", iterator_type="")
    return make_feed(workspace, warehouse.path)


def activate(feed, admin, *steps):
    service.replace_steps(feed, list(steps))
    return service.activate(feed, admin)


def test_a_run_applies_the_active_rules_and_records_their_version(feed, warehouse, workspace, admin):
    warehouse.upsert(
        [("C1", " Ada@Example.COM", "pro", 1, T0), ("C2", "bob@x.io", "test", 2, T0), *user_rows(3, 5, T0)]
    )
    activate(feed, admin, LOWERCASE, DROP_TESTS)

    run = run_now(feed)

    users = store_users(workspace)
    assert users["C1"]["email"] == "ada@example.com"
    assert "C2" not in users
    assert len(users) == 6
    assert (run.rows_read, run.rows_mapped, run.rows_rejected) == (7, 6, 0)
    assert version_of(run) == 1


def test_edits_take_effect_from_the_next_run_and_each_run_keeps_its_version(
    feed, warehouse, workspace, admin
):
    warehouse.upsert([("C1", "ada@x.io", "pro", 1, T0)])
    activate(feed, admin, LOWERCASE)
    first = run_now(feed)
    service.replace_steps(
        feed, [LOWERCASE, {"name": "Hash", "action": {"type": "hash", "field": "identities.email"}}]
    )
    # saved as a draft: not in effect until activated
    assert service.active_steps(feed)[-1]["name"] == "Lowercase email"
    service.activate(feed, admin)
    warehouse.sql("UPDATE users SET score = 2, updated_at = updated_at + INTERVAL 1 HOUR")
    second = run_now(feed)

    assert (version_of(first), version_of(second)) == (1, 2)
    assert store_users(workspace)["C1"]["email"] == hashlib.sha256(b"ada@x.io").hexdigest()


def test_a_row_a_rule_fails_on_is_a_rejected_row_of_the_run_with_the_reason(
    feed, warehouse, workspace, admin
):
    warehouse.upsert(user_rows(0, 4, T0))
    warehouse.sql("UPDATE users SET score = NULL WHERE customer_id = 'C0000002'")
    activate(
        feed,
        admin,
        {
            "name": "Points",
            "action": {
                "type": "set_attribute",
                "field": "attributes.points",
                "expression": "attributes.score * 10",
            },
        },
    )

    run = run_now(feed)

    assert run.state == "succeeded"
    assert (run.rows_mapped, run.rows_rejected) == (3, 1)
    rejected = RejectedRow.objects.get(run=run)
    assert rejected.row_key == "customer_id=C0000002"
    assert rejected.reason.startswith("Rule step 1 “Points” failed on this row:")
    points = sorted(p.attribute_values().get("points") for p in Profile.objects.filter(workspace=workspace))
    assert points == [10, 10, 10]


def test_a_retried_attempt_applies_the_version_its_run_started_with(feed, warehouse, workspace, admin):
    from feeds.rules.runs import rules_for_run
    from feeds.sync import service as sync

    warehouse.upsert(user_rows(0, 2, T0))
    activate(feed, admin, LOWERCASE)
    run = sync.request_run(feed, None, kind="manual")
    rules_for_run(run)  # the first page of its first attempt
    activate(feed, admin, LOWERCASE, DROP_TESTS)
    assert RunRules.objects.get(run=run).version.number == 1
    assert version_of(run) == 1


def test_without_rules_a_run_records_none(feed, warehouse):
    warehouse.upsert(user_rows(0, 2, T0))
    run = run_now(feed)
    assert version_of(run) is None
    assert RunRules.objects.get(run=run).version is None


def test_the_profile_page_says_which_rule_step_set_an_attribute(feed, warehouse, workspace, admin):
    from django.urls import reverse

    from tests.personas import client_for

    warehouse.upsert(user_rows(0, 1, T0))
    activate(
        feed,
        admin,
        {"name": "Tier", "action": {"type": "rename_attribute", "field": "attributes.plan", "to": "tier"}},
    )
    run_now(feed)
    profile = Profile.objects.get(workspace=workspace)
    html = (
        client_for(admin).get(reverse("feeds:profile", args=[workspace.slug, profile.mpid])).content.decode()
    )
    tier = html.split("<code>tier</code>")[1].split("</tr>")[0]
    assert "set by rule step 1 “Tier” (rules v1)" in tier
    score = html.split("<code>score</code>")[1].split("</tr>")[0]
    assert "rule-lineage" not in score
