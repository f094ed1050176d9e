"""`manage.py demo` serves through gunicorn with a worker beside it, and Ctrl-C or SIGTERM stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.sync.cluster import ROOT, free_port, wait_for


def get(url: str) -> tuple[int, dict[str, str], bytes] | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
    except OSError:
        return None  # not listening yet


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "WSYNC_REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        WSYNC_DEV="1",
        WSYNC_DATA_DIR=str(tmp_path / "data"),
        WSYNC_DUCKDB_ROOTS=str(tmp_path / "warehouses"),
        WSYNC_DEMO_PASSWORD="demo-pass-123",
        WSYNC_WEB_WORKERS="1",
        WSYNC_WEB_THREADS="2",
    )
    return env


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_demo_serves_through_gunicorn_and_stops_cleanly(demo_env, tmp_path, stop_with):
    base = f"http://127.0.0.1:{free_port()}"
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "demo", "--addr", base.removeprefix("http://")],
            env=demo_env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # Healthy means the web server answers and the worker and scheduler have both beaten.
        status, headers, body = wait_for(
            lambda: (answer := get(f"{base}/healthz")) and answer[0] == 200 and answer,
            180,
            "the demo to be healthy",
        )
        assert headers["Server"].startswith("gunicorn"), headers
        static = get(f"{base}/static/js/wsync.js")
        assert static is not None and static[0] == 200  # WhiteNoise serves static files under gunicorn
        children = psutil.Process(demo.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "gunicorn" in names and "qcluster" in names

        demo.send_signal(stop_with)
        assert demo.wait(timeout=60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    output = log.read_text()
    assert "wsync stopped." in output, output[-3000:]  # none had to be killed after the grace period
    alive = [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
