"""Changes made through the API are recorded as the API credential, from the caller's address."""

from __future__ import annotations

from feeds.accounts.models import Role
from feeds.api.credentials import create_credential
from feeds.models import AuditEntry
from tests.api.conftest import ApiClient, connection_body, pipeline_body, token_for


def test_it_records_api_changes_as_the_credential_with_the_callers_address(
    workspace, admin, api_mapping, demo_file
):
    issued = create_credential(workspace, name="deploy bot", role=Role.ADMIN, user=admin)
    bot = ApiClient(token_for(issued.credential.client_id, issued.client_secret), remote_addr="192.0.2.44")
    assert bot.post("connections", connection_body(demo_file, "second", "Second")).status_code == 200
    assert bot.post("pipelines", pipeline_body()).status_code == 200
    assert bot.post("pipelines/crm-users/trigger").status_code == 200
    assert bot.put("pipelines/crm-users", {"state": "paused"}).status_code == 200
    assert bot.delete("pipelines/crm-users").status_code == 204
    entries = AuditEntry.objects.filter(ip_address="192.0.2.44").order_by("pk")
    assert [e.action for e in entries] == [
        "create connection",
        "create",
        "activate",
        "run",
        "pause",
        "delete",
    ]
    label = f"API credential deploy bot ({issued.credential.client_id})"
    assert {(e.actor_id, e.actor_label) for e in entries} == {(None, label)}
    # Never as the person who created the credentials (alice, on the settings page), fixtures' calls included.
    by_alice = AuditEntry.objects.filter(actor=admin).values_list("action", flat=True)
    assert set(by_alice) == {"create API credential"}
