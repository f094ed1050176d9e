"""`sync_mode.until`: rows whose iterator is at or past it are never read, by main runs or the history load."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from feeds.models import Feed, FeedState, ScheduleType
from feeds.schedule.rules import schedule_problems
from feeds.sync import engine, service, windows
from feeds.sync.models import RunKind, RunState, SyncRun
from feeds.warehouses.base import IteratorKind, iterator_kind
from tests.sync.conftest import T0, make_feed, run_now, store_users, user_rows

DAY = timedelta(days=1)
UNTIL = T0 + 5 * DAY
TICK = timedelta(microseconds=1)


@pytest.fixture
def history(warehouse):
    """Rows before `until` (the last one a microsecond before it), one exactly at it and some past it."""
    warehouse.upsert(user_rows(0, 3, T0 + DAY))
    warehouse.upsert(user_rows(3, 2, T0 + 3 * DAY))
    warehouse.upsert(user_rows(5, 1, UNTIL - TICK))
    warehouse.upsert(user_rows(6, 1, UNTIL))
    warehouse.upsert(user_rows(7, 2, UNTIL + DAY))
    return warehouse


BEFORE = [f"C{i:07d}" for i in range(6)]


def test_an_incremental_run_never_reads_rows_at_or_past_until(workspace, history):
    feed = make_feed(workspace, history.path, until_time=UNTIL)
    run = run_now(feed)

    assert run.state == RunState.SUCCEEDED, run.error
    assert sorted(store_users(workspace)) == BEFORE and run.rows_read == 6
    assert run.window_to == "2026-01-05 23:59:59 UTC"
    # A later run reads on from the checkpoint: a row changed now (past until) still waits.
    history.upsert(user_rows(0, 1, timezone.now() - timedelta(seconds=1), plan="pro"))
    later = run_now(feed)
    assert later.state == RunState.SUCCEEDED, later.error
    # (It reads the checkpoint's own row again: windows start closed.)
    assert later.rows_read == 1 and later.window_to == run.window_to
    assert store_users(workspace)["C0000000"]["plan"] == "free"


def test_without_until_the_same_rows_are_all_read(workspace, history):
    feed = make_feed(workspace, history.path)
    run = run_now(feed)
    assert run.state == RunState.SUCCEEDED, run.error
    assert run.rows_read == 9 and len(store_users(workspace)) == 9


def test_the_history_load_never_reads_rows_at_or_past_until(workspace, history, admin, settings):
    settings.WSYNC_BACKFILL_WINDOW_DAYS = 2
    feed = make_feed(
        workspace,
        history.path,
        from_time=T0,
        until_time=UNTIL,
        state=FeedState.DRAFT,
        activated_on=None,
        schedule_type=ScheduleType.ONCE,
        schedule_start=timezone.now() + 30 * DAY,
    )
    service.activate(feed, admin)

    backfills = list(SyncRun.objects.filter(feed=feed, kind=RunKind.BACKFILL).order_by("pk"))
    # Windows stop at until (days 1-3, 3-5, 5-6), not at today.
    assert len(backfills) == 3
    for backfill in backfills:
        engine.run(backfill.pk)
        backfill.refresh_from_db()
        assert backfill.state == RunState.SUCCEEDED, backfill.error
    assert backfills[-1].window_to == "2026-01-05 23:59:59 UTC"
    assert sorted(store_users(workspace)) == BEFORE
    assert sum(b.rows_read for b in backfills) == 6


@pytest.mark.parametrize(
    ("iterator_type", "until", "bound"),
    [
        ("timestamptz", UNTIL, UNTIL - TICK),
        ("date", UNTIL, date(2026, 1, 5)),  # midnight: the day of until is not read
        ("date", UNTIL + timedelta(hours=12), date(2026, 1, 6)),  # the day began before until
        ("timestamp_unixtime_s", UNTIL, int(UNTIL.timestamp()) - 1),
        ("timestamp_unixtime_ms", UNTIL, int(UNTIL.timestamp() * 1000) - 1),
        ("timestamp_unixtime_ms", UNTIL + timedelta(microseconds=1500), int(UNTIL.timestamp() * 1000) + 1),
    ],
)
def test_the_read_bound_is_the_last_value_before_until(iterator_type, until, bound):
    feed = Feed(iterator="x", iterator_type=iterator_type, until_time=until, timezone="UTC")
    assert windows.until_bound(feed, iterator_kind(iterator_type)) == bound
    assert windows.until_bound(Feed(iterator="x", iterator_type=iterator_type), IteratorKind.DATE) is None


def test_until_is_read_as_the_feed_time_zone_for_dates():
    feed = Feed(
        iterator="d",
        iterator_type="date",
        timezone="America/New_York",
        until_time=datetime(2026, 1, 6, 5, tzinfo=UTC),
    )
    assert windows.until_bound(feed, IteratorKind.DATE) == date(2026, 1, 5)  # midnight in New York


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"sync_mode": "full", "iterator": ""}, "incremental"),
        ({"iterator_type": "integer"}, "not a number"),
        ({"from_time": UNTIL}, "after the Sync Start Date"),
    ],
)
def test_an_until_that_cannot_apply_is_a_settings_problem(values, words):
    settings = {"sync_mode": "incremental", "iterator": "updated_at", "iterator_type": "timestamptz"}
    found = schedule_problems(
        {**settings, **values, "until_time": UNTIL}, ["updated_at"], ("timestamptz", "integer"), ""
    )
    assert words in found["until_time"]
    assert "until_time" not in schedule_problems(
        {**settings, "until_time": UNTIL}, ["updated_at"], ("timestamptz",), ""
    )
