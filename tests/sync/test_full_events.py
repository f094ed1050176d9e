"""Full syncs of an events feed: each event row is a record of its own, so an unchanged one costs nothing again."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feeds.models import InputProtection, PipelineType, SyncMode
from feeds.profiles.models import Event, Identity
from feeds.sync import engine
from feeds.sync.models import RunState
from tests.feed_fixtures import build_feed
from tests.sync.conftest import T0, make_feed, run_now, user_rows
from tests.sync.test_full import profile_writes

EVENT_MAPPINGS = [
    {"mapping_type": "column", "source": "event_id", "destination": "events[].data.source_message_id"},
    {"mapping_type": "column", "source": "customer_id", "destination": "user_identities.customer_id"},
    {"mapping_type": "column", "source": "event_name", "destination": "events[].data.event_name"},
    {"mapping_type": "column", "source": "occurred_at", "destination": "events[].data.timestamp_unixtime_ms"},
    {"mapping_type": "static", "source": None, "destination": "events[].event_type", "value": "custom_event"},
    {
        "mapping_type": "static",
        "source": None,
        "destination": "events[].data.custom_event_type",
        "value": "other",
    },
]


@pytest.fixture
def users_feed(workspace, warehouse):
    """A full-mode feed of the users table, in the same workspace: it makes the profiles events land on."""
    return make_feed(workspace, warehouse.path, sync_mode=SyncMode.FULL, iterator="", iterator_type="")


@pytest.fixture
def events_feed(users_feed, warehouse, settings):
    """A full-mode events feed over an events table: ten events a customer, several customers a page."""
    settings.WSYNC_PAGE_SIZE = 100
    warehouse.sql(
        "CREATE TABLE events (event_id VARCHAR PRIMARY KEY, customer_id VARCHAR, event_name VARCHAR, "
        "occurred_at TIMESTAMPTZ)"
    )
    return build_feed(
        users_feed.workspace,
        users_feed.connection,
        sql="SELECT event_id, customer_id, event_name, occurred_at FROM events",
        columns=[
            {"name": "event_id", "type": "string"},
            {"name": "customer_id", "type": "string"},
            {"name": "event_name", "type": "string"},
            {"name": "occurred_at", "type": "timestamp_tz"},
        ],
        mappings=[{"value": None, **m} for m in EVENT_MAPPINGS],
        slug="events",
        name="Events",
        pipeline_type=PipelineType.EVENTS,
        sync_mode=SyncMode.FULL,
        schedule_type=users_feed.schedule_type,
        state=users_feed.state,
        activated_on=users_feed.activated_on,
    )


def add_events(warehouse, start: int, count: int, *, customers: int = 30) -> None:
    rows = [
        (f"E{i:06d}", f"C{i % customers:07d}", "purchase", T0 + timedelta(minutes=i))
        for i in range(start, start + count)
    ]
    with duckdb.connect(str(warehouse.path)) as connection:
        connection.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", rows)


def stored_events(workspace) -> dict[str, str]:
    """event id → the customer id of the profile it was recorded on."""
    owners = dict(
        Identity.objects.filter(workspace=workspace, identity_type="customer_id").values_list(
            "profile_id", "value"
        )
    )
    return {
        e: owners[p]
        for e, p in Event.objects.filter(workspace=workspace).values_list("event_id", "profile_id")
    }


def warehouse_events(warehouse) -> dict[str, str]:
    return dict(warehouse.sql("SELECT event_id, customer_id FROM events"))


@pytest.fixture
def applied(monkeypatch) -> list[int]:
    """How many batches each page handed to the profile store (the store itself runs as ever)."""
    sizes: list[int] = []
    real = engine.apply_batches

    def apply_batches(**kwargs):
        sizes.append(len(kwargs["batches"]))
        return real(**kwargs)

    monkeypatch.setattr(engine, "apply_batches", apply_batches)
    return sizes


def test_it_writes_nothing_to_the_store_when_no_event_changed(events_feed, warehouse, workspace, applied):
    add_events(warehouse, 0, 300)
    first = run_now(events_feed)
    assert (first.rows_read, first.events_written, first.profiles_created) == (300, 300, 30)
    applied.clear()

    with CaptureQueriesContext(connection) as queries:
        second = run_now(events_feed)

    assert (second.state, second.rows_read, second.profiles_unchanged, second.events_written) == (
        RunState.SUCCEEDED,
        300,
        300,
        0,
    )
    assert profile_writes(queries.captured_queries) == [] and applied == []
    assert stored_events(workspace) == warehouse_events(warehouse)


def test_it_hands_the_store_only_the_new_events_of_customers_it_has(
    events_feed, warehouse, workspace, applied
):
    add_events(warehouse, 0, 300)
    run_now(events_feed)
    applied.clear()
    add_events(
        warehouse, 300, 7
    )  # one more event for each of seven customers, whose older events are unchanged

    third = run_now(events_feed)

    assert sum(applied) == 7
    assert (third.events_written, third.profiles_created, third.profiles_unchanged) == (7, 0, 307)
    assert stored_events(workspace) == warehouse_events(warehouse)


def test_an_event_skipped_for_want_of_a_profile_is_tried_again_on_the_next_run(
    events_feed, users_feed, warehouse, workspace, applied
):
    events_feed.input_protection = InputProtection.UPDATE_ONLY
    events_feed.save()
    warehouse.upsert(user_rows(0, 20, T0))  # customers 20 to 29 have no profile yet
    run_now(users_feed)
    add_events(warehouse, 0, 300)

    first = run_now(events_feed)
    assert first.events_written == 200 and first.rows_rejected == 100

    warehouse.upsert(user_rows(20, 10, T0))
    run_now(users_feed)
    applied.clear()
    second = run_now(events_feed)

    assert (sum(applied), second.events_written, second.rows_rejected) == (100, 100, 0)
    assert stored_events(workspace) == warehouse_events(warehouse)
