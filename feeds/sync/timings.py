"""Where a run's time goes (SyncRun.timings): each second counted under exactly one step.

Steps nest: a step timed inside another (fingerprints inside map) is taken off the outer one, and so are
seconds measured elsewhere and handed in with `count` (the store's resolve time inside write). The steps
therefore add up to the run's wall time spent in them, which the bench's "where the time goes" relies on.
Steps "… ahead" are the exception: the look-ahead thread's seconds (docs/sync.md), overlapping the others.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
_END = object()


def timed(items: Iterator[T], timings: Timings, name: str) -> Iterator[T]:
    """Yield the items, counting the time spent getting each under `name`; closing closes `items`."""
    try:
        while True:
            with timings.step(name):
                item = next(items, _END)
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


class Timings(dict[str, float]):
    """Seconds per step, with the steps now open (innermost last)."""

    def __init__(self) -> None:
        super().__init__()
        self._inner: list[float] = []  # per open step: seconds already counted under other steps

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Count the time spent in the block under `name`, less what nested steps count."""
        started = time.perf_counter()
        self._inner.append(0.0)
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            inner = self._inner.pop()
            self[name] = self.get(name, 0.0) + spent - inner
            if self._inner:
                self._inner[-1] += spent

    def count(self, name: str, seconds: float) -> None:
        """Count `seconds` measured elsewhere, inside the open step, under `name` instead."""
        self[name] = self.get(name, 0.0) + seconds
        if self._inner:
            self._inner[-1] += seconds

    def add(self, seconds: dict[str, float], *, ahead: bool) -> None:
        """Add a page's read and map seconds: as spent in this thread, or as spent ahead (reported apart:
        they overlapped other steps, so they are not part of this thread's wall time)."""
        for name, spent in seconds.items():
            if ahead:
                self[f"{name} ahead"] = self.get(f"{name} ahead", 0.0) + spent
            else:
                self.count(name, spent)

    def take(self) -> dict[str, float]:
        """Return the seconds counted so far and start again from none (steps must be closed)."""
        taken = dict(self)
        self.clear()
        return taken

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.items()}
