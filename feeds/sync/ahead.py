"""Preparing the next page (read and map) while the engine writes this one: one thread a run, one page ahead.

A page's write mostly waits: on PostgreSQL's server process, or inside SQLite's C library, and both release
the GIL while they work. A second thread that reads and maps the next page in that time puts the machine's
second core to work without a second process, so nothing is pickled between them and nothing can outlive
the worker: the thread is a daemon of the worker's process, and a killed worker takes it along.

Exactness does not depend on it: the thread never writes; the engine commits pages one by one, in order,
in its own thread, as before. A page prepared ahead of a page that fails or pauses the run is dropped.
The first page is always prepared in the caller's thread: it loads what a run needs from the database (the
feed's fingerprints, the compiled mapping). From the second page on, preparing must touch nothing but memory,
and the thread holds it to that: a query from it raises `DatabaseInThread` instead of running on a second
connection, which would see another snapshot than the engine's (or, in a test, none of its rows).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from django.db import connections

Item = TypeVar("Item")
Result = TypeVar("Result")


class DatabaseInThread(RuntimeError):
    """Preparing a page ahead queried the database: what it needs must be loaded before the thread starts."""


def prepared(
    items: Iterator[Item], prepare: Callable[[Item], Result], *, thread: bool
) -> Iterator[tuple[Result, bool]]:
    """Yield `(prepare(item), ahead)` for each item in order; `ahead` is True when the thread prepared it.

    The first item is prepared here; the others in a thread if `thread`, else here too.

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
            if thread:
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
            with _without_database():
                self._prepare_all()
        except BaseException as error:  # handed to the engine's thread, which decides what it means
            self.results.put((_ERROR, error))
        finally:
            connections.close_all()  # a connection opened before a query was refused goes with the thread

    def _prepare_all(self) -> None:
        while not self.stopping.is_set():
            item = next(self.items, _END)
            if item is _END:
                self.results.put((_END, None))
                return
            self.results.put((_OK, self.prepare(item)))  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stop after the page in hand; wait for the thread, so the items are no longer in use."""
        self.stopping.set()
        with contextlib.suppress(queue.Empty):
            self.results.get_nowait()  # frees the slot a blocked put waits for
        self.join()


@contextlib.contextmanager
def _without_database() -> Iterator[None]:
    """Refuse every query made in this thread, on every database alias (connections are per thread)."""
    with contextlib.ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(_refuse))
        yield


def _refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    raise DatabaseInThread(f"A page prepared ahead queried the database: {sql[:200]}")
