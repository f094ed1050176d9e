"""The Sync Start Date reads the data model's timestamp field, not the iterator: first runs, full runs, backfills."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from feeds.models import FeedState, ScheduleType, SyncMode
from feeds.sync import engine, service
from feeds.sync.models import Checkpoint, RunKind, RunState, SyncRun
from feeds.warehouses.base import WarehouseError
from tests.sync.conftest import T0, USER_COLUMNS, USER_MAPPINGS, make_feed, run_now, store_users

DAY = timedelta(days=1)
START = T0 + 10 * DAY  # the Sync Start Date: between the old and the new sign-ups


@pytest.fixture
def signups(warehouse):
    """The users table with a created_at column: old sign-ups (before START) updated lately, new ones."""
    warehouse.sql("ALTER TABLE users ADD COLUMN created_at TIMESTAMPTZ")

    def add(first: int, count: int, created, updated) -> None:
        rows = [
            (f"C{i:07d}", f"user{i}@example.com", "free", 1, updated, created)
            for i in range(first, first + count)
        ]
        warehouse.sql(
            "INSERT OR REPLACE INTO users VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?)"] * count),
            [v for row in rows for v in row],
        )

    add(0, 3, T0, T0 + 14 * DAY)  # signed up before the start date, changed after it
    add(3, 2, T0 + 15 * DAY, T0 + 13 * DAY)  # signed up after the start date (their import had older stamps)
    add(5, 2, T0 + 15 * DAY, T0 + 16 * DAY)
    return add


NEW = ["C0000003", "C0000004", "C0000005", "C0000006"]


def signup_feed(workspace, warehouse, **settings):
    ignore = {"mapping_type": "ignore", "source": "created_at", "destination": None, "value": None}
    feed = make_feed(
        workspace, warehouse.path, from_time=START, mappings=[*USER_MAPPINGS, ignore], **settings
    )
    model = feed.data_model
    model.sql = "SELECT customer_id, email, plan, score, updated_at, created_at FROM users"
    model.columns_sql = model.sql
    model.columns = [*USER_COLUMNS, {"name": "created_at", "type": "timestamp_tz"}]
    model.timestamp_field = "created_at"
    model.save()
    return feed


def test_it_reads_the_first_run_from_the_start_date_on_the_timestamp_field(workspace, warehouse, signups):
    feed = signup_feed(workspace, warehouse)
    run = run_now(feed)

    assert run.state == RunState.SUCCEEDED, run.error
    assert sorted(store_users(workspace)) == NEW and run.rows_read == 4
    assert run.window_from == "2026-01-11 00:00:00 UTC"
    # Later runs read the iterator from the checkpoint (day 16): an old sign-up changed now is synced.
    signups(0, 1, T0, timezone.now() - timedelta(seconds=1))
    assert run_now(feed).state == RunState.SUCCEEDED
    assert sorted(store_users(workspace)) == ["C0000000", *NEW]


def test_it_filters_a_full_sync_by_the_start_date_on_the_timestamp_field(workspace, warehouse, signups):
    feed = signup_feed(workspace, warehouse, sync_mode=SyncMode.FULL, iterator="", iterator_type="")
    run = run_now(feed)

    assert run.state == RunState.SUCCEEDED, run.error
    assert sorted(store_users(workspace)) == NEW and run.rows_read == 4


def test_it_keeps_the_start_date_until_an_interrupted_first_load_is_finished(
    workspace, warehouse, signups, settings, fail_after
):
    settings.WSYNC_PAGE_SIZE = 2
    feed = signup_feed(workspace, warehouse)
    fail_after(1, WarehouseError("The query was stopped.", permanent=True))
    failed = run_now(feed)
    assert failed.state == RunState.FAILED and Checkpoint.objects.get(feed=feed).initial_load
    fail_after.disarm()

    finishing = run_now(feed)  # a new run, from the checkpoint the failed one left
    assert finishing.state == RunState.SUCCEEDED
    assert sorted(store_users(workspace)) == NEW
    assert not Checkpoint.objects.get(feed=feed).initial_load


def test_it_backfills_history_in_windows_of_the_timestamp_field(
    workspace, warehouse, signups, admin, settings
):
    settings.WSYNC_BACKFILL_WINDOW_DAYS = 30
    # A scheduled feed: activation splits its history (an on-demand feed's first run reads it instead).
    later = timezone.now() + timedelta(days=30)
    feed = signup_feed(
        workspace,
        warehouse,
        state=FeedState.DRAFT,
        activated_on=None,
        schedule_type=ScheduleType.ONCE,
        schedule_start=later,
    )
    service.activate(feed, admin)

    backfills = list(SyncRun.objects.filter(feed=feed, kind=RunKind.BACKFILL).order_by("pk"))
    assert (
        backfills[0].window["since"] == START.isoformat()
        and backfills[0].window_from == "2026-01-11 00:00:00 UTC"
    )
    for backfill in backfills:
        engine.run(backfill.pk)
        backfill.refresh_from_db()
        assert backfill.state == RunState.SUCCEEDED, backfill.error
    assert sorted(store_users(workspace)) == NEW
    assert sum(r.rows_read for r in SyncRun.objects.filter(kind=RunKind.BACKFILL)) == 4


def test_it_fails_plainly_when_the_timestamp_field_is_not_a_time_column(workspace, warehouse, signups):
    feed = signup_feed(workspace, warehouse)
    feed.data_model.timestamp_field = "email"
    feed.data_model.save()
    run = run_now(feed)

    assert run.state == RunState.FAILED and run.error_permanent
    assert "timestamp field “email”" in run.error
