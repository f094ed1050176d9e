"""Helpers for the tests that drive a real django-q2 `qcluster` (and a real `runserver`) in subprocesses.

The processes share one database with the drivers (`python -m tests.sync.<driver>`): a SQLite file in the
test's folder, or a fresh PostgreSQL database when DATABASE_URL points at PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cluster_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a cluster on its own database: a SQLite file, or a fresh PostgreSQL database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.sync.cluster_settings",
        # The data folder (keys, database) sits beside the warehouses' folder, never under a DuckDB root.
        "WSYNC_DATA_DIR": str(tmp_path.with_name(f"{tmp_path.name}-data")),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "WSYNC_DUCKDB_ROOTS": str(tmp_path),
    }
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        env.pop("DATABASE_URL", None)
        yield env
        return
    import psycopg

    name = f"wsync_cluster_{os.getpid()}"
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    yield env
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True, capture_output=True)


def drive(env: dict[str, str], *args: Any, module: str = "tests.sync.cluster_driver") -> dict:
    """Run one driver command in its own process and return the JSON it printed last."""
    out = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def users_feed(env: dict[str, str], folder: Path, rows: int, mode: str = "incremental") -> tuple[Path, int]:
    """Migrate the cluster's database and set up a feed over `rows` users; return the DuckDB file and feed id."""
    manage(env, "migrate", "--noinput")
    duck = folder / "warehouse.duckdb"
    return duck, drive(env, "setup", duck, rows, mode)["feed"]


def start(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """Start `manage.py <args>` in its own process group, its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_cluster(env: dict[str, str], log: Path) -> subprocess.Popen:
    return start(env, log, "qcluster")


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the process and every process it started (the cluster's workers too)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds (a generous bound)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
