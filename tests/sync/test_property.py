"""Property: whatever the sequence of warehouse writes, syncs and worker deaths, the store ends exact."""

from __future__ import annotations

import itertools
import tempfile
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from feeds.accounts.models import Workspace
from feeds.sync import engine, service
from feeds.sync.models import RunState, SyncRun
from tests.sync.conftest import Crash, FlakyWarehouse, Warehouse, make_feed, store_users

LOOKBACK = 3600
counter = itertools.count()

insert = st.tuples(st.just("insert"), st.integers(1, 12), st.integers(0, LOOKBACK))  # rows, how late (s)
update = st.tuples(st.just("update"), st.integers(1, 8), st.sampled_from(["free", "pro", "team"]))
sync = st.tuples(st.just("sync"), st.one_of(st.none(), st.integers(0, 4)), st.none())  # crash after n pages
tick = st.tuples(st.just("tick"), st.integers(1, 7200), st.none())  # the clock moves on (s)
steps = st.lists(st.one_of(insert, update, sync, tick), min_size=1, max_size=25)


class Scenario:
    """The warehouse and the clock its rows are stamped with; the warehouse itself is the expected model."""

    def __init__(self, folder: Path, workspace: Workspace) -> None:
        self.warehouse = Warehouse(folder / "w.duckdb")
        self.feed = make_feed(workspace, self.warehouse.path, lookback_seconds=LOOKBACK)
        self.clock = timezone.now() - timedelta(days=30)
        self.next_id = 0

    def insert(self, count: int, late: int) -> None:
        # Many rows share one iterator value; a late row is stamped up to the lookback in the past.
        at = self.clock - timedelta(seconds=late)
        rows = [(f"C{self.next_id + i}", f"u{self.next_id + i}@x.test", "free", i, at) for i in range(count)]
        self.next_id += count
        self.warehouse.upsert(rows)

    def update(self, count: int, plan: str) -> None:
        # Changed rows get a newer iterator value than any they had (the newest row wins).
        self.clock += timedelta(seconds=1)
        self.warehouse.sql(
            "UPDATE users SET plan = ?, score = score + 1, updated_at = ? "
            "WHERE customer_id IN (SELECT customer_id FROM users ORDER BY hash(customer_id) LIMIT ?)",
            [plan, self.clock, count],
        )

    def sync(self, crash_after: int | None) -> None:
        run = self._next_run()
        real = engine.open_warehouse
        if crash_after is not None:
            engine.open_warehouse = lambda kind, config: FlakyWarehouse(
                real(kind, config), crash_after, Crash()
            )
        try:
            engine.run(run.pk)
        except Crash:
            pass  # the worker died: the run stays "running" until the tick takes it over
        finally:
            engine.open_warehouse = real

    def _next_run(self) -> SyncRun:
        try:
            return service.request_run(self.feed, None)
        except service.RunRefused:
            service.tick(self.feed.pk)  # takes over the dead worker's run (stale after 0 s here)
            return SyncRun.objects.get(feed=self.feed, state=RunState.QUEUED)

    def settle(self) -> None:
        """Sync until nothing is left over, then once more so the last window reaches now."""
        while SyncRun.objects.filter(feed=self.feed, state__in=["queued", "running"]).exists():
            self.sync(None)
        self.sync(None)


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_it_ends_exact_after_any_writes_syncs_and_crashes(steps, db, settings):
    settings.WSYNC_PAGE_SIZE = 4
    settings.WSYNC_STALE_RUN_SECONDS = 0
    with tempfile.TemporaryDirectory() as folder, transaction.atomic():
        settings.WSYNC_DUCKDB_ROOTS = [folder]
        workspace = Workspace.objects.create(slug=f"p{next(counter)}", name=f"P{next(counter)}")
        scenario = Scenario(Path(folder), workspace)
        for name, a, b in steps:
            if name == "insert":
                scenario.insert(a, b)
            elif name == "update":
                scenario.update(a, b)
            elif name == "sync":
                scenario.sync(a)
            else:
                scenario.clock += timedelta(seconds=a)
        scenario.settle()
        assert store_users(workspace) == scenario.warehouse.users()
        transaction.set_rollback(True)
