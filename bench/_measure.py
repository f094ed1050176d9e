"""Wall time and peak resident memory of one benchmark step (RSS sampled every 50 ms)."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil


def measure(name: str, step: Callable[[], int], **extra: Any) -> dict[str, Any]:
    """Run step() (which returns a row count); return name, rows, seconds, rows/s, peak RSS in MB and CPU seconds.

    CPU seconds are this process's (user + system): on a shared machine they stay comparable when the wall
    time does not. Work done by another process (a database server) is not in them.
    """
    process, peak, done = psutil.Process(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started, cpu, written = time.perf_counter(), time.process_time(), _bytes_written()
    rows = step()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    written = _bytes_written() - written
    done.set()
    sampler.join()
    return {
        "name": name,
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds if seconds else 0,
        "peak_rss_mb": peak[0] / 2**20,
        "cpu_seconds": cpu_seconds,
        "written_mb": written / 2**20,
        **extra,
    }


def _bytes_written() -> int:
    """Bytes this process has handed to write() so far (`wchar`): a SQLite store's writes, WAL and checkpoints."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process on this machine has used so far, such as a PostgreSQL backend.

    The store's server does much of a load's work; its backend's CPU stays comparable when wall time does not.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase_env(prefix: str, root: Path) -> dict[str, str]:
    """The environment of a phase process: wsync from `root`, a fresh data folder, the embedded SQLite store."""
    env = {
        **os.environ,
        "WSYNC_DEV": "1",
        "WSYNC_ALLOW_PRIVATE_HOSTS": "1",
        "PYTHONPATH": str(root),
        "WSYNC_DATA_DIR": tempfile.mkdtemp(prefix=prefix),
        "WSYNC_LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)
    return env


def run_to_end(run: Any, name: str) -> int:
    """Execute a queued sync run in this process (Django set up); return the rows it read, or exit if it failed."""
    from feeds.sync import engine

    engine.run(run.pk)
    run.refresh_from_db()
    if run.state != "succeeded":
        raise SystemExit(f"{name}: {run.state}: {run.error}")
    return int(run.rows_read)
