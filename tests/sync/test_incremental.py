"""Incremental syncs: closed-start windows, checkpoints committed with their page, lookback, upper bound."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db.models.signals import pre_save
from django.utils import timezone

from feeds.sync import windows
from feeds.sync.models import Checkpoint, RunState
from feeds.warehouses.base import IteratorKind, WarehouseError
from tests.sync.conftest import T0, Crash, profile_count, run_now, store_users, user_rows


@pytest.fixture(autouse=True)
def small_pages(settings):
    settings.WSYNC_PAGE_SIZE = 100


def checkpoint_value(feed):
    return windows.decode(Checkpoint.objects.get(feed=feed).value, IteratorKind.TIMESTAMP)


def test_it_loses_and_duplicates_nothing_when_many_rows_share_the_boundary_value(feed, warehouse, workspace):
    warehouse.upsert(user_rows(0, 250, T0) + user_rows(250, 1000, T0 + timedelta(minutes=5)))
    first = run_now(feed)
    warehouse.upsert(user_rows(1250, 7, T0 + timedelta(minutes=5)))  # late rows on the boundary value
    second = run_now(feed)

    assert (first.state, second.state) == (RunState.SUCCEEDED, RunState.SUCCEEDED)
    assert first.rows_read == 1250 and first.profiles_created == 1250
    assert second.profiles_created == 7 and second.rows_read == 1007  # boundary rows re-read, not re-created
    assert store_users(workspace) == warehouse.users()
    assert profile_count(workspace) == 1257
    assert checkpoint_value(feed) == T0 + timedelta(minutes=5)


def test_it_leaves_the_checkpoint_at_the_last_committed_page_when_a_page_fails(
    feed, warehouse, workspace, fail_after
):
    warehouse.upsert([r for i in range(10) for r in user_rows(i * 100, 100, T0 + i * timedelta(minutes=1))])
    fail_after(3, WarehouseError("The connection dropped.", permanent=False))
    failed = run_now(feed)

    assert failed.state == RunState.QUEUED and failed.attempts.get().error == "The connection dropped."
    assert failed.rows_read == 300 and profile_count(workspace) == 300
    assert checkpoint_value(feed) == T0 + timedelta(minutes=2)
    fail_after.disarm()
    # Run Sync starts the planned retry now; it resumes at its own progress (the third page's
    # largest value, whose 100 rows it reads again) and counts each row once.
    again = run_now(feed)
    assert (again.pk, again.state, again.attempt) == (failed.pk, RunState.SUCCEEDED, 2)
    assert (again.rows_read, again.rows_reread, again.profiles_created) == (1000, 100, 1000)
    assert again.profiles_unchanged == 0 and again.error == ""
    assert store_users(workspace) == warehouse.users()


def test_it_rolls_back_a_page_when_the_worker_dies_between_writing_and_checkpointing(
    feed, warehouse, workspace
):
    warehouse.upsert([r for i in range(5) for r in user_rows(i * 100, 100, T0 + i * timedelta(minutes=1))])
    saves = []

    # The checkpoint is saved after the page's profiles are written, in the same transaction: the
    # model's pre_save signal (Django's public seam) is the moment between the two.
    def dies_on_third_page(sender, instance, **kwargs):
        saves.append(instance.value)
        if len(saves) == 3:
            raise Crash

    pre_save.connect(dies_on_third_page, sender=Checkpoint, weak=False)
    try:
        with pytest.raises(Crash):
            run_now(feed)
    finally:
        pre_save.disconnect(dies_on_third_page, sender=Checkpoint)
    assert profile_count(workspace) == 200  # the third page's profiles were rolled back
    assert checkpoint_value(feed) == T0 + timedelta(minutes=1)


def test_it_rereads_late_rows_inside_the_lookback(workspace, warehouse):
    from tests.sync.conftest import make_feed

    feed = make_feed(workspace, warehouse.path, lookback_seconds=3600)
    warehouse.upsert(user_rows(0, 10, T0 + timedelta(hours=5)))
    run_now(feed)
    # A row that landed late with an older iterator value, inside and outside the lookback.
    warehouse.upsert(user_rows(100, 1, T0 + timedelta(hours=4, minutes=30)))
    warehouse.upsert(user_rows(200, 1, T0 + timedelta(hours=2)))
    second = run_now(feed)

    stored = store_users(workspace)
    assert "C0000100" in stored and "C0000200" not in stored
    assert second.window_from == "2026-01-01 04:00:00 UTC"
    assert checkpoint_value(feed) == T0 + timedelta(hours=5)


def test_a_resumed_run_reads_rows_that_arrived_late_behind_its_checkpoint_meanwhile(
    workspace, warehouse, fail_after
):
    from tests.sync.conftest import make_feed

    feed = make_feed(workspace, warehouse.path, lookback_seconds=3600)
    warehouse.upsert(user_rows(0, 150, T0))
    fail_after(1, WarehouseError("The connection dropped.", permanent=False))
    failed = run_now(feed)
    assert failed.state == RunState.QUEUED and checkpoint_value(feed) == T0  # the first page committed
    # Meanwhile a row lands a second behind that checkpoint, and another an hour ahead of it.
    warehouse.upsert(user_rows(500, 1, T0 - timedelta(seconds=1)))
    warehouse.upsert(user_rows(600, 1, T0 + timedelta(hours=1)))
    fail_after.disarm()

    again = run_now(feed)
    # Going on from its last page, the retry would skip the late row, and the next run's lookback (an hour
    # behind the checkpoint the retry moves) would never reach it again.
    assert (again.pk, again.state) == (failed.pk, RunState.SUCCEEDED)
    assert "C0000500" in store_users(workspace)
    assert again.window_from == "2025-12-31 23:00:00 UTC"
    assert again.rows_read + again.rows_reread >= 152
    run_now(feed)
    assert store_users(workspace) == warehouse.users()


def test_it_leaves_rows_stamped_after_the_run_started_for_the_next_run(feed, warehouse, workspace):
    started = timezone.now()
    later = started + timedelta(minutes=5)
    warehouse.upsert(user_rows(0, 5, T0) + user_rows(5, 1, later))
    with time_machine.travel(started, tick=False):
        first = run_now(feed)
    assert "C0000005" not in store_users(workspace)
    assert first.window_to and first.data_to == "2026-01-01 00:00:00 UTC"

    with time_machine.travel(later + timedelta(seconds=1), tick=False):
        run_now(feed)
    assert store_users(workspace) == warehouse.users()


def test_it_starts_the_first_run_at_the_historical_start(workspace, warehouse):
    from tests.sync.conftest import make_feed

    feed = make_feed(workspace, warehouse.path, from_time=T0 + timedelta(days=1))
    warehouse.upsert(user_rows(0, 3, T0) + user_rows(3, 4, T0 + timedelta(days=2)))
    run = run_now(feed)
    assert run.rows_read == 4 and run.window_from == "2026-01-02 00:00:00 UTC"
    assert run.data_from == run.data_to == "2026-01-03 00:00:00 UTC"
    assert sorted(store_users(workspace)) == ["C0000003", "C0000004", "C0000005", "C0000006"]
