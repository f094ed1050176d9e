"""Management commands: create a workspace and its first admin; set up the demo."""

from __future__ import annotations

import io

from django.contrib.auth import authenticate
from django.core.management import call_command

from feeds.accounts.models import Membership, Role
from feeds.models import Connection
from feeds.warehouses.registry import open_warehouse


def test_it_creates_a_workspace_with_its_first_admin(db):
    out = io.StringIO()
    call_command("create_workspace", "acme", "--name", "Acme", "--admin", "Boss@Acme.example", stdout=out)
    password = out.getvalue().split("Password: ")[1].strip()
    membership = Membership.objects.get(workspace__slug="acme")
    assert membership.role == Role.ADMIN
    assert authenticate(username="boss@acme.example", password=password) == membership.user


def test_it_sets_up_the_demo_workspace_warehouse_and_connection(db, settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path / "warehouses")]
    monkeypatch.setenv("WSYNC_DEMO_PASSWORD", "demo-pass-123")
    call_command("demo", "--setup-only", stdout=io.StringIO())
    assert authenticate(username="demo@wsync.local", password="demo-pass-123") is not None
    connection = Connection.objects.get(workspace__slug="demo")
    assert connection.config["path"] == str(tmp_path / "warehouses" / "demo-warehouse.duckdb")
    warehouse = open_warehouse(connection.provider, connection.warehouse_config())
    assert warehouse.check().ok
    assert warehouse.preview("SELECT count(*) AS n FROM users", 1).rows == [(5000,)]
