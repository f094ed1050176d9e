"""The base every provider builds on: `check`, `describe` and `preview` derived from one primitive each.

A provider writes what only it knows (the Airbyte CDK's division of labour):

- `_round_trip(seconds)`: one real round trip to the warehouse; returns the success message.
- `_describe(sql)`: the data model's columns.
- `_fetch(sql, rows, seconds)`: the data model's first `rows` rows, with the query stopped after `seconds`.
- `_explain(error)`: a driver error in plain words, as a WarehouseError.

and the base adds, once for all of them: the timer, the `limit + 1` probe that tells whether there were
more rows, the truncation, the never-raising check, and a time bound. Every check, describe and preview
answers within the preview timeout (WSYNC_PREVIEW_TIMEOUT): each provider passes the bound to its driver
(connect, socket and statement timeouts), and `bounded` stops waiting a little after it whatever the driver
does (a BigQuery client with no network retried for 576 s). See docs/providers.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from feeds.warehouses.base import (
    CheckResult,
    Column,
    ConfigField,
    Preview,
    Timer,
    WarehouseError,
)

T = TypeVar("T")

# How much longer than the driver's own timeouts `bounded` waits, so the driver's more precise message
# ("the query took too long", "the host did not answer") wins when it comes in time.
GRACE_SECONDS = 2.0


def preview_timeout() -> float:
    """Return the bound, in seconds, for a check, describe or preview (settings.WSYNC_PREVIEW_TIMEOUT)."""
    from django.conf import settings

    return float(settings.WSYNC_PREVIEW_TIMEOUT)


def no_answer(seconds: float) -> WarehouseError:
    """The plain message for a warehouse that did not answer within the bound."""
    return WarehouseError(
        f"The warehouse did not answer within {seconds:g} seconds. Check the host or account and that the "
        "network lets wsync reach it, then try again.",
        permanent=False,
    )


def bounded(work: Callable[[], T], seconds: float, explain: Callable[[BaseException], WarehouseError]) -> T:
    """Run `work` and return its result, or raise a WarehouseError once `seconds` (plus grace) have passed.

    The work runs on a daemon thread: a driver stuck past its own timeouts is left to end on its own (its
    socket timeouts end it soon after) while the person waiting gets an answer. Errors come back as
    WarehouseErrors through `explain`.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the waiting thread, which raises it there
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, name="wsync-bounded", daemon=True).start()
    if not done.wait(seconds + GRACE_SECONDS):
        raise no_answer(seconds)
    if "error" in outcome:
        error = outcome["error"]
        raise error if isinstance(error, WarehouseError) else explain(error) from None
    return outcome["value"]


class SqlWarehouse:
    """Base of the providers: the Protocol's check, describe and preview, from the primitives above."""

    kind: ClassVar[str]
    dialect: ClassVar[str]
    fields: ClassVar[tuple[ConfigField, ...]]
    iterator_types: ClassVar[tuple[str, ...]]
    has_sql: ClassVar[bool] = True

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        # The preview's stopwatch, in seconds; a unit test sets its own to see what preview reports.
        self.clock: Callable[[], float] = time.perf_counter

    # --- what each provider writes ----------------------------------------------------------------

    def _round_trip(self, seconds: float) -> str:
        """Make one real round trip within `seconds`; return the success message. May raise anything."""
        raise NotImplementedError

    def _describe(self, sql: str, seconds: float) -> list[Column]:
        """Return the data model's columns."""
        raise NotImplementedError

    def _fetch(self, sql: str, rows: int, seconds: float) -> tuple[tuple[Column, ...], list[tuple[Any, ...]]]:
        """Return the model's columns and at most `rows` of its rows, the query stopped after `seconds`."""
        raise NotImplementedError

    def _explain(self, error: BaseException) -> WarehouseError:
        """Translate a driver error into plain words."""
        raise NotImplementedError

    # --- derived, once for all providers ------------------------------------------------------------

    def check(self) -> CheckResult:
        """Make one real round trip within the preview timeout; never raises."""
        seconds = preview_timeout()
        try:
            message = bounded(lambda: self._round_trip(seconds), seconds, self._explain)
        except WarehouseError as error:
            return CheckResult(False, error.message, permanent=error.permanent, field=error.field)
        except Exception as error:  # never raise from check(): show the mapped or generic message
            mapped = self._explain(error)
            return CheckResult(False, mapped.message, permanent=mapped.permanent, field=mapped.field)
        return CheckResult(True, message)

    def describe(self, sql: str) -> list[Column]:
        seconds = preview_timeout()
        return bounded(lambda: self._describe(sql, seconds), seconds, self._explain)

    def preview(self, sql: str, limit: int) -> Preview:
        seconds = preview_timeout()
        with Timer(self.clock) as timer:
            # One row more than shown says whether the model has more rows than the preview shows.
            columns, rows = bounded(lambda: self._fetch(sql, limit + 1, seconds), seconds, self._explain)
        return Preview(tuple(columns), rows[:limit], timer.elapsed_ms, truncated=len(rows) > limit)

    def close(self) -> None:
        """Release connections; providers whose calls each open their own have nothing to close."""
