"""Two windows writing the same new event at once: one stores it, the other's page rolls back and its retry
finds it stored. Never two copies, never a lost page."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from feeds.profiles import store
from feeds.profiles.models import Event
from tests.profiles.conftest import apply, batch

POSTGRES = connection.vendor == "postgresql"


def _page() -> dict:
    event = {"event_type": "custom_event", "data": {"event_name": "buy", "source_message_id": "m-1"}}
    return batch({"customer_id": "C1"}, events=[event])


@pytest.mark.django_db(transaction=True)
def test_a_window_that_meets_an_event_stored_meanwhile_rolls_back_and_its_retry_writes_nothing_twice(
    feed, monkeypatch
):
    apply(feed, batch({"customer_id": "C1"}))  # the customer exists, so both windows only add the event
    first_wrote, second_writing, first_committed = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, object] = {}
    copy_rows = store.sql.copy_rows

    def copy_and_tell(table, *args, **kwargs):
        if table == store.EVENTS and threading.current_thread().name == "second":
            second_writing.set()  # it has looked for the event and not found it: the first has not committed
        return copy_rows(table, *args, **kwargs)

    monkeypatch.setattr(store.sql, "copy_rows", copy_and_tell)

    def first_window() -> None:
        try:
            with transaction.atomic():
                apply(feed, _page())
                first_wrote.set()
                second_writing.wait(timeout=30)
        finally:
            first_wrote.set()
            first_committed.set()
            connection.close()

    def second_window() -> None:
        first_wrote.wait(timeout=30)
        if not POSTGRES:
            second_writing.set()  # SQLite has one writer: the second waits for, or is refused, the write lock
        attempts = 0
        try:
            while True:
                attempts += 1
                try:
                    with transaction.atomic():
                        outcome["written"] = apply(feed, _page()).events_written
                    break
                except DatabaseError:  # the engine's answer: the run is retried (sync/engine.py, BUSY)
                    if attempts > 3:
                        raise
                    first_committed.wait(timeout=30)
        finally:
            outcome["attempts"] = attempts
            second_writing.set()
            connection.close()

    threads = [threading.Thread(target=first_window), threading.Thread(target=second_window, name="second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Event.objects.filter(event_id="m-1").count() == 1
    assert outcome["written"] == 0  # the retry found the event the first window stored
    if POSTGRES:
        assert outcome["attempts"] == 2  # refused by the unique index, rolled back whole, retried
