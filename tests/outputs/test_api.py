"""The REST API for outputs, connections and dead letters: the same services as the pages, the API's error shape."""

from __future__ import annotations

import pytest

from feeds.accounts.models import Role
from feeds.models import AuditEntry
from feeds.outputs.models import BatchState, OutboxBatch, Output
from tests.standins.outputs_http import SECRET


@pytest.fixture
def hook_body(receiver):
    return {
        "name": "Hook",
        "kind": "webhook",
        "config": {"url": f"{receiver.url}/webhook", "signing_secret": SECRET},
    }


def test_outputs_are_created_listed_and_never_show_a_secret(api, api_as, hook_body):
    made = api.post("outputs", hook_body)
    assert made.status_code == 200, made.content
    body = made.json()
    assert body["config"]["signing_secret"] == "************" and body["config"]["batch_size"] == 1000
    assert api_as(Role.VIEWER).get("outputs").json() == [body]
    assert api_as(Role.VIEWER).post("outputs", hook_body).status_code == 403
    test = api.post(f"outputs/{body['id']}/test")
    assert test.json() == {"delivered": True, "message": ""}
    # The mask keeps the saved secret only while the address stays.
    moved = api.put(
        f"outputs/{body['id']}",
        {
            "name": "Hook",
            "config": {**hook_body["config"], "url": "https://x.example/h", "signing_secret": "************"},
        },
    )
    (error,) = moved.json()["errors"]
    assert moved.status_code == 400 and error["field"] == "config.signing_secret"
    assert error["message"].startswith("Type the signing secret again: Endpoint URL changed")
    assert AuditEntry.objects.filter(action="create output").exists()


def test_wrong_values_name_their_field(api):
    wrong = api.post(
        "outputs", {"name": "Hook", "kind": "webhook", "config": {"url": "ftp://x", "signing_secret": "s"}}
    )
    assert wrong.status_code == 400
    assert wrong.json()["errors"] == [
        {"code": "invalid", "message": "Start the address with https://.", "field": "config.url"}
    ]
    assert api.post("outputs", {"name": "P", "kind": "pigeon"}).status_code == 400


def test_a_pipeline_connects_pauses_and_redelivers_over_the_api(api, api_as, hook_body, active_feed):
    output = api.post("outputs", hook_body).json()
    path = f"pipelines/{active_feed.slug}/outputs"
    assert api_as(Role.VIEWER).post(path, {"output_id": output["id"]}).status_code == 403
    made = api_as(Role.EDITOR).post(
        path, {"output_id": output["id"], "sends": "attributes", "attributes": ["plan"]}
    )
    assert made.status_code == 200, made.content
    connection = made.json()
    assert (connection["sends"], connection["attributes"], connection["pending"]) == (
        "attributes",
        ["plan"],
        0,
    )
    bad = api.post(path, {"output_id": output["id"], "sends": "everything"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "sends"

    detail = f"{path}/{connection['id']}"
    assert api_as(Role.EDITOR).call("PATCH", detail, {"paused": True}).status_code == 403
    assert api.call("PATCH", detail, {"paused": True}).json()["paused"] is True
    OutboxBatch.objects.create(
        connection_id=connection["id"],
        seq=1,
        batch_id="b1",
        payload="[]",
        state=BatchState.DEAD,
        last_error="HTTP 400",
    )
    dead = api_as(Role.VIEWER).get(f"{detail}/dead-letters").json()
    assert dead == [
        {
            "id": dead[0]["id"],
            "batch_id": "b1",
            "changes": 0,
            "attempts": 0,
            "error": "HTTP 400",
            "payload": [],
        }
    ]
    assert api.post(f"{detail}/dead-letters", {"ids": [dead[0]["id"]]}).json() == {"redelivered": 1}
    assert api.get(detail).json()["pending"] == 1
    assert api.call("DELETE", detail).status_code == 400  # must say what to do with the backlog
    assert api.call("DELETE", f"{detail}?drop_backlog=true").status_code == 204
    assert not OutboxBatch.objects.exists() and Output.objects.count() == 1


def test_other_workspaces_outputs_are_not_found(api, api_as, hook_body, other_workspace, outsider):
    output = api.post("outputs", hook_body).json()
    other = api_as(Role.ADMIN, ws=other_workspace)
    assert other.get(f"/platform/v2/workspaces/other/outputs/{output['id']}").status_code == 404


def test_deleting_an_output_with_connected_pipelines_is_refused_until_asked_for(
    api, api_as, hook_body, active_feed
):
    output = api.post("outputs", hook_body).json()
    path = f"pipelines/{active_feed.slug}/outputs"
    connection = api.post(path, {"output_id": output["id"]}).json()
    OutboxBatch.objects.create(connection_id=connection["id"], seq=1, batch_id="b1", payload="[]")
    assert api_as(Role.EDITOR).call("DELETE", f"outputs/{output['id']}").status_code == 403
    refused = api.call("DELETE", f"outputs/{output['id']}")
    (error,) = refused.json()["errors"]
    assert refused.status_code == 400 and error["field"] == "disconnect"
    assert active_feed.name in error["message"] and "1 pending batch(es)" in error["message"]
    assert "?disconnect=true" in error["message"]
    assert Output.objects.count() == 1 and OutboxBatch.objects.count() == 1  # nothing half-deleted
    gone = api.call("DELETE", f"outputs/{output['id']}?disconnect=true")
    assert gone.status_code == 204
    assert not Output.objects.exists() and not OutboxBatch.objects.exists()
    entry = AuditEntry.objects.get(action="delete output")
    assert entry.changes["connected feeds"] == [[active_feed.name], []]
    assert entry.changes["pending batches"] == [1, 0]
    assert api.call("DELETE", f"outputs/{output['id']}").status_code == 404


def test_an_output_no_pipeline_sends_to_is_deleted_at_once(api, hook_body):
    output = api.post("outputs", hook_body).json()
    assert api.call("DELETE", f"outputs/{output['id']}").status_code == 204
    assert not Output.objects.exists() and AuditEntry.objects.filter(action="delete output").exists()
