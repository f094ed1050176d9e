"""A saved secret goes only where it was saved: change the host, port, user... and it must be typed again.

"Never sent" is proved with a fake PostgreSQL server on 127.0.0.1 that records every connection and every
password it receives: the refusal comes before any connection, so it sees nothing. Every way an editor
can point a saved connection elsewhere is covered: the wizard's Save, its Test connection, and the API.
"""

from __future__ import annotations

import pytest

from feeds import wizard
from feeds.accounts.models import Role
from feeds.api.credentials import create_credential
from feeds.models import AuditEntry, Connection
from feeds.warehouses.base import ConfigField, rebound_secrets
from tests.api.conftest import ApiClient, token_for
from tests.personas import client_for

HTMX = {"HTTP_HX_REQUEST": "true"}
MASK = "************"


@pytest.fixture
def saved(workspace, editor, pg_database) -> Connection:
    """A PostgreSQL connection saved with its password, pointing at the real stand-in server."""
    return wizard.save_connection(
        workspace,
        connection=None,
        provider="postgres",
        name="CRM",
        config={
            "host": "127.0.0.1",
            "port": pg_database.cluster.port,
            "database": pg_database.database,
            "user": pg_database.user,
        },
        secrets={"password": pg_database.password},
        user=editor,
    )


@pytest.fixture
def feed(workspace, editor, saved):
    return wizard.create_draft(workspace, "CRM feed", saved, editor)


def form_data(connection: Connection, **changes: object) -> dict[str, object]:
    """The Connect form as the page fills it for `connection` (password left empty), with changes."""
    data: dict[str, object] = {
        "feed_name": "CRM feed",
        "connection": str(connection.pk),
        "name": connection.name,
    }
    data.update({f"cfg_{k}": v for k, v in connection.config.items() if v not in (None, False)})
    data.update({f"cfg_{k}": v for k, v in changes.items()})
    return data


@pytest.fixture
def editor_api(workspace, admin) -> ApiClient:
    issued = create_credential(workspace, name="editor script", role=Role.EDITOR, user=admin)
    return ApiClient(token_for(issued.credential.client_id, issued.client_secret))


# The fake server is on another port of the same host: a port change must be enough. Turning TLS off too
# is what an attacker would do to read the password, and is a change of its own.
ATTACKS = [
    pytest.param({}, id="port"),
    pytest.param({"allow_unencrypted": "on"}, id="port-and-no-tls"),
]


@pytest.mark.parametrize("extra", ATTACKS)
def test_test_connection_asks_for_the_password_again_and_sends_nothing(
    editor, feed, saved, fake_postgres, extra
):
    data = form_data(saved, port=fake_postgres.port, **extra)
    html = (
        client_for(editor)
        .post(f"/w/acme/feeds/{feed.pk}/setup/connect/test/postgres/", data, **HTMX)
        .content.decode()
    )
    assert "Type the password again" in html and "Port" in html
    assert fake_postgres.connections == 0 and fake_postgres.passwords == []


@pytest.mark.parametrize("extra", ATTACKS)
def test_saving_the_wizard_step_asks_for_the_password_again_and_sends_nothing(
    editor, feed, saved, fake_postgres, extra
):
    data = form_data(saved, port=fake_postgres.port, **extra)
    html = client_for(editor).post(f"/w/acme/feeds/{feed.pk}/setup/connect/", data).content.decode()
    assert "Type the password again" in html
    assert fake_postgres.connections == 0
    saved.refresh_from_db()
    assert saved.config["port"] != fake_postgres.port


def test_a_changed_user_or_host_name_needs_the_password_too(editor, feed, saved):
    client = client_for(editor)
    for change in ({"user": "someone_else"}, {"host": "localhost"}):
        data = form_data(saved, **change)
        html = client.post(
            f"/w/acme/feeds/{feed.pk}/setup/connect/test/postgres/", data, **HTMX
        ).content.decode()
        assert "Type the password again" in html, change


def test_test_connection_keeps_the_saved_password_where_nothing_moved(editor, feed, saved):
    data = form_data(saved, database=saved.config["database"])
    html = (
        client_for(editor)
        .post(f"/w/acme/feeds/{feed.pk}/setup/connect/test/postgres/", data, **HTMX)
        .content.decode()
    )
    assert "Connected to PostgreSQL" in html


def test_test_connection_goes_to_a_new_host_with_a_password_typed_again(editor, feed, saved, fake_postgres):
    data = form_data(saved, port=fake_postgres.port, allow_unencrypted="on", password="typed-again")
    client_for(editor).post(f"/w/acme/feeds/{feed.pk}/setup/connect/test/postgres/", data, **HTMX)
    assert fake_postgres.passwords == ["typed-again"]


@pytest.mark.parametrize("password", [MASK, "", None])
def test_the_api_refuses_the_mask_for_a_moved_connection_and_sends_nothing(
    editor_api, saved, fake_postgres, password
):
    body = editor_api.get(f"connections/{saved.slug}").json()
    assert body["config"]["password"] == MASK
    body["config"]["port"] = fake_postgres.port
    if password is None:
        del body["config"]["password"]
    else:
        body["config"]["password"] = password
    response = editor_api.put(f"connections/{saved.slug}", body)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "config.password" and "Type the password again" in error["message"]
    assert fake_postgres.connections == 0
    saved.refresh_from_db()
    assert saved.config["port"] != fake_postgres.port


def test_the_api_accepts_the_mask_while_the_destination_is_unchanged(editor_api, saved):
    body = editor_api.get(f"connections/{saved.slug}").json()
    response = editor_api.put(f"connections/{saved.slug}", {**body, "name": "CRM (renamed)"})
    assert response.status_code == 200, response.content


def test_test_connection_is_audited_with_who_where_outcome_and_address(editor, feed, saved, fake_postgres):
    client = client_for(editor)
    client.post(f"/w/acme/feeds/{feed.pk}/setup/connect/test/postgres/", form_data(saved), **HTMX)
    data = form_data(saved, port=fake_postgres.port)
    client.post(
        f"/w/acme/feeds/{feed.pk}/setup/connect/test/postgres/", data, REMOTE_ADDR="203.0.113.9", **HTMX
    )
    first, second = AuditEntry.objects.filter(action="test connection").order_by("pk")
    assert first.actor == editor and first.target == "CRM" and first.changes["outcome"] == [None, "connected"]
    assert first.changes["host"] == [None, "127.0.0.1"]
    assert second.changes["port"] == [None, str(fake_postgres.port)]
    assert second.changes["outcome"] == [None, "not tried: the form has errors"]
    assert second.ip_address == "203.0.113.9"


def test_every_provider_declares_where_its_secrets_go():
    from feeds.warehouses.registry import PROVIDERS, provider_class

    for kind in PROVIDERS:
        fields = provider_class(kind).fields
        if any(f.secret for f in fields):
            assert any(f.binds_secrets for f in fields), kind


def test_the_rule_fills_in_defaults_before_comparing():
    fields = (
        ConfigField("host", "Host", binds_secrets=True),
        ConfigField("port", "Port", kind="integer", default=5432, binds_secrets=True),
        ConfigField("password", "Password", secret=True),
    )
    same = rebound_secrets(fields, {"host": "db", "port": 5432}, {"host": "db ", "port": None}, ["password"])
    moved = rebound_secrets(
        fields, {"host": "db", "port": 5432}, {"host": "db", "port": "6543"}, ["password"]
    )
    assert same == {} and "Port changed" in moved["password"]
