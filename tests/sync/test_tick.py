"""The one minute tick (feeds/tick.py): every app's step in order, each isolated; the worker start steps;
the one Schedule, race-safe; and the migration from the three minute Schedules of earlier versions."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django_q.models import Schedule
from django_q.signals import post_spawn

from feeds import tick
from feeds.ops import tasks as ops_tasks
from feeds.ops.beats import WORKER
from feeds.ops.models import Beat
from feeds.outputs import tasks as outputs_tasks
from feeds.sync import queue
from feeds.sync import tasks as sync_tasks
from feeds.sync.models import FeedSchedule, SyncRun
from tests.feed_fixtures import build_feed
from tests.sync.conftest import make_feed

pytestmark = pytest.mark.django_db


def boom() -> None:
    raise RuntimeError("this step is broken")


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "feeds.tick" and r.exc_info]


def test_the_apps_register_sync_then_outputs_then_ops():
    assert tick.minute_steps() == [
        ("sync", sync_tasks.tick),
        ("outputs", outputs_tasks.tick),
        ("ops", ops_tasks.minute),
    ]


def test_a_minute_step_without_a_place_in_the_order_is_refused():
    with pytest.raises(ImproperlyConfigured, match="add it there"):
        tick.every_minute("reports", boom)
    assert "reports" not in dict(tick.minute_steps())


def test_each_step_runs_in_order_and_one_that_raises_is_logged_and_stops_none(monkeypatch, caplog):
    ran: list[str] = []
    monkeypatch.setattr(tick, "_minute", {})
    tick.every_minute("ops", lambda: ran.append("ops"))  # registered first, still runs last
    tick.every_minute("outputs", boom)
    tick.every_minute("sync", lambda: ran.append("sync"))
    tick.run()
    assert ran == ["sync", "ops"]
    assert failures(caplog) == ["the minute step 'outputs' failed; the others ran"]


def test_a_failing_outputs_step_keeps_neither_the_due_run_nor_the_workers_beat_from_happening(
    feed, monkeypatch, caplog
):
    FeedSchedule.objects.create(feed=feed, next_run_at=timezone.now() - timedelta(seconds=1))
    monkeypatch.setitem(tick._minute, "outputs", boom)
    tick.run()
    assert SyncRun.objects.filter(feed=feed).count() == 1  # the sync step before it
    assert Beat.objects.filter(name=WORKER).exists()  # the ops step after it
    assert failures(caplog) == ["the minute step 'outputs' failed; the others ran"]


def test_a_worker_start_step_that_raises_neither_stops_the_others_nor_escapes_post_spawn(monkeypatch, caplog):
    ran: list[str] = []
    monkeypatch.setattr(tick, "_start", {})
    tick.on_worker_start("first", boom)
    tick.on_worker_start("second", lambda: ran.append("second"))
    with caplog.at_level(logging.ERROR):
        post_spawn.send(sender="django_q", proc_name="Process-1")  # raises nothing
    assert ran == ["second"]
    assert Schedule.objects.filter(name=tick.TICK, func=tick.TICK_FUNC).count() == 1
    assert failures(caplog) == ["the worker start step 'first' failed; the others ran"]


def test_the_tick_is_the_only_post_spawn_receiver_and_the_apps_register_their_start_steps():
    # A receiver of its own would escape the isolation: Signal.send lets its exception end the worker.
    assert post_spawn._live_receivers("django_q") in (
        [tick.worker_started],
        ([tick.worker_started], []),  # Django 5.x: (sync receivers, async receivers)
    )
    assert tick._start["sync"] is queue.take_over_local
    assert tick._start["outputs"].__module__ == "feeds.outputs.service"


def test_two_workers_that_both_created_the_tick_keep_the_first_one():
    Schedule.objects.filter(name=tick.TICK).delete()
    for _ in range(2):  # two worker processes that both saw no tick and both created it
        Schedule.objects.create(name=tick.TICK, func=tick.TICK_FUNC, schedule_type=Schedule.MINUTES)
    first = Schedule.objects.filter(name=tick.TICK).order_by("pk").first()
    tick.ensure_tick()
    tick.ensure_tick()
    assert list(Schedule.objects.filter(name=tick.TICK).values_list("pk", flat=True)) == [first.pk]


@pytest.mark.django_db(transaction=True)
def test_migration_makes_the_three_minute_schedules_one_tick_and_back(workspace, warehouse):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from feeds.models import FeedState
    from feeds.outputs.models import FeedOutput, Output

    def migrate(targets):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)
        return executor

    def schedules():
        return set(Schedule.objects.values_list("name", "func", "minutes", "repeats"))

    before = {
        ("wsync-tick", "feeds.sync.tasks.tick", 1, -1),
        ("wsync-outputs-tick", "feeds.outputs.tasks.tick", 1, -1),
        ("wsync-ops-minute", "feeds.ops.tasks.minute", 1, -1),
    }
    active = make_feed(workspace, warehouse.path)
    output = Output.objects.create(workspace=workspace, kind="webhook", name="Hook")
    FeedOutput.objects.create(feed=active, output=output)
    try:
        migrate([("sync", "0007_run_number_per_feed")])
        assert schedules() == before  # as the old code left them: an active feed, a connected output
        # Forward to the newest migrations, not only 0008: the deletes below go through today's models.
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
        assert schedules() == {("wsync-tick", "feeds.tick.run", 1, -1)}
        # Without active feeds or connections the old code had only the ops minute, and so has the way back.
        FeedOutput.objects.all().delete()
        build_feed(workspace, active.connection, sql="SELECT 1", slug="p", name="P", state=FeedState.PAUSED)
        active.delete()
        migrate([("sync", "0007_run_number_per_feed")])
        assert schedules() == {("wsync-ops-minute", "feeds.ops.tasks.minute", 1, -1)}
    finally:
        executor = MigrationExecutor(connection)
        migrate(executor.loader.graph.leaf_nodes())
    assert schedules() == {("wsync-tick", "feeds.tick.run", 1, -1)}
