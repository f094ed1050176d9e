"""Delta Sharing stand-in: fixture Delta tables plus a small server speaking the open sharing protocol.

The tables are built once per session by tests/standins/delta_tables.py in a subprocess (deltalake
can abort at interpreter exit); the server (tests/standins/delta_sharing_server.py) runs as a
subprocess on a free 127.0.0.1 port and is stopped by its PID. The tables are only read, so the
tests share them; each test picks its table through the data model text.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20
# Databricks endpoints carry a path (…/api/2.0/delta-sharing/metastores/<id>); so does the stand-in's.
PREFIX = "/api/2.0/delta-sharing/metastores/wsync-test"


@dataclass(frozen=True)
class DeltaSharingStandin:
    endpoint: str
    token: str
    root: Path
    pid: int = 0
    share: str = "wsync_share"
    schema: str = "crm"

    def profile_text(self, **overrides: Any) -> str:
        """The recipient's activation profile (.share file) as Databricks hands it out."""
        profile = {"shareCredentialsVersion": 1, "endpoint": self.endpoint, "bearerToken": self.token}
        profile.update(overrides)
        return json.dumps(profile)

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A provider config using the uploaded profile file."""
        config: dict[str, Any] = {
            "provider": self.share,
            "schema": self.schema,
            "profile_file": self.profile_text(),
        }
        config.update(overrides)
        return config


@pytest.fixture(scope="session")
def delta_tables_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("delta-tables")
    result = subprocess.run(
        [sys.executable, "-m", "tests.standins.delta_tables", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0 or "built" not in result.stdout:
        pytest.fail(f"Building the Delta fixture tables failed (rc {result.returncode}):\n{result.stderr}")
    return root


def _wait_until_ready(endpoint: str, token: str, process: subprocess.Popen[str]) -> None:
    request = urllib.request.Request(f"{endpoint}/shares", headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    pytest.fail(f"The Delta Sharing stand-in did not answer at {endpoint} (exit code {process.poll()}).")


def _read_port(process: subprocess.Popen[str], log: Path) -> int:
    assert process.stdout is not None
    line = process.stdout.readline().strip()  # the server prints its port first, then nothing more
    if not line.isdigit():
        process.kill()
        process.wait()
        # CI keeps only pytest's output, so the server's own words go into the failure
        pytest.fail(
            f"The Delta Sharing stand-in did not start (exit code {process.returncode}, printed {line!r}):\n"
            + log.read_text()[-2000:]
        )
    return int(line)


@contextlib.contextmanager
def running_standin(root: Path) -> Iterator[DeltaSharingStandin]:
    """The sharing server over the Delta tables under `root`, stopped by its PID on leaving (tests and bench)."""
    token = secrets.token_urlsafe(24)
    command = [sys.executable, "-m", "tests.standins.delta_sharing_server", "--root", str(root)]
    log_path = root.parent / "delta-sharing-server.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        # "=" keeps a token that starts with "-" (1 in 64) from being read as an option
        [*command, f"--token={token}", f"--prefix={PREFIX}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=log,  # a file, not a pipe nobody reads, so a chatty server never blocks
        text=True,
    )
    try:
        endpoint = f"http://127.0.0.1:{_read_port(process, log_path)}{PREFIX}"
        _wait_until_ready(endpoint, token, process)
        yield DeltaSharingStandin(endpoint=endpoint, token=token, root=root, pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def delta_sharing(delta_tables_root: Path) -> Iterator[DeltaSharingStandin]:
    with running_standin(delta_tables_root) as standin:
        yield standin
