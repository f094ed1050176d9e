"""Sync semantics of the store: idempotency, NULL removal, lists, newest row wins, set-wise work, preview."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from feeds.profiles.models import Event, Identity, Profile
from feeds.profiles.preview import preview_batches
from tests.profiles.conftest import apply, batch, profiles


def event(message_id, name="buy"):
    return {"event_type": "custom_event", "data": {"event_name": name, "source_message_id": message_id}}


def test_it_changes_nothing_when_the_same_batches_are_applied_twice(feed):
    page = [
        batch({"customer_id": f"C{i}", "email": f"{i}@x"}, {"n": i}, events=[event(f"m{i}")])
        for i in range(5)
    ]
    first = apply(feed, *page)
    before = profiles(feed), Event.objects.count()
    second = apply(feed, *page)
    assert (first.created, first.events_written) == (5, 5)
    assert (second.created, second.updated, second.unchanged, second.events_written) == (0, 0, 5, 0)
    assert (profiles(feed), Event.objects.count()) == before


def test_it_returns_what_a_page_changed_profile_by_profile(feed):
    first = apply(
        feed, batch({"customer_id": "C1", "email": "a@x"}, {"plan": "pro", "age": 3}, events=[event("m1")])
    )
    (created,) = first.profile_changes()
    assert (created.created, created.identities, created.attributes) == (
        True,
        {"customer_id": "C1", "email": "a@x"},
        {"plan": "pro", "age": 3},
    )
    assert first.event_ids == ["m1"]

    page = [
        batch({"customer_id": "C1", "email": "b@x"}, {"plan": "team", "age": None}),
        batch({"customer_id": "C2"}, {"plan": "free"}),
        batch({"customer_id": "C3"}, {}),
    ]
    apply(feed, page[2])
    second = apply(feed, *page, orders=[5, 5, 5])
    changes = {c.identities.get("customer_id", "C1"): c for c in second.profile_changes()}
    assert changes.keys() == {"C1", "C2"}  # C3 is unchanged
    updated = changes["C1"]
    assert (updated.created, updated.profile_id, updated.mpid) == (False, created.profile_id, created.mpid)
    assert (updated.identities, updated.identities_removed) == ({"email": "b@x"}, [])
    assert (updated.attributes, updated.attributes_removed) == ({"plan": "team"}, ["age"])
    assert changes["C2"].created and changes["C2"].attributes == {"plan": "free"}
    assert second.event_ids == []


def test_it_removes_an_attribute_sent_as_null(feed):
    apply(feed, batch({"email": "a@x"}, {"plan": "pro", "age": 3}))
    result = apply(feed, batch({"email": "a@x"}, {"plan": None}), orders=[5])
    assert result.updated == 1
    assert profiles(feed) == [{"identities": {"email": "a@x"}, "attributes": {"age": 3}}]


def test_it_keeps_lists_as_lists(feed):
    apply(feed, batch({"email": "a@x"}, {"tags": ["b", "a"], "nested": {"k": [1, 2]}}))
    values = Profile.objects.get().attribute_values()
    assert values["tags"] == ["b", "a"]
    assert values["nested"] == {"k": [1, 2]}


def test_it_lets_the_newest_row_win_inside_a_page(feed):
    apply(
        feed,
        batch({"email": "a@x"}, {"plan": "new"}),
        batch({"email": "a@x"}, {"plan": "old"}),
        orders=[datetime(2024, 5, 2), datetime(2024, 5, 1)],
    )
    assert profiles(feed)[0]["attributes"] == {"plan": "new"}


def test_it_lets_the_newest_row_win_across_pages(feed):
    apply(feed, batch({"email": "a@x"}, {"plan": "new"}), orders=[datetime(2024, 5, 2)])
    result = apply(feed, batch({"email": "a@x"}, {"plan": "old"}), orders=[datetime(2024, 5, 1)])
    assert result.unchanged == 1
    assert profiles(feed)[0]["attributes"] == {"plan": "new"}


def test_it_records_lineage_of_each_attribute(feed):
    apply(feed, batch({"email": "a@x"}, {"plan": "pro"}), orders=[datetime(2024, 5, 2, 12)], run_id=7)
    (attribute,) = Profile.objects.get().attribute_facts()
    assert (attribute.name, attribute.feed_id, attribute.run_id) == ("plan", feed.pk, 7)
    assert attribute.source_order.startswith("2024-05-02T12:00:00")
    assert attribute.updated_at is not None and attribute.updated_at.tzinfo is not None


def test_it_tells_1_from_true_from_1_point_0(feed):
    apply(feed, batch({"email": "a@x"}, {"v": 1}))
    assert apply(feed, batch({"email": "a@x"}, {"v": True}), orders=[2]).updated == 1
    assert apply(feed, batch({"email": "a@x"}, {"v": 1.0}), orders=[3]).updated == 1
    assert apply(feed, batch({"email": "a@x"}, {"v": 1.0}), orders=[4]).unchanged == 1


def test_it_writes_a_page_of_1000_rows_with_a_constant_number_of_queries(feed):
    page = [
        batch({"customer_id": f"C{i}", "email": f"{i}@x"}, {"n": i, "tags": ["a"]}, events=[event(f"m{i}")])
        for i in range(1000)
    ]
    with CaptureQueriesContext(connection) as new_rows:
        apply(feed, *page)
    changed = [batch({"customer_id": f"C{i}", "email": f"{i}@y"}, {"n": None, "m": i}) for i in range(1000)]
    with CaptureQueriesContext(connection) as changed_rows:
        result = apply(feed, *changed, orders=list(range(2000, 3000)))
    assert result.updated == 1000
    assert len(new_rows) <= 20 and len(changed_rows) <= 20
    assert Profile.objects.count() == 1000 and Identity.objects.filter(value__endswith="@y").count() == 1000


def test_it_previews_the_changes_without_writing(feed):
    apply(feed, batch({"customer_id": "C1", "email": "a@x"}, {"plan": "free"}))
    counts = (
        Profile.objects.count(),
        Identity.objects.count(),
        _attribute_count(),
        Event.objects.count(),
    )
    changes = preview_batches(
        feed=feed,
        batches=[
            batch({"customer_id": "C1", "email": "b@x"}, {"plan": "pro"}),
            batch({"customer_id": "C2"}, {"plan": "free"}, events=[event("m1")]),
            batch({"customer_id": "C2"}, {"plan": "free"}),
            batch({}, {"plan": "x"}),
        ],
        row_keys=["r1", "r2", "r3", "r4"],
    )
    assert [c.outcome for c in changes] == ["update", "create", "unchanged", "reject"]
    first = changes[0]
    assert first.mpid == Profile.objects.get().mpid
    assert (first.identities_before, first.identities_after) == (
        {"customer_id": "C1", "email": "a@x"},
        {"customer_id": "C1", "email": "b@x"},
    )
    assert (first.attributes_before, first.attributes_after) == ({"plan": "free"}, {"plan": "pro"})
    assert changes[1].mpid is None and changes[1].events == [event("m1")]
    assert (
        Profile.objects.count(),
        Identity.objects.count(),
        _attribute_count(),
        Event.objects.count(),
    ) == counts


def _attribute_count() -> int:
    return sum(len(p.attributes) for p in Profile.objects.all())


def test_it_rewrites_only_the_attributes_a_row_changes(feed):
    apply(feed, batch({"email": "a@x"}, {"plan": "free", "age": 3}), run_id=1)
    apply(feed, batch({"email": "a@x"}, {"plan": "pro", "city": None}), orders=[5], run_id=2)
    facts = {f.name: f for f in Profile.objects.get().attribute_facts()}
    assert (facts["plan"].value, facts["plan"].run_id) == ("pro", 2)
    assert (facts["age"].value, facts["age"].run_id) == (3, 1)  # untouched: lineage of run 1 kept
    assert facts["age"].updated_at < facts["plan"].updated_at
