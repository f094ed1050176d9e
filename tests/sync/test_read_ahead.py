"""Reading and mapping the next page in a second thread while the engine writes this one (feeds/sync/ahead.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from feeds.sync import ahead, windows
from feeds.sync.models import Checkpoint, RunState, SyncRun
from feeds.warehouses.base import IteratorKind
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
    got = list(ahead.prepared(iter(source), lambda i: i * 10, lambda: True))

    assert got == [(0, False), (10, True), (20, True), (30, True), (40, True)]
    assert source.threads[0] == threading.current_thread().name
    assert set(source.threads[1:]) == {"wsync-read-ahead"}
    assert source.closed and _threads() == []


def test_it_stays_in_this_thread_until_ready():
    source = Source(3)
    got = list(ahead.prepared(iter(source), lambda i: i, lambda: False))

    assert got == [(0, False), (1, False), (2, False)]
    assert set(source.threads) == {threading.current_thread().name}


def test_an_error_comes_after_the_items_before_it():
    source = Source(5, fail_at=3)
    got = []
    with pytest.raises(ValueError, match="item 3 is bad"):
        for value, _ in ahead.prepared(iter(source), lambda i: i, lambda: True):
            got.append(value)

    assert got == [0, 1, 2] and source.closed and _threads() == []


def test_stopping_early_stops_the_thread_and_closes_the_items():
    source = Source(1000)
    pages = ahead.prepared(iter(source), lambda i: i, lambda: True)
    assert [next(pages)[0], next(pages)[0]] == [0, 1]
    pages.close()

    assert source.closed and _threads() == []
    assert len(source.threads) <= 4  # at most the page in hand and one waiting were read ahead


@pytest.fixture
def paged(settings):
    settings.WSYNC_PAGE_SIZE = 100
    settings.WSYNC_READ_AHEAD = True  # off by default (wsync_site/settings.py)


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
