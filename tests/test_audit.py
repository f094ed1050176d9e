"""What the audit log records from the wizard: creating, editing (before → after) and activating."""

from __future__ import annotations

from feeds import wizard
from feeds.models import AuditEntry, Provider
from feeds.review import readiness


def test_it_records_a_connection_edit_without_showing_secrets(workspace, admin):
    connection = wizard.save_connection(
        workspace,
        connection=None,
        provider=Provider.POSTGRES,
        name="Warehouse",
        config={"host": "db.example.com", "port": 5432},
        secrets={"password": "first-secret"},
        user=admin,
    )
    wizard.save_connection(
        workspace,
        connection=connection,
        provider=Provider.POSTGRES,
        name="Warehouse",
        config={"host": "db2.example.com", "port": 5432},
        secrets={"password": "second-secret"},
        user=admin,
    )
    edit = AuditEntry.objects.get(action="edit connection")
    assert edit.changes["host"] == ["db.example.com", "db2.example.com"]
    assert "password" in edit.changes
    assert "secret" not in str(edit.changes)
    assert AuditEntry.objects.filter(action="create connection").count() == 1


def test_it_records_a_saved_edit_of_a_live_feed_with_before_and_after(active_feed, editor):
    schedule = wizard.section_values(active_feed, "schedule")
    wizard.save_section(active_feed, "schedule", {**schedule, "environment": "development"}, editor)
    assert not AuditEntry.objects.filter(action="edit").exists()  # pending until Save
    readiness.save_and_activate(active_feed, editor)
    entry = AuditEntry.objects.get(action="edit")
    assert entry.feed == active_feed and entry.actor_label == "eddie@acme.example"
    assert entry.changes["environment"] == ["production", "development"]


def test_it_names_who_acts_for_a_request_instead_of_the_user_given(workspace, admin, rf):
    from feeds import audit

    request = rf.post("/", REMOTE_ADDR="198.51.100.4")
    with audit.acting_as("API credential deploy (wsc_1)", request):
        inside = audit.record(workspace, admin, "pause", "Users")
    outside = audit.record(workspace, admin, "resume", "Users", request=rf.post("/", REMOTE_ADDR="10.0.0.1"))
    assert (inside.actor, inside.actor_label, inside.ip_address) == (
        None,
        "API credential deploy (wsc_1)",
        "198.51.100.4",
    )
    assert (outside.actor, outside.actor_label, outside.ip_address) == (
        admin,
        "alice@acme.example",
        "10.0.0.1",
    )
