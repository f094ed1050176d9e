"""Settings › API credentials: admins create (secret shown once) and revoke; nobody else gets in."""

from __future__ import annotations

import re

from feeds.api.models import ApiCredential
from tests.api.conftest import ApiClient, token_for
from tests.personas import client_for

URL = "/w/acme/settings/api/"


def test_it_shows_the_secret_once_and_it_works(admin, api_connection):
    client = client_for(admin)
    response = client.post(URL, {"name": "Nightly export", "role": "editor"})
    assert response.status_code == 200
    html = response.content.decode()
    client_id = re.search(r"<code>(wsc_[0-9a-f]+)</code>", html).group(1)
    secret = re.search(r"Client secret</dt><dd class=\"col-sm-9\"><code>([^<]+)</code>", html).group(1)
    credential = ApiCredential.objects.get(client_id=client_id)
    assert credential.role == "editor" and credential.created_by == admin
    assert ApiClient(token_for(client_id, secret)).get("connections").status_code == 200
    again = client.get(URL).content.decode()
    assert "Nightly export" in again and secret not in again


def test_it_revokes_a_credential_and_its_tokens(admin, api_connection):
    client = client_for(admin)
    html = client.post(URL, {"name": "Temp", "role": "viewer"}).content.decode()
    client_id = re.search(r"<code>(wsc_[0-9a-f]+)</code>", html).group(1)
    secret = re.search(r"Client secret</dt><dd class=\"col-sm-9\"><code>([^<]+)</code>", html).group(1)
    api = ApiClient(token_for(client_id, secret))
    credential = ApiCredential.objects.get(client_id=client_id)
    response = client.post(f"{URL}{credential.pk}/revoke/")
    assert response.status_code == 302
    assert api.get("connections").status_code == 401
    assert "Revoked" in client.get(URL).content.decode()


def test_it_is_for_admins_of_the_workspace_only(editor, outsider, admin):
    assert client_for(editor).get(URL).status_code == 403
    assert client_for(outsider).get(URL).status_code == 404
    credential = ApiCredential.objects.create(
        workspace=admin.memberships.get().workspace, name="x", client_id="wsc_x", secret_hash="0"
    )
    assert client_for(editor).post(f"{URL}{credential.pk}/revoke/").status_code == 403
    assert client_for(outsider).post(f"{URL}{credential.pk}/revoke/").status_code == 404
    assert not ApiCredential.objects.get(pk=credential.pk).revoked
