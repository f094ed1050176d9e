"""Property: any sequence of pages lands in the store exactly as a tiny plain-Python model says."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.profiles.models import Identity, Profile
from tests.profile_fixtures import identities_by_profile
from tests.profiles.conftest import apply, batch, make_feed

TYPES = ("customer_id", "email", "other")
VALUES = ("a", "b", "c")


class Reference:
    """The rules written the simplest way: one row at a time, profiles as dicts."""

    def __init__(self):
        self.profiles = []  # [{"ids": {type: value}, "attrs": {name: (value, order)}}]

    def owner(self, identity_type, value):
        return next((p for p in self.profiles if p["ids"].get(identity_type) == value), None)

    def match(self, ids):
        cid = ids.get("customer_id")
        if cid is not None and self.owner("customer_id", cid):
            return self.owner("customer_id", cid)
        for t in TYPES[1:]:
            p = self.owner(t, ids[t]) if t in ids else None
            if p and (cid is None or "customer_id" not in p["ids"]):
                return p
        return None

    def apply_row(self, ids, attrs, order):
        if not ids:
            return
        p = self.match(ids)
        if p is None:
            p = {"ids": {}, "attrs": {}}
            self.profiles.append(p)
        for t, v in ids.items():
            if self.owner(t, v) is None:
                p["ids"][t] = v
        for name, value in attrs.items():
            current = p["attrs"].get(name)
            if current is not None and current[1] > order:
                continue
            if value is None:
                p["attrs"].pop(name, None)
            elif current is None or current[0] != value:
                p["attrs"][name] = (value, order)

    def snapshot(self):
        return sorted(
            (sorted(p["ids"].items()), sorted((n, v) for n, (v, _) in p["attrs"].items()))
            for p in self.profiles
        )


rows = st.tuples(
    st.dictionaries(st.sampled_from(TYPES), st.sampled_from(VALUES), max_size=3),
    st.dictionaries(st.sampled_from(("x", "y")), st.one_of(st.none(), st.integers(0, 2)), max_size=2),
    st.integers(0, 20),  # iterator value
)
pages = st.lists(st.lists(rows, min_size=1, max_size=6), min_size=1, max_size=4)
feed_numbers = itertools.count()


def store_snapshot(feed):
    result = []
    owned = identities_by_profile(feed.workspace)
    for profile in Profile.objects.filter(workspace=feed.workspace):
        ids = sorted(owned.get(profile.pk, {}).items())
        attrs = sorted(profile.attribute_values().items())
        result.append((ids, attrs))
    return sorted(result)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pages=pages)
def test_it_matches_the_reference_model(workspace, pages):
    Identity.objects.all().delete()  # a profile's deletion leaves its identity rows (no index by profile)
    Profile.objects.all().delete()
    feed = make_feed(workspace, f"feed-{next(feed_numbers)}")
    model = Reference()
    for page in pages:
        apply(feed, *(batch(ids, attrs) for ids, attrs, _ in page), orders=[order for *_, order in page])
        # The store resolves a page newest row last (a stable sort by iterator value).
        for ids, attrs, order in sorted(page, key=lambda r: r[2]):
            model.apply_row(ids, attrs, order)
    assert store_snapshot(feed) == model.snapshot()
