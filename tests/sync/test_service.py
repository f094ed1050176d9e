"""Activate, pause, resume, run now, the minute tick, backfill windows and one-run-at-a-time."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from django_q.models import Schedule

from feeds.models import Feed, FeedState, ScheduleType
from feeds.sync import engine, scheduling, service, tasks
from feeds.sync.models import AttemptOutcome, Checkpoint, FeedSchedule, RunKind, RunState, SyncRun
from tests.feed_fixtures import build_feed
from tests.sync.conftest import T0, Crash, make_feed, profile_count, run_now, store_users, user_rows


@pytest.fixture
def draft(workspace, warehouse):
    return make_feed(
        workspace,
        warehouse.path,
        state=FeedState.DRAFT,
        activated_on=None,
        schedule_type=ScheduleType.INTERVAL,
        frequency="daily",
        schedule_start=datetime(2026, 1, 1, 6, tzinfo=UTC),
    )


def test_it_activates_a_feed_with_one_named_schedule_and_an_anchored_next_run(draft, admin):
    service.activate(draft, admin)
    draft.refresh_from_db()
    assert draft.state == FeedState.ACTIVE and draft.activated_on is not None
    schedule = Schedule.objects.get()  # one minute tick for all feeds
    assert (schedule.name, schedule.func, schedule.minutes) == ("wsync-tick", "feeds.tick.run", 1)
    # The initial date and time has passed: the initial sync runs at once, for its own slot ...
    initial = SyncRun.objects.get(feed=draft)
    assert initial.kind == RunKind.SCHEDULED and initial.state == RunState.QUEUED
    assert initial.logical_date == datetime(2026, 1, 1, 6, tzinfo=UTC)
    # ... and the next runs stay anchored on it: initial + k days.
    next_at = FeedSchedule.objects.get(feed=draft).next_run_at
    assert next_at > timezone.now() and (next_at.hour, next_at.minute) == (6, 0)
    service.activate(draft, admin)  # activating again (after a settings change) keeps one schedule
    assert Schedule.objects.count() == 1
    assert SyncRun.objects.filter(feed=draft).count() == 1  # and does not run the initial sync again


def test_one_minute_tick_starts_what_is_due_in_every_feed_and_visits_no_idle_one(workspace, warehouse, admin):
    hourly = {
        "state": FeedState.DRAFT,
        "activated_on": None,
        "schedule_type": ScheduleType.INTERVAL,
        "frequency": "hourly",
        "schedule_start": datetime(2026, 1, 1, 6, tzinfo=UTC),
    }
    due = make_feed(workspace, warehouse.path, **hourly)
    later, idle = (
        build_feed(
            workspace,
            due.connection,
            sql=due.data_model.sql,
            columns=due.data_model.columns,
            mappings=due.field_transformation.mappings,
            slug=name,
            name=name,
            sync_mode=due.sync_mode,
            iterator=due.iterator,
            iterator_type=due.iterator_type,
            **hourly,
        )
        for name in ("later", "idle")
    )
    for feed in (due, later, idle):
        service.activate(feed, admin)  # each queues its initial sync
    SyncRun.objects.all().delete()
    soon = timezone.now() + timedelta(minutes=1)
    FeedSchedule.objects.filter(feed__in=[due, later]).update(
        next_run_at=timezone.now() - timedelta(seconds=1)
    )
    FeedSchedule.objects.filter(feed=idle).update(next_run_at=soon)
    assert scheduling.feeds_to_tick() == [due.pk, later.pk]

    tasks.tick()
    assert sorted(SyncRun.objects.values_list("feed_id", flat=True)) == [due.pk, later.pk]
    assert Schedule.objects.count() == 1
    # Their runs are queued now, so the tick keeps visiting them (to dispatch, retry, take over) ...
    assert scheduling.feeds_to_tick() == [due.pk, later.pk]
    with time_machine.travel(soon + timedelta(seconds=1), tick=False):
        tasks.tick()  # ... and the idle feed once its time comes
    assert SyncRun.objects.filter(feed=idle, kind=RunKind.SCHEDULED).count() == 1


def test_it_runs_an_initial_sync_in_the_future_at_its_time(draft, admin):
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    draft.schedule_start = start
    draft.save()
    service.activate(draft, admin)
    assert not SyncRun.objects.filter(feed=draft).exists()
    assert FeedSchedule.objects.get(feed=draft).next_run_at == start


def test_it_runs_a_once_feed_whose_time_has_passed_at_activation(draft, admin):
    draft.schedule_type, draft.frequency = ScheduleType.ONCE, ""
    draft.save()
    service.activate(draft, admin)
    run = SyncRun.objects.get(feed=draft)
    assert run.kind == RunKind.ONCE and run.state == RunState.QUEUED
    assert service.tick(draft.pk) is None


def test_it_refuses_to_activate_an_incomplete_feed(draft, admin):
    draft.iterator = ""
    with pytest.raises(service.RunRefused, match="iterator"):
        service.activate(draft, admin)
    assert Feed.objects.get(pk=draft.pk).state == FeedState.DRAFT


def test_it_refuses_a_manual_run_while_one_is_running(feed, editor):
    first = service.request_run(feed, editor)
    SyncRun.objects.filter(pk=first.pk).update(state=RunState.RUNNING)
    with pytest.raises(service.RunRefused) as refused:
        service.request_run(feed, editor)
    assert (
        str(refused.value)
        == "A sync of this feed is already running. Wait for it to finish, then run it again."
    )
    assert SyncRun.objects.filter(feed=feed).count() == 1


def test_it_queues_a_scheduled_run_that_comes_due_while_one_runs_and_never_runs_two(
    feed, warehouse, workspace
):
    warehouse.upsert(user_rows(0, 5, T0))
    manual = service.request_run(feed, None)
    assert engine.queue.claim(manual.pk)  # a worker has it now
    FeedSchedule.objects.create(feed=feed, next_run_at=timezone.now() - timedelta(seconds=1))
    Feed.objects.filter(pk=feed.pk).update(
        schedule_type=ScheduleType.INTERVAL, frequency="hourly", schedule_start=T0
    )
    waiting = service.tick(feed.pk)
    assert waiting is not None and waiting.state == RunState.QUEUED and waiting.kind == RunKind.SCHEDULED
    engine.run(waiting.pk)  # a second worker picks it up too early: it must not start
    waiting.refresh_from_db()
    assert waiting.state == RunState.QUEUED
    # Another slot comes due while it waits: it coalesces into the waiting run, nothing is dropped.
    FeedSchedule.objects.filter(feed=feed).update(next_run_at=timezone.now() - timedelta(seconds=1))
    assert service.tick(feed.pk) == waiting
    assert SyncRun.objects.filter(feed=feed, state=RunState.QUEUED).count() == 1

    SyncRun.objects.filter(pk=manual.pk).update(state=RunState.SUCCEEDED)
    engine.run(waiting.pk)
    waiting.refresh_from_db()
    assert waiting.state == RunState.SUCCEEDED and store_users(workspace) == warehouse.users()


def test_it_does_not_run_a_paused_feed_and_resumes_with_one_catch_up_run(feed, admin, warehouse, workspace):
    Feed.objects.filter(pk=feed.pk).update(
        schedule_type=ScheduleType.INTERVAL, frequency="hourly", schedule_start=T0
    )
    feed.refresh_from_db()
    service.activate(feed, admin)  # the initial sync (its time has passed) is queued at once ...
    service.pause(feed, admin)  # ... and cancelled by the pause
    assert SyncRun.objects.get(feed=feed).state == RunState.CANCELLED
    FeedSchedule.objects.filter(feed=feed).update(next_run_at=timezone.now() - timedelta(days=3))  # 72 missed
    assert feed.pk not in scheduling.feeds_to_tick()  # the minute tick passes a paused feed by
    tasks.tick()
    assert service.tick(feed.pk) is None
    with pytest.raises(service.RunRefused, match="paused"):
        service.request_run(feed, admin)

    warehouse.upsert(user_rows(0, 4, T0))
    catch_up = service.resume(feed, admin)
    assert catch_up.kind == RunKind.CATCH_UP
    assert FeedSchedule.objects.get(feed=feed).next_run_at > timezone.now()
    assert service.tick(feed.pk) is None  # the missed intervals are not replayed
    assert SyncRun.objects.filter(feed=feed).exclude(state=RunState.CANCELLED).count() == 1
    engine.run(catch_up.pk)
    assert store_users(workspace) == warehouse.users()


def test_it_stops_a_running_run_after_its_page_when_the_feed_is_paused(
    feed, admin, warehouse, settings, while_reading
):
    settings.WSYNC_PAGE_SIZE = 10
    warehouse.upsert([r for i in range(5) for r in user_rows(i * 10, 10, T0 + i * timedelta(minutes=1))])
    # Paused while the first page is being read: the run writes that page and stops.
    while_reading(0, lambda: Feed.objects.filter(pk=feed.pk).update(state=FeedState.PAUSED))
    run = run_now(feed)
    assert run.state == RunState.CANCELLED and run.rows_read == 10


def test_it_deletes_the_feed_and_its_schedule_but_keeps_profiles(feed, admin, warehouse, workspace):
    warehouse.upsert(user_rows(0, 3, T0))
    run_now(feed)
    service.activate(feed, admin)
    pk = feed.pk
    service.delete_feed(feed, admin)
    assert not Feed.objects.filter(pk=pk).exists()
    assert not FeedSchedule.objects.filter(feed_id=pk).exists()
    assert profile_count(workspace) == 3


def test_it_backfills_history_in_windows_that_do_not_block_or_move_the_main_run(
    draft, admin, warehouse, workspace, settings
):
    settings.WSYNC_BACKFILL_WINDOW_DAYS = 30
    now = timezone.now()
    draft.from_time = now - timedelta(days=75)
    draft.save()
    warehouse.upsert(user_rows(0, 3, now - timedelta(days=70)) + user_rows(3, 3, now - timedelta(days=10)))
    service.activate(draft, admin)

    backfills = list(SyncRun.objects.filter(feed=draft, kind=RunKind.BACKFILL).order_by("pk"))
    assert len(backfills) == 3 and all(r.state == RunState.QUEUED for r in backfills)
    split = Checkpoint.objects.get(feed=draft).value
    assert backfills[-1].window["upper"] == split

    # The initial sync (its time has passed) was queued at once: backfills are not "a run in progress".
    main = SyncRun.objects.get(feed=draft, kind=RunKind.SCHEDULED)
    engine.run(main.pk)
    main.refresh_from_db()
    assert main.state == RunState.SUCCEEDED
    for run in backfills:
        engine.run(run.pk)
        run.refresh_from_db()
        assert run.state == RunState.SUCCEEDED
    assert Checkpoint.objects.get(feed=draft).value == split
    assert sum(r.rows_read for r in SyncRun.objects.filter(kind=RunKind.BACKFILL)) == 6
    assert store_users(workspace) == warehouse.users()


def test_it_takes_over_a_run_whose_worker_went_silent_and_ends_exact(
    feed, warehouse, workspace, settings, fail_after
):
    settings.WSYNC_PAGE_SIZE = 10
    warehouse.upsert([r for i in range(6) for r in user_rows(i * 10, 10, T0 + i * timedelta(minutes=1))])
    fail_after(2, Crash())
    run = service.request_run(feed, None)
    with pytest.raises(Crash):
        engine.run(run.pk)
    fail_after.disarm()
    # The worker ran on another host: only its heartbeat can tell that it is gone.
    SyncRun.objects.filter(pk=run.pk).update(worker="elsewhere:4242:1")
    run.refresh_from_db()
    assert run.state == RunState.RUNNING and run.rows_read == 20

    service.tick(feed.pk)  # a heartbeat younger than WSYNC_STALE_RUN_SECONDS: still someone's run
    assert SyncRun.objects.get(pk=run.pk).state == RunState.RUNNING
    with time_machine.travel(run.heartbeat_at + timedelta(seconds=settings.WSYNC_STALE_RUN_SECONDS + 1)):
        service.tick(feed.pk)  # the minute tick notices the silent worker
    run.refresh_from_db()
    assert run.state == RunState.QUEUED and run.error == ""
    engine.run(run.pk)
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED and run.attempt == 2 and run.error == ""
    assert [(a.outcome, a.error) for a in run.attempts.all()] == [
        (AttemptOutcome.STOPPED, "The worker stopped; resuming from the last checkpoint."),
        (AttemptOutcome.SUCCEEDED, ""),
    ]
    # Each row counted once: the ten rows at the second page's value were read again, and say so.
    assert (run.rows_read, run.rows_reread, run.profiles_created, run.profiles_unchanged) == (60, 10, 60, 0)
    assert store_users(workspace) == warehouse.users() and profile_count(workspace) == 60


def test_it_takes_over_at_once_a_run_whose_worker_process_on_this_host_ended(feed, warehouse):
    run = service.request_run(feed, None)
    engine.queue.claim(run.pk)
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    SyncRun.objects.filter(pk=run.pk).update(worker=f"{socket.gethostname()}:{ended.stdout.strip()}:1")
    engine.queue.take_over_local()  # what a worker does when it starts
    run.refresh_from_db()
    assert run.state == RunState.QUEUED and run.dispatched_at is not None


def test_it_makes_a_dead_workers_late_commit_fail(feed, warehouse, workspace, settings):
    settings.WSYNC_STALE_RUN_SECONDS = 0
    run = service.request_run(feed, None)
    old_token = engine.queue.claim(run.pk)
    service.tick(feed.pk)
    new_token = engine.queue.claim(run.pk)
    assert new_token and new_token != old_token
    assert SyncRun.objects.filter(pk=run.pk, claim=old_token).count() == 0


def test_it_queues_a_once_feed_a_single_time(feed, admin):
    Feed.objects.filter(pk=feed.pk).update(schedule_type=ScheduleType.ONCE, activated_on=None)
    feed.refresh_from_db()
    service.activate(feed, admin)
    first = SyncRun.objects.get(feed=feed)  # its time (none given: now) has come: queued at once
    assert first.kind == RunKind.ONCE
    SyncRun.objects.filter(pk=first.pk).update(state=RunState.SUCCEEDED)
    assert service.tick(feed.pk) is None


@pytest.mark.django_db(transaction=True)
def test_migration_moves_the_per_feed_schedules_to_one_tick_and_back(workspace, warehouse):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([target])

    active = make_feed(workspace, warehouse.path)
    paused = build_feed(
        workspace, active.connection, sql="SELECT 1", slug="paused", name="Paused", state=FeedState.PAUSED
    )
    # The ops minute Schedule of those versions is not a feed's (0008 made it a step of the one tick).
    feeds = Schedule.objects.exclude(name="wsync-ops-minute")
    try:
        migrate(("sync", "0005_run_attempts_owed_windows_heartbeat"))
        assert set(feeds.values_list("name", "func", "args")) == {
            (f"wsync-feed-{active.pk}", "feeds.sync.tasks.tick_feed", f"({active.pk},)")
        }
        assert paused.pk != active.pk
        migrate(("sync", "0006_one_scheduler_tick"))
        assert list(feeds.values_list("name", "func")) == [("wsync-tick", "feeds.sync.tasks.tick")]
    finally:
        for leaf in MigrationExecutor(connection).loader.graph.leaf_nodes():
            migrate(leaf)
