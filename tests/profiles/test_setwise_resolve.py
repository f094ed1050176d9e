"""Set-wise resolution: rows that no other row and no stored profile can meet are settled in one pass,
with exactly the result the ordered row-by-row loop gives."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from feeds.profiles.resolve import (
    CREATE_AND_UPDATE,
    UPDATE_ONLY,
    ProfileState,
    Resolver,
    StoreState,
    row_identities,
)
from tests.profiles.conftest import batch

TYPES = ("customer_id", "email", "other")
VALUES = ("a", "b", "c", "d", "e", "f")


def stored() -> StoreState:
    """A store holding one profile (customer_id a, email b), as a page would load it."""
    state = StoreState()
    state.add(ProfileState(7, 70, {"customer_id": "a", "email": "b"}, {"x": (1, 1, 1, "")}))
    for profile in state.by_mpid.values():
        profile.identities_before = dict(profile.identities)
        profile.attributes_before = dict(profile.attributes)
    return state


def resolve(batches: list[dict], orders: list[str], *, setwise: bool, protection: str = CREATE_AND_UPDATE):
    """Resolve a page newest row last; snapshots=True is the plain loop (the set-wise pass stays out of it)."""
    mpids = itertools.count(1000)
    resolver = Resolver(
        stored(),
        protection=protection,
        feed_id=1,
        run_id=2,
        new_mpid=lambda: next(mpids),
        snapshots=not setwise,
        at="2026-01-01T00:00:00+00:00",
    )
    identities = [row_identities(b) for b in batches]
    keys = [f"row {i}" for i in range(len(batches))]
    settled = resolver.create_unseen(batches, keys, identities, orders) if setwise else {}
    order = sorted(range(len(batches)), key=orders.__getitem__)
    outcomes = {
        i: settled[i] if i in settled else resolver.resolve(batches[i], keys[i], orders[i], identities[i])
        for i in order
    }
    return resolver, outcomes, settled


def picture(resolver: Resolver, outcomes: dict) -> tuple:
    """The page's result without the MPIDs new profiles drew (they come in another order set-wise)."""
    profiles = sorted(
        (
            sorted(p.identities.items()),
            sorted((n, tuple(a)) for n, a in p.attributes.items()),
            p.created,
            p.changed,
        )
        for p in resolver.state.by_mpid.values()
    )
    kinds = sorted((i, o.outcome, o.reason, len(o.conflicts)) for i, o in outcomes.items())
    return profiles, kinds, len(resolver.created)


rows = st.tuples(
    st.dictionaries(st.sampled_from(TYPES), st.sampled_from(VALUES), max_size=3),
    st.dictionaries(st.sampled_from(("x", "y")), st.one_of(st.none(), st.integers(0, 2)), max_size=2),
    st.integers(0, 9),
)


@given(
    page=st.lists(rows, min_size=1, max_size=12), protection=st.sampled_from([CREATE_AND_UPDATE, UPDATE_ONLY])
)
def test_the_set_wise_pass_gives_what_the_ordered_loop_gives(page, protection):
    batches = [batch(ids, attrs) for ids, attrs, _ in page]
    orders = [f"{order:02d}" for *_, order in page]
    plain = resolve(batches, orders, setwise=False, protection=protection)
    setwise = resolve(batches, orders, setwise=True, protection=protection)
    assert picture(*setwise[:2]) == picture(*plain[:2])


def test_only_rows_that_cannot_meet_another_are_settled_set_wise():
    batches = [
        batch({"customer_id": "n1", "email": "n1@x"}, {"plan": "free"}),  # new, alone: set-wise
        batch({"customer_id": "n2"}, {"plan": None}),  # new, alone, NULL left out: set-wise
        batch({"email": "shared"}),  # shares a value with the next row: in order
        batch({"customer_id": "n3", "email": "shared"}),
        batch({"email": "b"}, {"x": 2}),  # the stored profile's email: in order
        batch({"customer_id": "n4"}, mpid=70),  # addressed by MPID: in order
        batch({}),  # no identity: rejected in order
    ]
    resolver, outcomes, settled = resolve(batches, ["01"] * len(batches), setwise=True)

    assert sorted(settled) == [0, 1]
    first, second = settled[0].profile, settled[1].profile
    assert first is not None and second is not None
    assert (first.identities, first.attributes) == (
        {"customer_id": "n1", "email": "n1@x"},
        {"plan": ("free", 1, 2, "01")},
    )
    assert first.set_at == {"2": "2026-01-01T00:00:00+00:00"} and second.set_at == {}
    assert (second.identities, second.attributes, second.created, second.changed) == (
        {"customer_id": "n2"},
        {},
        True,
        True,
    )
    assert [outcomes[i].outcome for i in range(len(batches))] == [
        "create",
        "create",
        "create",
        "update",
        "update",
        "update",
        "reject",
    ]
