"""Finding 7: an API credential acts with its creator's authority. It stops working when the creator loses
the admin role or leaves the workspace, unless another admin took it over first (audited)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from feeds.accounts import members
from feeds.accounts.models import Membership, Role
from feeds.api.credentials import create_credential
from feeds.models import AuditEntry
from tests.api.conftest import ApiClient, token_for
from tests.personas import _member, client_for

CONNECTIONS = "/platform/v2/workspaces/acme/connections"


@pytest.fixture
def second_admin(workspace):
    return _member(workspace, "bob@acme.example", Role.ADMIN)


@pytest.fixture
def issued(workspace, second_admin):
    return create_credential(workspace, name="nightly export", role=Role.ADMIN, user=second_admin)


def _works(api: ApiClient) -> bool:
    return api.get(CONNECTIONS).status_code == 200


def _token(issued):
    body = {"client_id": issued.credential.client_id, "client_secret": issued.client_secret}
    body["grant_type"] = "client_credentials"
    return Client().post("/oauth/token", json.dumps(body), content_type="application/json")


def _token_status(issued) -> int:
    return _token(issued).status_code


def test_it_revokes_a_credential_when_its_creator_leaves_the_workspace(
    workspace, admin, second_admin, issued
):
    api = ApiClient(token_for(issued.credential.client_id, issued.client_secret))
    assert _works(api)
    client_for(admin).post(f"/w/acme/settings/members/{Membership.objects.get(user=second_admin).pk}/remove/")
    assert not _works(api)
    assert _token_status(issued) == 401
    issued.credential.refresh_from_db()
    assert issued.credential.revoked
    entry = AuditEntry.objects.get(action="revoke API credential")
    assert "bob@acme.example left the workspace" in entry.target and entry.actor_label == "alice@acme.example"


def test_it_revokes_a_credential_when_its_creator_is_no_longer_an_admin(
    workspace, admin, second_admin, issued
):
    api = ApiClient(token_for(issued.credential.client_id, issued.client_secret))
    membership = Membership.objects.get(user=second_admin)
    client_for(admin).post(f"/w/acme/settings/members/{membership.pk}/role/", {"role": "editor"})
    assert not _works(api)
    assert "is no longer an admin" in AuditEntry.objects.get(action="revoke API credential").target


def test_it_stops_a_credential_whose_creator_lost_the_role_outside_the_members_page(
    workspace, second_admin, issued
):
    api = ApiClient(token_for(issued.credential.client_id, issued.client_secret))
    Membership.objects.filter(user=second_admin).update(role=Role.VIEWER)  # e.g. from the shell
    assert not _works(api)
    response = _token(issued)
    assert response.status_code == 401
    assert (
        "no longer an admin of the workspace. An admin can take it over"
        in response.json()["errors"][0]["message"]
    )


def test_it_keeps_a_credential_another_admin_took_over(workspace, admin, second_admin, issued):
    api = ApiClient(token_for(issued.credential.client_id, issued.client_secret))
    response = client_for(admin).post(f"/w/acme/settings/api/{issued.credential.pk}/take-over/")
    assert response.status_code == 302
    members.remove_member(Membership.objects.get(user=second_admin), admin)
    assert _works(api)
    entry = AuditEntry.objects.get(action="take over API credential")
    assert entry.changes == {"created_by": ["bob@acme.example", "alice@acme.example"]}


def test_it_lets_only_admins_take_over_a_credential(workspace, editor, issued):
    response = client_for(editor).post(f"/w/acme/settings/api/{issued.credential.pk}/take-over/")
    assert response.status_code == 403


def test_it_never_lets_a_browser_keep_the_page_with_a_new_secret(workspace, admin):
    response = client_for(admin).post("/w/acme/settings/api/", {"name": "script", "role": "viewer"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_it_revokes_a_credential_when_its_creator_is_deleted(workspace, second_admin, issued):
    api = ApiClient(token_for(issued.credential.client_id, issued.client_secret))
    second_admin.delete()  # created_by becomes NULL, the mark of an operator's credential
    assert not _works(api)
    assert _token_status(issued) == 401
    assert "bob@acme.example was deleted" in AuditEntry.objects.get(action="revoke API credential").target
