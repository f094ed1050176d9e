from __future__ import annotations

from tests.profiles.conftest import apply, batch, profiles


def test_it_creates_and_updates(feed):
    r = apply(
        feed,
        batch({"customer_id": "C1", "email": "a@x"}, {"name": "Ann", "tags": ["a", "b"], "n": 1.5}),
        batch({"email": "a@x"}, {"name": "Anne", "gone": None}),
    )
    assert (r.created, r.updated, r.unchanged) == (1, 1, 0)
    assert profiles(feed) == [
        {
            "identities": {"customer_id": "C1", "email": "a@x"},
            "attributes": {"name": "Anne", "tags": ["a", "b"], "n": 1.5},
        }
    ]
    r = apply(feed, batch({"customer_id": "C1", "email": "b@x"}, {"name": "Anne", "n": None}), orders=[5])
    assert (r.created, r.updated, r.unchanged) == (0, 1, 0)
    assert profiles(feed) == [
        {
            "identities": {"customer_id": "C1", "email": "b@x"},
            "attributes": {"name": "Anne", "tags": ["a", "b"]},
        }
    ]
    r = apply(feed, batch({"customer_id": "C1", "email": "b@x"}, {"name": "Anne", "n": None}), orders=[5])
    assert (r.created, r.updated, r.unchanged) == (0, 0, 1)


def test_it_writes_events_once(feed):
    from feeds.profiles.models import Event

    ev = {
        "event_type": "custom_event",
        "data": {"event_name": "buy", "source_message_id": "m1", "timestamp_unixtime_ms": 1700000000000},
    }
    r = apply(feed, batch({"email": "a@x"}, events=[ev]), batch({"email": "a@x"}, events=[ev]))
    assert r.events_written == 1
    r = apply(feed, batch({"email": "a@x"}, events=[ev]))
    assert r.events_written == 0
    e = Event.objects.get()
    assert e.event_name == "buy" and e.data["source_message_id"] == "m1" and e.timestamp.year == 2023
