"""Which process owns a run, and whether that process is gone; the heartbeat a running run sends.

A worker records itself as `host:pid:start` (start: the process's start time from /proc, so a pid
reused by a later process is not taken for the old one). A worker on the same host can then tell at
once that the owner of a run is gone (SIGKILL, OOM, a restarted container); a worker elsewhere relies
on the run's heartbeat going stale (WSYNC_STALE_RUN_SECONDS).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def _start_time(pid: int) -> str | None:
    """Return the process's start time in clock ticks since boot (Linux), "" elsewhere, None when gone (or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    fields = stat.rsplit(")", 1)[1].split()
    # A killed worker whose parent died with it stays a zombie until init reaps it, which some container
    # inits do late or never: it has stopped all the same.
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def this_worker() -> str:
    """Return this process's identity: host:pid:start."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or ''}"


def is_gone(worker: str) -> bool:
    """Return True when `worker` ran on this host and that process no longer exists."""
    host, _, rest = worker.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another host's process: only its heartbeat can tell
    pid = int(pid_text)
    if not Path("/proc").is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    now = _start_time(pid)
    return now is None or (bool(started) and now != started)


class Heartbeat:
    """A thread that calls `beat` every `every` seconds until stopped, independent of page commits.

    A page can take long (a slow warehouse query, a large write): the heartbeat keeps a run that is
    alive from being taken for dead.
    """

    def __init__(self, beat: Callable[[], None], every: float) -> None:
        self._beat, self._every = beat, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wsync-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(self._every):
                try:
                    self._beat()
                except Exception:  # a busy moment must not end the heartbeat; the next beat tries again
                    log.warning("heartbeat failed", exc_info=True)
        finally:
            connection.close()  # this thread's own database connection
