"""PostgreSQL and Redshift connections require TLS unless a local warehouse explicitly opts out (audited).

The PostgreSQL stand-in speaks TLS with a certificate from a throwaway CA; the fake server (and the
Redshift proxy) do not, and record whether a password arrived anyway.
"""

from __future__ import annotations

import pytest

from feeds import wizard
from feeds.accounts.models import Role
from feeds.api.credentials import create_credential
from feeds.models import AuditEntry
from feeds.warehouses.postgres import PostgresWarehouse
from feeds.warehouses.redshift import RedshiftWarehouse
from tests.api.conftest import ApiClient, token_for
from tests.personas import client_for
from tests.standins.postgres_fixtures import make_certificates

IN_TLS = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def fake_config(fake, **overrides):
    base = {"host": "127.0.0.1", "port": fake.port, "database": "d", "user": "u", "password": "the-secret"}
    return {**base, **overrides}


def test_postgres_runs_over_tls_by_default(pg_database):
    assert PostgresWarehouse(pg_database.config()).preview(IN_TLS, 1).rows == [(True,)]


def test_postgres_verifies_the_server_against_a_given_ca(pg_database):
    warehouse = PostgresWarehouse(pg_database.config(ssl_ca=pg_database.cluster.ca_pem))
    assert warehouse.preview(IN_TLS, 1).rows == [(True,)]


def test_postgres_refuses_a_server_whose_certificate_another_ca_signed(pg_database, tmp_path):
    other_ca, _, _ = make_certificates(tmp_path)
    result = PostgresWarehouse(pg_database.config(ssl_ca=other_ca)).check()
    assert not result.ok and result.field == "ssl_ca" and "could not be verified" in result.message


@pytest.mark.parametrize("legacy_mode", [None, "prefer", "disable", "allow"])
def test_postgres_sends_no_password_to_a_server_without_tls(fake_postgres, legacy_mode):
    config = fake_config(fake_postgres)
    if legacy_mode:
        config["sslmode"] = legacy_mode  # what older versions saved: read as "require" now
    result = PostgresWarehouse(config).check()
    assert not result.ok and result.field == "allow_unencrypted"
    assert "does not accept encrypted (TLS) connections" in result.message
    assert fake_postgres.passwords == []


def test_postgres_connects_without_tls_only_when_explicitly_allowed(fake_postgres):
    PostgresWarehouse(fake_config(fake_postgres, allow_unencrypted=True)).check()
    assert fake_postgres.passwords == ["the-secret"]


def test_redshift_refuses_a_server_without_tls_by_default(redshift_database):
    config = redshift_database.config()
    del config["allow_unencrypted"]
    result = RedshiftWarehouse(config).check()
    assert not result.ok and result.field == "allow_unencrypted"
    assert "does not accept encrypted (TLS) connections" in result.message


def test_redshift_reads_an_old_cleared_use_ssl_box_as_the_opt_out(redshift_database):
    config = redshift_database.config()
    del config["allow_unencrypted"]
    assert RedshiftWarehouse({**config, "ssl": False}).check().ok


def test_the_opt_out_is_audited_when_turned_on(workspace, admin, pg_database):
    issued = create_credential(workspace, name="script", role=Role.EDITOR, user=admin)
    api = ApiClient(token_for(issued.credential.client_id, issued.client_secret))
    body = {"id": "pg", "name": "PG", "service_provider": "PostgreSQL", "config": pg_database.config()}
    assert api.post("connections", body).status_code == 200
    assert not AuditEntry.objects.filter(action="allow unencrypted").exists()
    body["config"]["allow_unencrypted"] = True  # the password is typed again: a TLS change rebinds it
    assert api.put("connections/pg", body).status_code == 200
    entry = AuditEntry.objects.get(action="allow unencrypted")
    assert entry.target == "PG" and entry.changes["allow_unencrypted"] == [False, True]
    assert entry.actor_label == f"API credential script ({issued.credential.client_id})"  # not its creator


def test_turning_tls_off_needs_the_password_again(workspace, admin, pg_database):
    issued = create_credential(workspace, name="script", role=Role.EDITOR, user=admin)
    api = ApiClient(token_for(issued.credential.client_id, issued.client_secret))
    body = {"id": "pg", "name": "PG", "service_provider": "PostgreSQL", "config": pg_database.config()}
    saved = api.post("connections", body).json()
    response = api.put("connections/pg", {**saved, "config": {**saved["config"], "allow_unencrypted": True}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "config.password"


def test_the_wizard_offers_the_opt_out_unticked(workspace, editor):
    html = client_for(editor).get("/w/acme/feeds/new/postgres/").content.decode()
    assert "Allow unencrypted connection" in html and "TLS mode" in html
    assert 'name="cfg_allow_unencrypted" checked' not in html


def test_the_wizard_saves_the_opt_out_with_its_own_audit_entry(workspace, editor, pg_database):
    connection = wizard.save_connection(
        workspace,
        connection=None,
        provider="postgres",
        name="Local",
        config={**pg_database.config(), "allow_unencrypted": True},
        secrets={"password": pg_database.password},
        user=editor,
    )
    entry = AuditEntry.objects.get(action="allow unencrypted")
    assert entry.actor == editor and entry.target == connection.name
