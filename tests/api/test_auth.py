"""OAuth client credentials: tokens, revocation, workspace and role limits, rate limit, error shape."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from feeds.accounts.models import Role
from feeds.api.credentials import create_credential, digest, revoke_credential
from feeds.api.models import AccessToken, ApiCredential
from tests.api.conftest import API, ApiClient, token_for


def _token_request(body: dict) -> object:
    return Client().post("/oauth/token", json.dumps(body), content_type="application/json")


def test_it_issues_a_bearer_token_for_client_credentials(workspace, admin):
    issued = create_credential(workspace, name="script", role=Role.VIEWER, user=admin)
    response = _token_request(
        {
            "client_id": issued.credential.client_id,
            "client_secret": issued.client_secret,
            "audience": "https://api.mparticle.com",
            "grant_type": "client_credentials",
        }
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 28800
    token = AccessToken.objects.get()
    assert token.token_hash == digest(body["access_token"])  # only the hash is stored
    assert ApiCredential.objects.get().secret_hash == digest(issued.client_secret)
    assert issued.client_secret not in str(list(ApiCredential.objects.values()))


@pytest.mark.parametrize(
    "change", [{"client_secret": "wrong"}, {"client_id": "wsc_nope"}, {"grant_type": "password"}]
)
def test_it_refuses_a_token_for_wrong_credentials(workspace, admin, change):
    issued = create_credential(workspace, name="script", role=Role.VIEWER, user=admin)
    body = {
        "client_id": issued.credential.client_id,
        "client_secret": issued.client_secret,
        "grant_type": "client_credentials",
    }
    response = _token_request({**body, **change})
    assert response.status_code == 401
    assert response.json()["statusCode"] == 401
    assert response.json()["errors"][0]["code"] == "invalid_client"
    assert not AccessToken.objects.exists()


def test_it_answers_401_without_a_valid_token(api_connection):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        response = Client().get(f"{API}/connections", headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "statusCode": 401,
            "errors": [{"code": "unauthorized", "message": response.json()["errors"][0]["message"]}],
        }
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_stops_tokens_when_the_credential_is_revoked(workspace, admin, api_connection):
    issued = create_credential(workspace, name="script", role=Role.VIEWER, user=admin)
    client = ApiClient(token_for(issued.credential.client_id, issued.client_secret))
    assert client.get("connections").status_code == 200
    revoke_credential(issued.credential, admin)
    assert client.get("connections").status_code == 401
    refused = _token_request(
        {
            "client_id": issued.credential.client_id,
            "client_secret": issued.client_secret,
            "grant_type": "client_credentials",
        }
    )
    assert refused.status_code == 401


def test_it_stops_expired_tokens(api):
    assert api.get("connections").status_code == 200
    AccessToken.objects.update(expires_on=timezone.now() - timedelta(seconds=1))
    assert api.get("connections").status_code == 401


def test_it_hides_other_workspaces_behind_404(api_as, other_workspace, outsider, api_connection):
    outsider_api = api_as(Role.ADMIN, ws=other_workspace)
    mine = outsider_api.get("/platform/v2/workspaces/other/connections/demo")
    theirs = outsider_api.get(f"{API}/connections/demo")
    missing = outsider_api.get("/platform/v2/workspaces/nowhere/connections")
    assert mine.status_code == theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()  # never a hint that “acme” exists
    assert outsider_api.get("/platform/v2/workspaces/other/connections").json() == []


def test_it_lets_viewers_read_but_not_write(api_as, api_connection, demo_file):
    viewer = api_as(Role.VIEWER)
    assert viewer.get("connections/demo").status_code == 200
    response = viewer.put("connections/demo", {**api_connection, "name": "Renamed"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "forbidden"
    assert "Editor role" in response.json()["errors"][0]["message"]


def test_it_lets_editors_write_but_only_admins_delete(api_as, api_connection):
    editor = api_as(Role.EDITOR)
    assert editor.put("connections/demo", {**api_connection, "name": "Renamed"}).status_code == 200
    assert editor.delete("connections/demo").status_code == 403
    assert api_as(Role.ADMIN).delete("connections/demo").status_code == 204


def test_it_answers_429_with_retry_after_past_the_rate_limit(api, api_as, settings):
    settings.WSYNC_API_RATE_LIMIT = 3
    other = api_as(Role.VIEWER)  # its own counter
    statuses = [api.get("connections").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.get("connections")
    assert limited.json()["statusCode"] == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert other.get("connections").status_code == 200


def test_it_answers_unknown_addresses_and_methods_in_the_error_shape(api):
    missing = api.get("/platform/v2/workspaces/acme/nothing-here")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["errors"][0]["code"] == "not_found"
    assert api.get("/oauth/nothing").status_code == 404
    wrong = api.call("PATCH", "connections")
    assert wrong.status_code == 405 and wrong.json()["statusCode"] == 405
    assert "GET" in wrong["Allow"]
    assert Client().get("/oauth/token").status_code == 405


def test_it_answers_bad_json_with_400(api):
    response = api.client.post(
        f"{API}/connections", "{not json", content_type="application/json", headers=api.headers
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_json"


def test_it_answers_500_in_the_error_shape_without_details(api, monkeypatch):
    from feeds.api.views import connections

    def explode(*args, **kwargs):
        raise RuntimeError("secret-detail")

    monkeypatch.setattr(connections.Connection.objects, "filter", explode)
    response = api.get("connections")
    assert response.status_code == 500
    assert response.json()["statusCode"] == 500
    assert "secret-detail" not in response.content.decode()


def test_the_command_prints_a_working_credential(workspace, api_connection):
    out = io.StringIO()
    call_command("create_api_credential", "--workspace", "acme", "--role", "viewer", stdout=out)
    lines = dict(line.split(": ", 1) for line in out.getvalue().splitlines() if ": " in line)
    client = ApiClient(token_for(lines["client_id"], lines["client_secret"]))
    assert client.get("connections").status_code == 200
    assert ApiCredential.objects.get(client_id=lines["client_id"]).role == Role.VIEWER


def test_it_answers_429_on_the_token_endpoint_past_the_rate_limit(workspace, admin, settings):
    settings.WSYNC_API_RATE_LIMIT = 2
    issued = create_credential(workspace, name="script", role=Role.VIEWER, user=admin)
    body = {
        "client_id": issued.credential.client_id,
        "client_secret": issued.client_secret,
        "grant_type": "client_credentials",
    }
    statuses = [_token_request(body).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = _token_request({**body, "client_secret": "guess"})
    assert limited.status_code == 429 and limited.json()["errors"][0]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert AccessToken.objects.count() == 2
