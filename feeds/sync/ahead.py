"""Preparing the next page (read and map) while the engine writes this one: one thread a run, one page ahead.

A page's write mostly waits: on PostgreSQL's server process, or inside SQLite's C library, and both release
the GIL while they work. A second thread that reads and maps the next page in that time puts the machine's
second core to work without a second process, so nothing is pickled between them and nothing can outlive
the worker: the thread is a daemon of the worker's process, and a killed worker takes it along.

Exactness does not depend on it: the thread never writes; the engine commits pages one by one, in order,
in its own thread, as before. A page prepared ahead of a page that fails or pauses the run is dropped.
The thread starts only once `ready()` says preparing touches nothing but memory (the first page is always
prepared in the caller's thread: it loads what a run needs from the database, e.g. the feed's fingerprints).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from django.db import connections

Item = TypeVar("Item")
Result = TypeVar("Result")


def prepared(
    items: Iterator[Item], prepare: Callable[[Item], Result], ready: Callable[[], bool]
) -> Iterator[tuple[Result, bool]]:
    """Yield `(prepare(item), ahead)` for each item in order; `ahead` is True when a thread prepared it.

    Closing the generator (or an error in it) stops the thread, then closes `items` in this thread, so
    a read stopped half-way closes its warehouse connection at once.
    """
    worker: _Worker[Item, Result] | None = None
    try:
        while worker is None:
            item = next(items, _END)
            if item is _END:
                return
            result = prepare(item)  # type: ignore[arg-type]
            if ready():
                worker = _Worker(items, prepare)
                worker.start()
            yield result, False
        while True:
            outcome, value = worker.results.get()
            if outcome is _END:
                return
            if outcome is _ERROR:
                raise value  # type: ignore[misc]
            yield value, True  # type: ignore[misc]
    finally:
        if worker is not None:
            worker.stop()
        close = getattr(items, "close", None)
        if close is not None:
            close()


_END, _ERROR, _OK = object(), object(), object()


class _Worker(threading.Thread, Generic[Item, Result]):
    def __init__(self, items: Iterator[Item], prepare: Callable[[Item], Result]) -> None:
        super().__init__(name="wsync-read-ahead", daemon=True)
        self.items, self.prepare = items, prepare
        self.results: queue.Queue[tuple[object, object]] = queue.Queue(maxsize=1)
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                item = next(self.items, _END)
                if item is _END:
                    self.results.put((_END, None))
                    return
                self.results.put((_OK, self.prepare(item)))  # type: ignore[arg-type]
        except BaseException as error:  # handed to the engine's thread, which decides what it means
            self.results.put((_ERROR, error))
        finally:
            # Preparing a page should not touch the database; if anything did, its connection goes with the thread.
            connections.close_all()

    def stop(self) -> None:
        """Stop after the page in hand; wait for the thread, so the items are no longer in use."""
        self.stopping.set()
        with contextlib.suppress(queue.Empty):
            self.results.get_nowait()  # frees the slot a blocked put waits for
        self.join()
