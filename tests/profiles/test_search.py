from __future__ import annotations

from feeds.profiles.models import Profile
from feeds.profiles.search import profile_facts, search_profiles
from tests.profiles.conftest import apply, batch, make_feed


def test_it_finds_profiles_by_identity_value_or_mpid(feed, workspace):
    apply(feed, batch({"email": "a@x"}, {"plan": "pro"}), batch({"email": "b@x"}))
    apply(make_feed(workspace, "dev", environment="development"), batch({"email": "a@x"}))
    (found,) = search_profiles(workspace, "production", "a@x")
    assert list(search_profiles(workspace, "production", str(found.mpid))) == [found]
    assert search_profiles(workspace, "production", "").count() == 2
    assert search_profiles(workspace, "production", "nobody@x").count() == 0
    facts = profile_facts(found)
    assert [i.value for i in facts["identities"]] == ["a@x"]
    assert [(a.name, a.value, a.feed) for a in facts["attributes"]] == [("plan", "pro", feed)]


def test_it_finds_nothing_in_another_workspace(feed, other_workspace):
    apply(feed, batch({"email": "a@x"}))
    assert search_profiles(other_workspace, "production", "a@x").count() == 0
    assert Profile.objects.count() == 1
