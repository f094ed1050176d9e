"""Settings come from the environment; production mode refuses to start without its secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("WSYNC_", "SECRET_KEY", "DATABASE_URL"))
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="wsync_site.settings")
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_in_production_without_a_secret_key(tmp_path):
    result = _start({"WSYNC_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert not list(tmp_path.glob(".secret_key"))


def test_it_refuses_to_start_in_production_without_fernet_keys(tmp_path):
    result = _start({"WSYNC_DATA_DIR": str(tmp_path), "SECRET_KEY": "x" * 50})
    assert result.returncode != 0
    assert "WSYNC_FERNET_KEYS is not set" in result.stderr


def test_it_starts_in_development_mode_with_generated_local_secrets(tmp_path):
    result = _start({"WSYNC_DATA_DIR": str(tmp_path), "WSYNC_DEV": "1"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".wsync_fernet_keys").exists()


def test_it_reads_secrets_from_files(tmp_path):
    (tmp_path / "key").write_text("k" * 50)
    from cryptography.fernet import Fernet

    (tmp_path / "fernet").write_text(Fernet.generate_key().decode())
    env = {"WSYNC_DATA_DIR": str(tmp_path), "SECRET_KEY_FILE": str(tmp_path / "key")}
    env["WSYNC_FERNET_KEYS_FILE"] = str(tmp_path / "fernet")
    assert _start(env).returncode == 0


def test_postgres_connections_run_without_jit():
    # The store's index probes cost enough to trigger JIT, which compiled each for ~140 ms.
    from wsync_site.settings import database_from_url

    database = database_from_url("postgres://u@db.example:5432/wsync?options=-c%20statement_timeout%3D5000")
    assert database["OPTIONS"]["options"].split() == ["-c", "statement_timeout=5000", "-c", "jit=off"]
    assert "options" not in database_from_url("sqlite:////tmp/x.sqlite3").get("OPTIONS", {})


@pytest.mark.django_db
def test_the_embedded_store_syncs_every_commit_to_disk():
    # WAL with synchronous=FULL: a committed page survives a power loss, not only a crash (docs/store.md).
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the embedded store's setting")
    with connection.cursor() as cursor:
        modes = [cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in ("journal_mode", "synchronous")]
    assert modes[1] == 2 and modes[0] in ("wal", "memory")  # 2 is FULL; the test database may live in memory
