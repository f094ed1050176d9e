"""Wall time and peak resident memory of one benchmark step (RSS sampled every 50 ms)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psutil


def measure(name: str, step: Callable[[], int], **extra: Any) -> dict[str, Any]:
    """Run step() (which returns a row count) and return name, rows, seconds, rows/s and peak RSS in MB."""
    process, peak, done = psutil.Process(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    rows = step()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {
        "name": name,
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds if seconds else 0,
        "peak_rss_mb": peak[0] / 2**20,
        **extra,
    }
