"""Identity resolution, rule by rule (docs/identity.md, "Resolution rules" and "Input protection")."""

from __future__ import annotations

import pytest

from feeds.profiles.models import Event, Identity, Profile
from tests.profiles.conftest import apply, batch, make_feed, profiles


def mpid_of(feed, identity_type, value):
    return Identity.objects.get(
        workspace=feed.workspace, environment=feed.environment, identity_type=identity_type, value=value
    ).profile.mpid


def test_it_gives_each_new_customer_a_positive_64_bit_mpid(feed):
    apply(feed, batch({"customer_id": "C1"}), batch({"customer_id": "C2"}))
    mpids = list(Profile.objects.values_list("mpid", flat=True))
    assert len(set(mpids)) == 2
    assert all(0 < m < 2**63 for m in mpids)


def test_it_lets_an_identity_value_belong_to_one_profile_only(feed):
    apply(feed, batch({"email": "a@x"}, {"n": 1}))
    apply(feed, batch({"email": "a@x"}, {"n": 2}), orders=[5])
    assert Profile.objects.count() == 1
    assert profiles(feed) == [{"identities": {"email": "a@x"}, "attributes": {"n": 2}}]


@pytest.mark.parametrize("value", ['say "hi"', "back\\slash", "comma,{brace}", "tab\tnew\nline", "NULL", ""])
def test_it_finds_identity_values_again_whatever_characters_they_hold(feed, value):
    # Values travel to the store as array literals and COPY text; both escape quotes, backslashes, controls.
    apply(feed, batch({"customer_id": f"C{value}", "email": f"{value}@x"}, {"n": 1}))
    result = apply(feed, batch({"customer_id": f"C{value}", "email": f"{value}@x"}, {"n": 2}), orders=[5])
    assert (result.created, result.updated) == (0, 1)
    assert profiles(feed) == [
        {"identities": {"customer_id": f"C{value}", "email": f"{value}@x"}, "attributes": {"n": 2}}
    ]


def test_it_replaces_an_older_email_and_releases_it(feed):
    apply(feed, batch({"customer_id": "C1", "email": "old@x"}))
    apply(feed, batch({"customer_id": "C1", "email": "new@x"}), orders=[5])
    assert profiles(feed) == [{"identities": {"customer_id": "C1", "email": "new@x"}, "attributes": {}}]
    apply(feed, batch({"customer_id": "C2", "email": "old@x"}), orders=[6])
    assert Identity.objects.get(value="old@x").profile.identities["customer_id"] == "C2"


def test_it_addresses_a_profile_directly_by_mpid(feed):
    apply(feed, batch({"email": "a@x"}))
    mpid = mpid_of(feed, "email", "a@x")
    result = apply(feed, batch({}, {"plan": "pro"}, mpid=mpid), orders=[5])
    assert result.updated == 1
    assert profiles(feed) == [{"identities": {"email": "a@x"}, "attributes": {"plan": "pro"}}]


def test_it_rejects_a_row_with_an_unknown_mpid(feed):
    result = apply(feed, batch({}, {"plan": "pro"}, mpid=12345))
    assert [r.reason for r in result.rejected] == ["No profile has the MPID 12345 in this environment."]
    assert Profile.objects.count() == 0


def test_it_never_matches_a_profile_with_another_customer_id(feed):
    apply(feed, batch({"customer_id": "C1", "email": "a@x"}))
    result = apply(feed, batch({"customer_id": "C2", "email": "a@x"}), orders=[5])
    assert result.created == 1
    assert [(c.identity_type, c.value, c.owner_mpid) for c in result.conflicts] == [
        ("email", "a@x", mpid_of(feed, "customer_id", "C1"))
    ]
    assert profiles(feed) == [
        {"identities": {"customer_id": "C1", "email": "a@x"}, "attributes": {}},
        {"identities": {"customer_id": "C2"}, "attributes": {}},
    ]


def test_it_lets_a_profile_without_customer_id_take_the_rows_customer_id(feed):
    apply(feed, batch({"email": "a@x"}))
    mpid = mpid_of(feed, "email", "a@x")
    result = apply(feed, batch({"customer_id": "C1", "email": "a@x"}), orders=[5])
    assert (result.created, result.updated) == (0, 1)
    assert mpid_of(feed, "customer_id", "C1") == mpid


def test_it_matches_other_identities_in_priority_order(feed):
    apply(feed, batch({"other": "o1"}), batch({"email": "e1"}))
    result = apply(feed, batch({"other": "o1", "email": "e1"}, {"hit": True}), orders=[5])
    assert result.updated == 1
    assert list(Identity.objects.get(value="e1").profile.attributes) == ["hit"]
    assert [c.identity_type for c in result.conflicts] == ["other"]


