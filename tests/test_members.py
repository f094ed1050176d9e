"""Admins manage members and roles; every change lands in the audit log; a workspace keeps an admin."""

from __future__ import annotations

from feeds.accounts.models import Membership, Role
from feeds.models import AuditEntry
from tests.personas import client_for


def test_it_adds_a_member_with_a_role_and_records_it(workspace, admin):
    response = client_for(admin).post(
        "/w/acme/settings/members/", {"email": "new@acme.example", "role": "editor"}
    )
    assert response.status_code == 200
    assert Membership.objects.get(user__username="new@acme.example").role == Role.EDITOR
    entry = AuditEntry.objects.get(action="member added")
    assert entry.actor_label == "alice@acme.example" and entry.changes == {"role": [None, "editor"]}
    assert entry.ip_address == "127.0.0.1"


def test_it_changes_a_role_and_records_before_and_after(workspace, admin, viewer):
    member = Membership.objects.get(user=viewer)
    client_for(admin).post(f"/w/acme/settings/members/{member.pk}/role/", {"role": "editor"})
    member.refresh_from_db()
    assert member.role == Role.EDITOR
    assert AuditEntry.objects.get(action="role changed").changes == {"role": ["viewer", "editor"]}


def test_it_keeps_the_last_admin(workspace, admin):
    member = Membership.objects.get(user=admin)
    response = client_for(admin).post(f"/w/acme/settings/members/{member.pk}/remove/", follow=True)
    assert Membership.objects.filter(pk=member.pk).exists()
    assert "at least one admin" in response.content.decode()


def test_it_refuses_member_management_to_an_editor(workspace, editor, viewer):
    member = Membership.objects.get(user=viewer)
    response = client_for(editor).post(f"/w/acme/settings/members/{member.pk}/role/", {"role": "admin"})
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.role == Role.VIEWER


def test_it_hides_members_of_another_workspace(workspace, admin, outsider):
    member = Membership.objects.get(user=outsider)
    response = client_for(admin).post(f"/w/acme/settings/members/{member.pk}/remove/")
    assert response.status_code == 404
    assert Membership.objects.filter(pk=member.pk).exists()


def test_it_shows_the_audit_log_to_admins_only(workspace, admin, viewer):
    client_for(admin).post("/w/acme/settings/members/", {"email": "new@acme.example", "role": "viewer"})
    assert "new@acme.example" in client_for(admin).get("/w/acme/settings/audit/").content.decode()
    assert client_for(viewer).get("/w/acme/settings/audit/").status_code == 403
