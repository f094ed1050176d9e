"""A historical window is done only when it is written: one that fails for good, or is cancelled by a pause,
stays owed and is read again by the feed's next run (manual, scheduled or catch-up) until it succeeds.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from feeds.models import Feed, FeedState, Health, ScheduleType
from feeds.sync import engine, service
from feeds.sync.models import AttemptOutcome, RunKind, RunState, SyncRun
from tests.sync.conftest import make_feed, profile_count, store_users, user_rows

POISON = -7  # a score the model below cannot read: DuckDB's error() stops the query on that row
MODEL = (
    "SELECT customer_id, email, plan, CASE WHEN score = -7 THEN error('unreadable score') ELSE score END "
    "AS score, updated_at FROM users"
)


@pytest.fixture
def backfilled(workspace, warehouse, settings, admin):
    """A feed that syncs once next month, activated with a Sync Start Date 75 days back: three windows of 30
    days (an on-demand feed would read its history in its first run instead)."""
    settings.WSYNC_BACKFILL_WINDOW_DAYS = 30
    now = timezone.now()
    feed = make_feed(
        workspace,
        warehouse.path,
        state=FeedState.DRAFT,
        activated_on=None,
        from_time=now - timedelta(days=75),
        schedule_type=ScheduleType.ONCE,
        schedule_start=now + timedelta(days=30),
    )
    feed.data_model.sql = feed.data_model.columns_sql = MODEL
    feed.data_model.save()
    warehouse.upsert(
        user_rows(0, 20, now - timedelta(days=70))
        + user_rows(20, 20, now - timedelta(days=40), score=POISON)  # the middle window's rows only
        + user_rows(40, 20, now - timedelta(days=10))
    )
    service.activate(feed, admin)
    return feed


def run_queued(feed: Feed) -> list[SyncRun]:
    """Execute every queued run of the feed in this process, oldest first; return them refreshed."""
    runs = list(SyncRun.objects.filter(feed=feed, state=RunState.QUEUED).order_by("pk"))
    for run in runs:
        engine.run(run.pk)
        run.refresh_from_db()
    return runs


def owed(feed: Feed) -> list[str]:
    return [r.window_from for r in SyncRun.objects.filter(feed=feed, kind=RunKind.BACKFILL, owed=True)]


def test_a_window_that_fails_for_good_three_times_is_read_again_until_it_succeeds(
    backfilled, warehouse, workspace, admin
):
    first = run_queued(backfilled)
    assert [r.state for r in first] == [RunState.SUCCEEDED, RunState.FAILED, RunState.SUCCEEDED]
    bad = first[1]
    assert bad.error_permanent and "unreadable score" in bad.error and bad.next_retry_at is None
    assert owed(backfilled) == [bad.window_from]

    for _ in range(2):  # two more runs of the feed, each reads the owed window again, which fails again
        service.request_run(backfilled, admin)
        again = run_queued(backfilled)
        window = next(r for r in again if r.kind == RunKind.BACKFILL)
        assert (window.window_from, window.window_to) == (bad.window_from, bad.window_to)
        assert window.state == RunState.FAILED and owed(backfilled) == [bad.window_from]
    backfilled.refresh_from_db()
    assert backfilled.status == Health.FAULTED
    assert profile_count(workspace) == 40  # the middle window is missing, and says so

    warehouse.sql("UPDATE users SET score = 7 WHERE score = ?", [POISON])  # the data is fixed
    service.request_run(backfilled, admin)
    last = run_queued(backfilled)
    assert {r.kind: r.state for r in last} == {
        RunKind.MANUAL: RunState.SUCCEEDED,
        RunKind.BACKFILL: RunState.SUCCEEDED,
    }
    assert owed(backfilled) == []
    windows = SyncRun.objects.filter(feed=backfilled, kind=RunKind.BACKFILL, window_from=bad.window_from)
    assert sorted(windows.values_list("state", flat=True)) == ["failed", "failed", "failed", "succeeded"]
    assert store_users(workspace) == warehouse.users() and profile_count(workspace) == 60
    backfilled.refresh_from_db()
    assert backfilled.status == Health.HEALTHY


def test_pausing_during_a_window_cancels_it_and_resuming_reads_it_again(
    backfilled, warehouse, workspace, admin, settings, monkeypatch, while_reading
):
    warehouse.sql("UPDATE users SET score = 7 WHERE score = ?", [POISON])
    settings.WSYNC_PAGE_SIZE = 5
    # Paused while the window's first page is being read: the window writes that page and stops.
    while_reading(0, lambda: Feed.objects.filter(pk=backfilled.pk).update(state=FeedState.PAUSED))
    window = run_queued(backfilled)[0]
    monkeypatch.undo()
    assert window.state == RunState.CANCELLED and window.owed and window.rows_read == 5
    assert window.error == engine.PAUSED_WINDOW
    assert [(a.outcome, a.error) for a in window.attempts.all()] == [(AttemptOutcome.CANCELLED, window.error)]

    backfilled.refresh_from_db()
    service.resume(backfilled, admin)  # its catch-up run brings the cancelled window back
    runs = run_queued(backfilled)
    assert all(r.state == RunState.SUCCEEDED for r in runs) and owed(backfilled) == []
    assert store_users(workspace) == warehouse.users() and profile_count(workspace) == 60


def test_pausing_during_a_main_run_cancels_it_without_a_retry(
    feed, warehouse, admin, settings, while_reading
):
    settings.WSYNC_PAGE_SIZE = 5
    warehouse.upsert(user_rows(0, 20, timezone.now() - timedelta(days=1)))
    # An admin pauses while the second page is being read: the run writes it and stops.
    while_reading(1, lambda: service.pause(Feed.objects.get(pk=feed.pk), admin))
    run = service.request_run(feed, admin)
    engine.run(run.pk)
    run.refresh_from_db()
    assert run.state == RunState.CANCELLED and run.next_retry_at is None
    assert run.error == engine.PAUSED and not run.owed
