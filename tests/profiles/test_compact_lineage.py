"""A profile's values that share the lineage of the row that created it are stored once with it (its origin).

What a reader sees (the explorer's lineage, the resolver's newest-row rule, set_at) is the same as when every
value carried its own lineage; only the stored document is smaller.
"""

from __future__ import annotations

from datetime import datetime

from feeds.profiles.models import Profile
from tests.profiles.conftest import apply, batch, make_feed, profiles


def test_a_new_profiles_values_are_stored_once_with_the_lineage_they_share(feed):
    apply(feed, batch({"email": "a@x"}, {"plan": "pro", "age": 3, "tags": ["a"]}), run_id=7)
    profile = Profile.objects.get()
    assert profile.attributes == {"plan": ["pro"], "age": [3], "tags": [["a"]]}
    assert profile.origin == [feed.pk, 7, profile.origin[2]] and profile.origin[2]
    facts = {f.name: (f.value, f.feed_id, f.run_id, f.source_order) for f in profile.attribute_facts()}
    assert facts == {
        name: (value, feed.pk, 7, profile.origin[2]) for name, value in profile.attribute_values().items()
    }


def test_a_changed_value_is_stored_in_full_and_the_others_keep_the_origin(feed):
    apply(feed, batch({"email": "a@x"}, {"plan": "free", "age": 3}), run_id=1)
    apply(feed, batch({"email": "a@x"}, {"plan": "pro"}), orders=[5], run_id=2)
    profile = Profile.objects.get()
    assert profile.attributes["age"] == [3]
    assert profile.attributes["plan"][:3] == ["pro", feed.pk, 2]
    facts = {f.name: f for f in profile.attribute_facts()}
    assert (facts["age"].value, facts["age"].run_id) == (3, 1)
    assert (facts["plan"].value, facts["plan"].run_id) == ("pro", 2)
    # Run 1 still wrote a value the profile holds, so when it wrote stays known.
    assert set(profile.set_at) == {"1", "2"} and facts["age"].updated_at is not None


def test_an_older_row_of_the_same_feed_never_overwrites_a_value_stored_with_the_origin(feed):
    apply(feed, batch({"email": "a@x"}, {"plan": "new"}), orders=[datetime(2024, 5, 2)], run_id=1)
    result = apply(feed, batch({"email": "a@x"}, {"plan": "old"}), orders=[datetime(2024, 5, 1)], run_id=2)
    assert result.unchanged == 1 and profiles(feed)[0]["attributes"] == {"plan": "new"}


def test_another_feeds_values_keep_their_own_lineage(feed, workspace):
    other = make_feed(workspace, slug="billing")
    apply(feed, batch({"email": "a@x"}, {"plan": "pro", "age": 3}), run_id=1)
    apply(other, batch({"email": "a@x"}, {"plan": "team", "mrr": 90}), run_id=5)
    facts = {f.name: (f.value, f.feed_id, f.run_id) for f in Profile.objects.get().attribute_facts()}
    assert facts == {"age": (3, feed.pk, 1), "plan": ("team", other.pk, 5), "mrr": (90, other.pk, 5)}
    # Applying the first feed's page again changes nothing: its packed value reads as its own.
    assert apply(feed, batch({"email": "a@x"}, {"age": 3}), run_id=1).unchanged == 1
