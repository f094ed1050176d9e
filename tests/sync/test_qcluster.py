"""A real django-q2 cluster: SIGKILL it in the middle of a large sync, start it again, the store ends exact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = 200_000


@pytest.fixture
def cluster_env(tmp_path):
    """Environment for a cluster on its own database: a SQLite file, or a fresh PostgreSQL database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.sync.cluster_settings",
        "WSYNC_DATA_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        # A folder of its own: the data folder (keys, database) may never be a DuckDB root.
        "WSYNC_DUCKDB_ROOTS": str(tmp_path / "warehouses"),
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


def manage(env, *args):
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True, capture_output=True)


def drive(env, *args) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tests.sync.cluster_driver", *map(str, args)],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_cluster(env, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_it_ends_exact_after_the_cluster_is_killed_mid_sync(cluster_env, tmp_path):
    manage(cluster_env, "migrate", "--noinput")
    duck = tmp_path / "warehouses" / "warehouse.duckdb"
    duck.parent.mkdir()
    feed = drive(cluster_env, "setup", duck, ROWS)["feed"]
    log = tmp_path / "qcluster.log"
    cluster = start_cluster(cluster_env, log)
    try:
        run = drive(cluster_env, "run", feed)["run"]

        def a_quarter_done():
            status = drive(cluster_env, "status", run)
            assert status["state"] in ("queued", "running"), (status, log.read_text()[-3000:])
            return status if status["rows_read"] >= ROWS // 4 else None

        first = wait_for(a_quarter_done, 240, "a quarter of the rows")
        os.killpg(cluster.pid, signal.SIGKILL)  # every process of the cluster, mid-run
        cluster.wait()
        killed = drive(cluster_env, "status", run)
        assert killed["state"] == "running" and first["rows_read"] <= killed["rows_read"] < ROWS

        cluster = start_cluster(cluster_env, log)
        time.sleep(6)  # longer than WSYNC_STALE_RUN_SECONDS: the dead worker's run is taken over

        def finished():
            drive(cluster_env, "tick", feed)  # what the feed's django-q2 Schedule calls every minute
            status = drive(cluster_env, "status", run)
            return status if status["state"] in ("succeeded", "failed") else None

        done = wait_for(finished, 400, "the run to finish after the restart")
    finally:
        if cluster.poll() is None:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()
    assert done["state"] == "succeeded", (done, log.read_text()[-3000:])
    assert done["attempt"] == 2
    result = drive(cluster_env, "verify", duck)
    assert result == {"profiles": ROWS, "identities": 2 * ROWS, "expected": ROWS, "wrong": 0, "extra": 0}