def test_it_matches_a_row_without_customer_id_to_a_profile_that_has_one(feed):
    apply(feed, batch({"customer_id": "C1", "email": "a@x"}))
    result = apply(feed, batch({"email": "a@x"}, {"plan": "pro"}), orders=[5])
    assert result.updated == 1 and Profile.objects.count() == 1


def test_it_records_a_conflict_and_neither_moves_nor_merges(feed):
    apply(feed, batch({"customer_id": "C1", "email": "a@x"}), batch({"customer_id": "C2", "email": "b@x"}))
    result = apply(feed, batch({"customer_id": "C1", "email": "b@x"}, {"x": 1}), orders=[5])
    assert [(c.row_key, c.identity_type, c.value) for c in result.conflicts] == [("row 1", "email", "b@x")]
    assert result.conflicts[0].owner_mpid == mpid_of(feed, "customer_id", "C2")
    assert profiles(feed) == [
        {"identities": {"customer_id": "C1", "email": "a@x"}, "attributes": {"x": 1}},
        {"identities": {"customer_id": "C2", "email": "b@x"}, "attributes": {}},
    ]


def test_it_rejects_a_row_without_identity(feed):
    result = apply(feed, batch({}, {"x": 1}), batch({"email": ""}, {"x": 1}))
    assert len(result.rejected) == 2
    assert all("no identity" in r.reason for r in result.rejected)
    assert Profile.objects.count() == 0


def test_it_puts_two_new_rows_with_the_same_email_on_one_new_profile(feed):
    result = apply(feed, batch({"email": "a@x"}, {"n": 1}), batch({"email": "a@x", "other": "o"}, {"m": 2}))
    assert (result.created, result.updated) == (1, 1)
    assert profiles(feed) == [{"identities": {"email": "a@x", "other": "o"}, "attributes": {"n": 1, "m": 2}}]


def test_it_treats_device_ids_and_mp_deviceid_as_identities(feed):
    apply(feed, batch({}, {"n": 1}, device_info={"ios_idfv": "dev-1"}, mp_deviceid="mp-1"))
    result = apply(feed, batch({}, {"n": 2}, mp_deviceid="mp-1"), orders=[5])
    assert result.updated == 1
    assert profiles(feed) == [
        {"identities": {"ios_idfv": "dev-1", "mp_deviceid": "mp-1"}, "attributes": {"n": 2}}
    ]


@pytest.mark.parametrize("protection", ["update_only", "read_only"])
def test_it_creates_no_profile_unless_create_and_update(workspace, protection):
    feed = make_feed(workspace, input_protection=protection)
    result = apply(feed, batch({"email": "a@x"}))
    assert Profile.objects.count() == 0
    assert "input protection" in result.rejected[0].reason


def test_it_updates_existing_profiles_with_update_only(workspace):
    writer = make_feed(workspace, "writer")
    apply(writer, batch({"email": "a@x"}, {"n": 1}))
    feed = make_feed(workspace, "updater", input_protection="update_only")
    result = apply(feed, batch({"email": "a@x", "other": "o"}, {"n": 2}), batch({"email": "new@x"}))
    assert (result.updated, len(result.rejected)) == (1, 1)
    assert profiles(feed) == [{"identities": {"email": "a@x", "other": "o"}, "attributes": {"n": 2}}]


def test_it_changes_nothing_but_records_events_with_read_only(workspace):
    writer = make_feed(workspace, "writer")
    apply(writer, batch({"email": "a@x"}, {"n": 1}))
    feed = make_feed(workspace, "reader", input_protection="read_only")
    event = {"event_type": "custom_event", "data": {"event_name": "buy", "source_message_id": "m1"}}
    result = apply(feed, batch({"email": "a@x", "other": "o"}, {"n": 2}, events=[event]))
    assert (result.unchanged, result.events_written) == (1, 1)
    assert profiles(feed) == [{"identities": {"email": "a@x"}, "attributes": {"n": 1}}]
    assert Event.objects.get().profile.mpid == mpid_of(feed, "email", "a@x")


def test_it_keeps_environments_apart(workspace):
    production = make_feed(workspace, "prod")
    development = make_feed(workspace, "dev", environment="development")
    apply(production, batch({"email": "a@x"}, {"n": 1}))
    apply(development, batch({"email": "a@x"}, {"n": 2}))
    assert Profile.objects.filter(environment="production").count() == 1
    assert Profile.objects.filter(environment="development").count() == 1
    assert profiles(production) == [{"identities": {"email": "a@x"}, "attributes": {"n": 1}}]
    assert profiles(development) == [{"identities": {"email": "a@x"}, "attributes": {"n": 2}}]


def test_it_keeps_workspaces_apart(workspace, other_workspace):
    apply(make_feed(workspace), batch({"email": "a@x"}))
    apply(make_feed(other_workspace), batch({"email": "a@x"}))
    assert Profile.objects.count() == 2
