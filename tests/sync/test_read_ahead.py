"""Reading and mapping the next page in a second thread while the engine writes this one (feeds/sync/ahead.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from feeds.models import Feed, FeedState, SyncMode
from feeds.rules.runs import version_of
from feeds.sync import ahead, engine, windows
from feeds.sync.models import Checkpoint, RunState, SyncRun
from feeds.warehouses.base import IteratorKind
from tests.rules.test_runs import LOWERCASE, activate
from tests.sync.conftest import T0, Crash, make_feed, profile_count, run_now, store_users, user_rows


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "wsync-read-ahead"]


class Source:
    """Items 0..n-1, remembering which thread produced each and whether it was closed."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count, self.fail_at = count, fail_at
        self.threads: list[str] = []
        self.closed = False

    def __iter__(self) -> Iterator[int]:
        try:
            for i in range(self.count):
                if i == self.fail_at:
                    raise ValueError(f"item {i} is bad")
                self.threads.append(threading.current_thread().name)
                yield i
        finally:
            self.closed = True


def test_it_prepares_items_in_order_the_first_here_the_rest_in_the_thread():
    source = Source(5)
    got = list(ahead.prepared(iter(source), lambda i: i * 10, thread=True))

    assert got == [(0, False), (10, True), (20, True), (30, True), (40, True)]
    assert source.threads[0] == threading.current_thread().name
    assert set(source.threads[1:]) == {"wsync-read-ahead"}
    assert source.closed and _threads() == []


def test_without_the_thread_it_prepares_every_item_here():
    source = Source(3)
    got = list(ahead.prepared(iter(source), lambda i: i, thread=False))

    assert got == [(0, False), (1, False), (2, False)]
    assert set(source.threads) == {threading.current_thread().name}


def test_an_error_comes_after_the_items_before_it():
    source = Source(5, fail_at=3)
    got = []
    with pytest.raises(ValueError, match="item 3 is bad"):
        for value, _ in ahead.prepared(iter(source), lambda i: i, thread=True):
            got.append(value)

    assert got == [0, 1, 2] and source.closed and _threads() == []


def test_stopping_early_stops_the_thread_and_closes_the_items():
    source = Source(1000)
    pages = ahead.prepared(iter(source), lambda i: i, thread=True)
    assert [next(pages)[0], next(pages)[0]] == [0, 1]
    pages.close()

    assert source.closed and _threads() == []
    assert len(source.threads) <= 4  # at most the page in hand and one waiting were read ahead


@pytest.mark.django_db
def test_a_page_prepared_in_the_thread_may_not_query_the_database():
    """A second connection would see another snapshot than the engine's: the thread refuses to open one."""
    source = Source(3)
    got = []
    with pytest.raises(ahead.DatabaseInThread, match="queried the database"):
        for value, _ in ahead.prepared(iter(source), lambda i: (i, Feed.objects.count()), thread=True):
            got.append(value)

    assert got == [(0, 0)]  # the first item is prepared here, where the database is the engine's
    assert _threads() == []


@pytest.fixture
def paged(settings):
    settings.WSYNC_PAGE_SIZE = 100
    settings.WSYNC_READ_AHEAD = True  # whatever the default and the environment say


def test_an_incremental_run_read_ahead_is_exact_and_moves_the_checkpoint_page_by_page(
    paged, workspace, warehouse
):
    feed = make_feed(workspace, warehouse.path)
    warehouse.upsert(user_rows(0, 1000, T0))

    run = run_now(feed)

    assert run.state == RunState.SUCCEEDED and run.rows_read == 1000
    assert store_users(workspace) == warehouse.users() and profile_count(workspace) == 1000
    assert Checkpoint.objects.get(feed=feed).value is not None
    assert run.timings.get("map ahead", 0) > 0  # pages after the first were mapped in the thread
    assert _threads() == []


def test_a_crash_on_a_page_read_ahead_leaves_the_pages_before_it_committed(
    paged, workspace, warehouse, fail_after
):
    feed = make_feed(workspace, warehouse.path)
    warehouse.upsert([r for i in range(6) for r in user_rows(i * 100, 100, T0 + timedelta(minutes=i))])
    fail_after(3, Crash())  # raised in the thread as it reads the fourth page, while the third is written

    with pytest.raises(Crash):
        run_now(feed)

    run = SyncRun.objects.get(feed=feed)
    assert (run.rows_read, profile_count(workspace)) == (300, 300)
    assert windows.decode(Checkpoint.objects.get(feed=feed).value, IteratorKind.TIMESTAMP) == T0 + timedelta(
        minutes=2
    )
    assert _threads() == []


def full_feed(workspace, warehouse):
    return make_feed(workspace, warehouse.path, sync_mode=SyncMode.FULL, iterator="", iterator_type="")


def test_a_full_run_whose_first_page_is_unchanged_applies_its_rules_to_a_page_read_ahead(
    paged, workspace, warehouse, admin
):
    """The rules used to be loaded on the first page that mapped a row: here a page of the thread's, whose
    query ran on a second connection (SQLite: "table is locked"; PostgreSQL: the run not visible to it)."""
    feed = full_feed(workspace, warehouse)
    warehouse.upsert(user_rows(0, 300, T0))
    activate(feed, admin, LOWERCASE)
    run_now(feed)
    warehouse.sql("UPDATE users SET email = 'SOMEONE@EXAMPLE.COM' WHERE customer_id = 'C0000250'")

    second = run_now(feed)

    assert second.state == RunState.SUCCEEDED, second.error
    assert (second.profiles_updated, second.profiles_unchanged) == (1, 299)
    assert store_users(workspace)["C0000250"]["email"] == "someone@example.com"
    assert version_of(second) == 1 and second.timings.get("map ahead", 0) > 0


@pytest.fixture(params=["incremental", "full", "full, too many fingerprints to keep"])
def any_feed(request, paged, workspace, warehouse, settings):
    if request.param == "incremental":
        return make_feed(workspace, warehouse.path)
    if "too many" in request.param:
        settings.WSYNC_FINGERPRINTS_IN_MEMORY = 0
    return full_feed(workspace, warehouse)


def test_a_feed_paused_during_a_page_drops_the_page_read_ahead_and_its_next_run_ends_exact(
    any_feed, workspace, warehouse, monkeypatch
):
    warehouse.upsert([r for i in range(5) for r in user_rows(i * 100, 100, T0 + timedelta(minutes=i))])
    written = []
    real = engine.apply_batches

    def apply_batches(**kwargs):  # in the engine's thread, inside the page's transaction
        written.append(len(kwargs["batches"]))
        if len(written) == 2:
            Feed.objects.filter(pk=any_feed.pk).update(state=FeedState.PAUSED)
        return real(**kwargs)

    monkeypatch.setattr(engine, "apply_batches", apply_batches)
    paused = run_now(any_feed)

    assert paused.state == RunState.CANCELLED
    # The second page was prepared in the thread, and the third as the second was written.
    assert paused.timings.get("map ahead", 0) > 0
    assert (paused.rows_read, profile_count(workspace)) == (200, 200)  # the third page was dropped
    Feed.objects.filter(pk=any_feed.pk).update(state=FeedState.ACTIVE)
    warehouse.upsert(user_rows(0, 50, T0 + timedelta(hours=1), plan="pro"))  # rows of committed pages change

    resumed = run_now(any_feed)

    assert resumed.state == RunState.SUCCEEDED, resumed.error
    # Over the fingerprint limit too: keeping none needs no database.
    assert resumed.timings.get("map ahead", 0) > 0
    assert store_users(workspace) == warehouse.users() and profile_count(workspace) == 500
    assert _threads() == []
