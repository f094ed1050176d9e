"""Telling whether the process that owns a run is gone, on the owner's own host."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from feeds.sync import workers


def identity(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{workers._start_time(pid)}"


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_it_sees_a_running_worker_as_alive_and_a_killed_one_as_gone_even_before_it_is_reaped():
    child = subprocess.Popen(["sleep", "600"])
    try:
        owner = identity(child.pid)
        assert not workers.is_gone(owner)
        child.send_signal(signal.SIGKILL)
        # Not reaped yet: the process lingers as a zombie, as a killed worker does until init collects it.
        deadline = time.monotonic() + 30
        while state(child.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state(child.pid) == "Z"
        assert workers.is_gone(owner)
    finally:
        child.kill()
        child.wait()
    assert workers.is_gone(owner)


def test_it_leaves_another_hosts_worker_to_the_heartbeat():
    assert not workers.is_gone("some-other-host:1:1")
