"""Wall time and peak resident memory of one benchmark step (RSS sampled every 50 ms)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
    started, cpu = time.perf_counter(), time.process_time()
    rows = step()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    done.set()
    sampler.join()
    return {
        "name": name,
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds if seconds else 0,
        "peak_rss_mb": peak[0] / 2**20,
        "cpu_seconds": cpu_seconds,
        **extra,
    }
