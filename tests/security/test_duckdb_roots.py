"""The folders DuckDB files may be opened from never hold wsync's own keys or database."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from feeds.connect.checks import duckdb_roots
from feeds.demo import write_demo_warehouse
from feeds.models import Connection
from feeds.warehouses.base import WarehouseError
from feeds.warehouses.duckdb import DuckDBWarehouse


def test_the_default_root_is_a_warehouses_folder_inside_the_data_folder():
    # test_settings sets WSYNC_DATA_DIR but not WSYNC_DUCKDB_ROOTS: this is the shipped default.
    assert [str(Path(django_settings.DATA_DIR) / "warehouses")] == django_settings.WSYNC_DUCKDB_ROOTS
    assert duckdb_roots() == []


@pytest.mark.parametrize("where", ["data folder", "its parent"])
def test_a_root_holding_the_keys_is_refused_everywhere(settings, where):
    data = Path(settings.DATA_DIR)
    root = data if where == "data folder" else data.parent
    settings.WSYNC_DUCKDB_ROOTS = [str(root)]
    warehouse = write_demo_warehouse(data / "inside.duckdb", users=2, events=2)
    try:
        (error,) = duckdb_roots()
        assert error.id == "wsync.E101" and "WSYNC_DUCKDB_ROOTS" in error.msg and "warehouses" in error.msg
        problems = DuckDBWarehouse.validate_config({"path": str(warehouse)})
        assert "keys or database" in problems["path"]
        result = DuckDBWarehouse({"path": str(warehouse)}).check()
        assert not result.ok and result.field == "path" and "WSYNC_DUCKDB_ROOTS" in result.message
    finally:
        warehouse.unlink()


def test_a_file_outside_the_roots_is_refused_when_opened_not_only_when_saved(settings, tmp_path):
    warehouse = write_demo_warehouse(tmp_path / "old.duckdb", users=2, events=2)
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path / "warehouses")]
    with pytest.raises(WarehouseError) as raised:
        DuckDBWarehouse({"path": str(warehouse)}).preview("SELECT * FROM users", 1)
    assert raised.value.field == "path" and "Move the file there" in raised.value.message


def test_manage_check_fails_on_a_root_holding_the_keys(tmp_path):
    env = {**os.environ, "WSYNC_DATA_DIR": str(tmp_path), "WSYNC_DUCKDB_ROOTS": str(tmp_path)}
    env["DJANGO_SETTINGS_MODULE"] = "wsync_site.test_settings"
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "wsync.E101" in done.stderr


def test_the_demo_moves_an_old_warehouse_out_of_the_data_folder(db, settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path / "warehouses")]
    monkeypatch.setenv("WSYNC_DEMO_PASSWORD", "demo-pass-123")
    old = write_demo_warehouse(tmp_path / "demo-warehouse.duckdb", users=7, events=3)
    call_command("demo", "--setup-only", stdout=io.StringIO())  # creates the connection, moves the file
    connection = Connection.objects.get(workspace__slug="demo")
    new = tmp_path / "warehouses" / "demo-warehouse.duckdb"
    assert not old.exists() and new.exists()
    assert connection.config["path"] == str(new)
    assert DuckDBWarehouse(connection.config).preview("SELECT count(*) FROM users", 1).rows == [(7,)]


def test_an_upgrade_repoints_connections_to_the_moved_demo_warehouse(
    db, settings, tmp_path, monkeypatch, workspace
):
    settings.DATA_DIR = tmp_path
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path / "warehouses")]
    monkeypatch.setenv("WSYNC_DEMO_PASSWORD", "demo-pass-123")
    old = write_demo_warehouse(tmp_path / "demo-warehouse.duckdb", users=7, events=3)
    # A connection an older wsync saved, pointing into the data folder.
    saved = Connection.objects.create(
        workspace=workspace, slug="old", name="Old demo", provider="duckdb", config={"path": str(old)}
    )
    out = io.StringIO()
    call_command("demo", "--setup-only", stdout=out)
    saved.refresh_from_db()
    assert saved.config["path"] == str(tmp_path / "warehouses" / "demo-warehouse.duckdb")
    assert "Moved the demo warehouse" in out.getvalue()


def test_a_root_holding_a_key_file_given_by_path_is_refused(settings, tmp_path, monkeypatch):
    keys = tmp_path / "secrets" / "fernet"
    keys.parent.mkdir()
    keys.write_text("not a real key")
    monkeypatch.setenv("WSYNC_FERNET_KEYS_FILE", str(keys))
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path)]
    (error,) = duckdb_roots()
    assert str(keys) in error.msg
