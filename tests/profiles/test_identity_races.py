"""Two pages of one profile in concurrent transactions (PostgreSQL): identity types merge, races fail."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, connections, transaction

from tests.profiles.conftest import apply, batch, profiles


def _beside(feed, identities: dict[str, str], outcome: list) -> threading.Thread:
    """Start a page in another transaction (its own connection) that sets `identities` on the profile."""

    def page() -> None:
        try:
            with transaction.atomic():
                apply(feed, batch(identities), orders=[9])
            outcome.append("committed")
        except DatabaseError as error:
            outcome.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=page)
    thread.start()
    return thread


def _until_it_waits_for_a_lock(other: threading.Thread, outcome: list) -> None:
    tries = 0
    while other.is_alive() and tries < 100_000:  # a bound, not a clock
        tries += 1
        with connection.cursor() as cursor:
            # Within a transaction PostgreSQL keeps its first view of pg_stat_activity unless told to forget it.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
    raise AssertionError(f"the other page ended without waiting for this one: {outcome}")


@pytest.mark.postgres_store  # SQLite has one writer at a time: no such race (tests/conftest.py)
@pytest.mark.django_db(transaction=True)
def test_concurrent_pages_keep_each_others_identity_types_and_fail_on_the_same_one(feed):
    apply(feed, batch({"customer_id": "C1", "email": "a@x"}))

    outcome: list = []
    with transaction.atomic():  # another type than the other page's: both keep theirs
        apply(feed, batch({"customer_id": "C1", "email": "b@x"}), orders=[5])
        other = _beside(feed, {"customer_id": "C1", "other": "o1"}, outcome)
        _until_it_waits_for_a_lock(other, outcome)
    other.join()
    assert outcome == ["committed"]
    assert profiles(feed) == [
        {"identities": {"customer_id": "C1", "email": "b@x", "other": "o1"}, "attributes": {}}
    ]

    outcome.clear()
    with transaction.atomic():  # the same type: the later page fails (its run retries) rather than keep both
        apply(feed, batch({"customer_id": "C1", "email": "c@x"}), orders=[6])
        other = _beside(feed, {"customer_id": "C1", "email": "d@x"}, outcome)
        _until_it_waits_for_a_lock(other, outcome)
    other.join()
    assert len(outcome) == 1 and isinstance(outcome[0], DatabaseError)
    assert profiles(feed) == [
        {"identities": {"customer_id": "C1", "email": "c@x", "other": "o1"}, "attributes": {}}
    ]
