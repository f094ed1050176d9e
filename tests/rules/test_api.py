"""The REST `rules` resource: read and replace a pipeline's steps, with the API's roles and error shape."""

from __future__ import annotations

import pytest
from django.test import Client

from feeds.accounts.models import Role
from feeds.models import AuditEntry
from feeds.rules import service

STEPS = [
    {"name": "Lowercase email", "action": {"type": "normalise_identity", "field": "identities.email"}},
    {
        "name": "Drop test users",
        "action": {"type": "drop_user"},
        "condition": {"expression": "has(attributes.plan) && attributes.plan == 'test'"},
    },
]


def test_an_editor_replaces_and_activates_a_pipelines_rules(active_feed, api_as):
    editor = api_as(Role.EDITOR)
    response = editor.put(f"rules/{active_feed.slug}", {"steps": STEPS})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == 1 and not body["has_unactivated_changes"]
    assert [s["name"] for s in body["steps"]] == ["Lowercase email", "Drop test users"]
    assert service.active_steps(active_feed)[1]["condition"]["expression"].startswith("has(")
    assert (
        AuditEntry.objects.filter(feed=active_feed, action="rules")
        .first()
        .actor_label.startswith("API credential editor script")
    )


def test_a_draft_is_saved_without_activating_when_asked(active_feed, api):
    body = api.put(f"rules/{active_feed.slug}", {"steps": STEPS, "activate": False}).json()
    assert body["version"] is None and body["has_unactivated_changes"] and len(body["draft_steps"]) == 2
    listing = api.get("rules").json()
    assert [r["pipeline_id"] for r in listing] == [active_feed.slug]


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        (
            [{"name": "x", "action": {"type": "hash", "field": "plan"}}],
            "steps[0].action.field",
            "is not a field",
        ),
        (
            [
                {
                    "name": "x",
                    "action": {"type": "drop_user"},
                    "condition": {"expression": "attributes.plan =="},
                }
            ],
            "steps[0].condition.expression",
            "Line 1, column 17",
        ),
        ("all", "steps", "as a list"),
    ],
)
def test_bad_steps_answer_400_naming_the_setting_and_save_nothing(active_feed, api, steps, field, words):
    response = api.put(f"rules/{active_feed.slug}", {"steps": steps})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == field and words in error["message"]
    assert service.rule_set(active_feed).draft == []


def test_a_viewer_reads_but_may_not_replace(active_feed, api_as):
    viewer = api_as(Role.VIEWER)
    assert viewer.get(f"rules/{active_feed.slug}").status_code == 200
    assert viewer.put(f"rules/{active_feed.slug}", {"steps": STEPS}).status_code == 403


def test_an_unknown_pipeline_is_404_and_no_token_is_401(active_feed, api):
    assert api.get("rules/nope").status_code == 404
    assert Client().get(f"/platform/v2/workspaces/acme/rules/{active_feed.slug}").status_code == 401


def test_the_openapi_document_has_the_rules_resource(db):
    document = Client().get("/platform/v2/openapi.json").json()
    assert "put" in document["paths"]["/platform/v2/workspaces/{workspaceId}/rules/{pipelineId}"]
    assert "RuleStep" in document["components"]["schemas"]


def test_a_connected_outputs_rules_are_read_and_replaced_apart_from_the_pipelines(active_feed, api):
    from feeds.outputs import service as outputs
    from tests.outputs.conftest import make_output

    connection = outputs.connect(
        active_feed, make_output(active_feed.workspace, "rabbitmq", name="Ads", routing_key="rules-ads"), None
    )
    path = f"rules/{active_feed.slug}/outputs/{connection.pk}"
    response = api.put(
        path, {"steps": [{"name": "Hash", "action": {"type": "hash", "field": "identities.email"}}]}
    )
    assert response.status_code == 200, response.content
    assert response.json()["connection_id"] == connection.pk and response.json()["version"] == 1
    assert service.active_steps(connection)[0]["name"] == "Hash"
    assert api.get(f"rules/{active_feed.slug}").json()["steps"] == []
    assert api.get(f"rules/{active_feed.slug}/outputs/999").status_code == 404


def test_an_api_address_with_a_newline_answers_in_the_apis_shape(db):
    """Found by schemathesis once the rules operations joined the schema: `.` in the catch-all missed "\\n"."""
    response = Client().put(
        "/platform/v2/workspaces/%C2%A6/data-models/a%0Ab", "{}", content_type="application/json"
    )
    assert response["Content-Type"] == "application/json"
    assert response.status_code in (401, 404)
