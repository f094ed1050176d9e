"""Per-output rules: they change what one connected output receives and nothing in the store or other outputs."""

from __future__ import annotations

import hashlib
import json

from feeds.outputs import service as outputs
from feeds.outputs.models import OutboxBatch
from feeds.rules import service
from feeds.rules.models import RunOutputRules
from feeds.sync.models import RejectedRow
from tests.outputs.conftest import make_output
from tests.sync.conftest import T0, make_feed, run_now, store_users, user_rows

HASH = {"name": "Hash email", "action": {"type": "hash", "field": "identities.email"}}


def sent(connection) -> list[dict]:
    rows = OutboxBatch.objects.filter(connection=connection).order_by("seq")
    return [b for row in rows for b in json.loads(row.payload)]


def test_an_output_rule_changes_only_what_that_output_receives(workspace, warehouse, admin):
    feed = make_feed(workspace, warehouse.path)
    hashed = outputs.connect(
        feed, make_output(workspace, "rabbitmq", name="Ads", routing_key="rules-ads"), None
    )
    plain = outputs.connect(
        feed, make_output(workspace, "rabbitmq", name="CRM", routing_key="rules-crm"), None
    )
    service.replace_steps(
        hashed,
        [
            HASH,
            {
                "name": "No pro",
                "action": {"type": "drop_user"},
                "condition": {"field": "attributes.plan", "operator": "equals", "value": "pro"},
            },
        ],
    )
    service.activate(hashed, admin)
    warehouse.upsert(user_rows(0, 3, T0) + user_rows(3, 1, T0, plan="pro"))

    run = run_now(feed)

    to_ads = sent(hashed)
    assert len(to_ads) == 3
    assert to_ads[0]["user_identities"]["email"] == hashlib.sha256(b"user0@example.com").hexdigest()
    assert [b["user_identities"]["email"] for b in sent(plain)] == [f"user{i}@example.com" for i in range(4)]
    assert store_users(workspace)["C0000000"]["email"] == "user0@example.com"
    assert RunOutputRules.objects.get(run=run, connection=hashed).version.number == 1
    assert RunOutputRules.objects.get(run=run, connection=plain).version is None


def test_a_row_an_output_rule_fails_on_is_a_rejected_row_saying_which_output(workspace, warehouse, admin):
    feed = make_feed(workspace, warehouse.path)
    connection = outputs.connect(
        feed, make_output(workspace, "rabbitmq", name="Ads", routing_key="rules-ads"), None
    )
    service.replace_steps(
        connection,
        [
            {
                "name": "Points",
                "action": {
                    "type": "set_attribute",
                    "field": "attributes.points",
                    "expression": "attributes.missing * 2",
                },
            }
        ],
    )
    service.activate(connection, admin)
    warehouse.upsert(user_rows(0, 2, T0))

    run = run_now(feed)

    assert run.state == "succeeded" and run.profiles_created == 2
    assert sent(connection) == []
    reasons = list(RejectedRow.objects.filter(run=run).values_list("reason", flat=True))
    assert len(reasons) == 2 and all(
        r.startswith("Not sent to Ads: Rule step 1 “Points” failed") for r in reasons
    )


def test_an_outputs_rules_have_their_own_editor_reached_from_the_feed_summary(active_feed, editor, admin):
    from django.urls import reverse

    from tests.personas import client_for

    connection = outputs.connect(
        active_feed, make_output(active_feed.workspace, "rabbitmq", name="Ads", routing_key="rules-ads"), None
    )
    client = client_for(editor)
    summary = client.get(reverse("feeds:summary", args=["acme", active_feed.pk])).content.decode()
    editor_url = reverse("rules:editor", args=["acme", active_feed.pk, f"output-{connection.pk}"])
    assert f'href="{editor_url}"' in summary
    form = {"name": "Hash", "condition_kind": "", "action": "hash", "target": "identities.email"}
    client.post(reverse("rules:add_step", args=["acme", active_feed.pk, f"output-{connection.pk}"]), form)
    client.post(reverse("rules:activate", args=["acme", active_feed.pk, f"output-{connection.pk}"]))
    assert service.active_steps(connection)[0]["name"] == "Hash"
    assert service.active_steps(active_feed) == []
    page = client.get(editor_url).content.decode()
    assert 'Rules Applied <span class="text-body-secondary">for Ads</span>' in page
    preview = client.get(
        reverse("rules:preview", args=["acme", active_feed.pk, f"output-{connection.pk}"])
    ).content.decode()
    assert 'data-status="changed"' in preview


def test_another_feeds_connection_is_404(active_feed, editor, workspace, warehouse):
    from django.urls import reverse

    from tests.personas import client_for

    other = make_feed(workspace, warehouse.path, slug="other", name="Other")
    connection = outputs.connect(
        other, make_output(workspace, "rabbitmq", name="Ads", routing_key="rules-ads"), None
    )
    url = reverse("rules:editor", args=["acme", active_feed.pk, f"output-{connection.pk}"])
    assert client_for(editor).get(url).status_code == 404
    assert (
        client_for(editor).get(reverse("rules:editor", args=["acme", active_feed.pk, "nonsense"])).status_code
        == 404
    )
