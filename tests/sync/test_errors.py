"""Warehouse errors: passing ones are retried with backoff, permanent ones fault the feed until a run succeeds.

A run waiting for its retry is Queued (Failed means no retry will come); each attempt keeps its own error.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from django.utils import timezone

from feeds.models import Connection, Health
from feeds.sync import engine, queue, service
from feeds.sync.models import AttemptOutcome, RejectedRow, RunState, SyncRun
from feeds.warehouses.base import WarehouseError
from tests.sync.conftest import T0, run_now, store_users, user_rows

LOCKER = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_it_plans_a_retry_for_a_passing_warehouse_error(feed, warehouse, workspace):
    warehouse.upsert(user_rows(0, 3, T0))
    # Another program holds the DuckDB file open for writing: a real, passing lock error.
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(warehouse.path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert locker.stdout.readline().strip() == "locked"
        run = run_now(feed)
    finally:
        locker.kill()
        locker.wait()

    assert run.state == RunState.QUEUED and run.error == "" and not run.error_permanent
    assert run.next_retry_at is not None and run.next_retry_at > timezone.now()
    (first,) = run.attempts.all()
    assert first.outcome == AttemptOutcome.FAILED and "another program" in first.error
    feed.refresh_from_db()
    assert feed.status == Health.HEALTHY
    engine.run(run.pk)  # a task that comes before the retry time does nothing
    assert run.attempts.count() == 1

    SyncRun.objects.filter(pk=run.pk).update(next_retry_at=timezone.now() - timedelta(seconds=1))
    service.tick(feed.pk)
    run.refresh_from_db()
    assert run.state == RunState.QUEUED and run.next_retry_at is None
    engine.run(run.pk)
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED and run.attempt == 2 and run.error == ""
    outcomes = [(a.number, a.outcome, "another program" in a.error) for a in run.attempts.all()]
    assert outcomes == [(1, AttemptOutcome.FAILED, True), (2, AttemptOutcome.SUCCEEDED, False)]
    assert store_users(workspace) == warehouse.users()


def test_it_gives_up_retrying_after_a_few_attempts(feed, warehouse, fail_after):
    warehouse.upsert(user_rows(0, 3, T0))
    fail_after(0, WarehouseError("The query took too long and was stopped.", permanent=False))
    run = run_now(feed)
    delays = []
    for _ in range(queue.MAX_ATTEMPTS - 1):
        assert run.state == RunState.QUEUED
        delays.append(run.next_retry_at - run.attempts.last().finished_at)
        SyncRun.objects.filter(pk=run.pk).update(next_retry_at=timezone.now())
        service.tick(feed.pk)
        engine.run(run.pk)
        run.refresh_from_db()
    assert run.state == RunState.FAILED and run.attempt == queue.MAX_ATTEMPTS
    assert run.next_retry_at is None and run.error == "The query took too long and was stopped."
    assert [a.outcome for a in run.attempts.all()] == [AttemptOutcome.FAILED] * queue.MAX_ATTEMPTS
    assert delays[1] > delays[0]  # backoff grows


def test_it_faults_the_feed_on_a_permanent_error_until_a_run_succeeds(feed, warehouse, workspace):
    warehouse.upsert(user_rows(0, 3, T0))
    connection = feed.connection
    connection.config = {"path": str(warehouse.path) + ".missing.duckdb"}
    connection.save()
    run = run_now(feed)

    assert run.state == RunState.FAILED and run.error_permanent and run.next_retry_at is None
    assert "does not exist" in run.error
    feed.refresh_from_db()
    assert feed.status == Health.FAULTED and feed.errors == [{"message": run.error}]
    connection.refresh_from_db()  # the file is the connection's setting: the connection is faulted too
    assert connection.status == Health.FAULTED and connection.errors == [{"message": run.error}]

    connection.config = {"path": str(warehouse.path)}
    connection.save()
    assert run_now(feed).state == RunState.SUCCEEDED
    feed.refresh_from_db()
    assert feed.status == Health.HEALTHY and feed.errors == []
    connection.refresh_from_db()
    assert connection.status == Health.HEALTHY and connection.errors == []


def test_it_faults_only_the_feed_when_the_data_model_is_wrong(feed, warehouse):
    warehouse.upsert(user_rows(0, 3, T0))
    warehouse.sql("ALTER TABLE users DROP COLUMN score")  # a column of the model vanished
    run = run_now(feed)

    assert run.state == RunState.FAILED and run.error_permanent and "score" in run.error
    feed.refresh_from_db()
    assert feed.status == Health.FAULTED
    feed.connection.refresh_from_db()
    assert feed.connection.status == Health.HEALTHY and feed.connection.errors == []


def test_it_does_not_run_a_feed_whose_connection_is_inactive(feed, warehouse, workspace):
    warehouse.upsert(user_rows(0, 3, T0))
    Connection.objects.filter(pk=feed.connection_id).update(is_active=False)
    run = run_now(feed)

    assert run.state == RunState.FAILED and run.error_permanent and run.next_retry_at is None
    assert run.error.startswith("The connection “Duck” is inactive") and '"state": "active"' in run.error
    assert run.rows_read == 0 and store_users(workspace) == {}
    assert Connection.objects.get(pk=feed.connection_id).status == Health.HEALTHY  # inactive, not broken


def test_it_records_rejected_rows_with_their_reason_and_key(feed, warehouse):
    warehouse.upsert(user_rows(0, 2, T0) + [("C9", "nine@example.com", "free", -1, T0)])
    model = feed.data_model
    # The model blanks both identities of one row: that row cannot be mapped to any profile.
    model.sql = (
        "SELECT CASE WHEN score = -1 THEN NULL ELSE customer_id END AS customer_id, "
        "CASE WHEN score = -1 THEN NULL ELSE email END AS email, plan, score, updated_at FROM users"
    )
    model.save()
    run = run_now(feed)
    assert run.state == RunState.SUCCEEDED and run.rows_rejected == 1 and run.rows_read == 3
    rejected = RejectedRow.objects.get(run=run)
    assert rejected.reason and rejected.row_key


def test_a_page_whose_new_mpid_is_taken_rolls_back_whole_and_is_retried(
    feed, warehouse, workspace, monkeypatch
):
    from feeds.profiles import store
    from feeds.profiles.models import Profile
    from feeds.sync.models import Checkpoint

    warehouse.upsert(user_rows(0, 3, T0))
    run_now(feed)
    taken = Profile.objects.values_list("mpid", flat=True).first()
    before = store_users(workspace), Checkpoint.objects.get(feed=feed).value
    warehouse.upsert(user_rows(3, 5, T0 + timedelta(hours=1)))
    # MPIDs are random and not checked first: a taken one (odds n / 2**63) makes the unique index refuse the page.
    monkeypatch.setattr(store.secrets, "randbits", lambda bits: taken)
    run = run_now(feed)

    assert run.state == RunState.QUEUED and not run.error_permanent and run.next_retry_at is not None
    assert (store_users(workspace), Checkpoint.objects.get(feed=feed).value) == before
    monkeypatch.undo()
    SyncRun.objects.filter(pk=run.pk).update(next_retry_at=timezone.now() - timedelta(seconds=1))
    service.tick(feed.pk)
    engine.run(run.pk)
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED and store_users(workspace) == warehouse.users()


def test_the_cycle_collector_is_held_off_during_a_page_and_back_after_a_failed_one(
    feed, warehouse, monkeypatch
):
    import gc

    from feeds.profiles import store

    seen = []
    apply = store.apply_batches

    def failing_apply(**kwargs):
        seen.append(gc.isenabled())
        apply(**kwargs)
        raise WarehouseError("the connection dropped", permanent=False)

    monkeypatch.setattr(engine, "apply_batches", failing_apply)
    warehouse.upsert(user_rows(0, 3, T0))
    run = run_now(feed)

    assert run.state == RunState.QUEUED and run.next_retry_at is not None and seen == [False]
    assert gc.isenabled()
