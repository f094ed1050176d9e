"""Finding profiles for the profile explorer: by MPID or identity value, and one profile's facts."""

from __future__ import annotations

import re
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404

from feeds.accounts.models import Workspace
from feeds.mapping import IDENTITY_TYPES
from feeds.models import DeletedFeed, Environment, Feed
from feeds.profiles.models import AttributeFact, Event, Identity, Profile

PROFILES_PER_PAGE = 25
EVENTS_PER_PAGE = 25


def environment_from(value: str | None, workspace: Workspace | None = None) -> str:
    """Return a valid environment name: the one asked for, else production.

    With the workspace given, a workspace whose profiles are all in development opens there, instead of
    on an empty production list.
    """
    if value in Environment.values:
        return str(value)
    if workspace is not None:
        profiles = Profile.objects.filter(workspace=workspace)
        if not profiles.filter(environment=Environment.PRODUCTION).exists() and profiles.exists():
            return Environment.DEVELOPMENT
    return Environment.PRODUCTION


def search_profiles(workspace: Workspace, environment: str, query: str) -> QuerySet[Profile]:
    """Return the environment's profiles whose MPID or an identity value equals `query` (all when empty).

    An email typed with capitals also finds its lower-case form; exact matches keep the lookup on the
    identity index (a case-insensitive comparison would scan).
    """
    profiles = Profile.objects.filter(workspace=workspace, environment=environment)
    query = query.strip()
    if not query:
        return profiles.order_by("-updated_at", "id")
    if "\x00" in query:  # no identity holds NUL, and PostgreSQL refuses it in a query (a 500)
        return profiles.none()
    values = {query, query.lower()}
    # Every identity type spelled out: the primary key is (workspace, environment, identity_type, value), and
    # without the type a value lookup scanned every identity of the environment (400,000 rows for 200,000
    # profiles, the slowest page under bench/load_bench.py); with it, one index probe per type.
    owners = Identity.objects.filter(
        workspace=workspace, environment=environment, identity_type__in=IDENTITY_TYPES, value__in=values
    )
    ids = set(owners.values_list("profile_id", flat=True))
    mpid = mpid_from(query)
    if mpid is not None:
        ids.update(profiles.filter(mpid=mpid).values_list("id", flat=True))
    # The few ids first, then the profiles by primary key: as one `id IN (subquery)` statement SQLite walked
    # every profile of the environment testing each against the subquery.
    matches = profiles.filter(id__in=ids)
    return matches.order_by("-updated_at", "id")


# wsync's MPIDs are positive 63-bit numbers (as the profile page's URL expects). isdigit() would let "²" through
# to int(), and a longer number would overflow the database column: both were a 500.
MPID_TEXT = re.compile(r"[0-9]{1,19}")


def mpid_from(query: str) -> int | None:
    """Return the MPID a search text spells, or None when it is not one (it may still be an identity value)."""
    if not MPID_TEXT.fullmatch(query):
        return None
    value = int(query)
    return value if value < 2**63 else None


def search_page(workspace: Workspace, environment: str, query: str, page: str | None) -> Page:
    """Return one page of `search_profiles` (each profile's identities are on its row)."""
    profiles = search_profiles(workspace, environment, query)
    return Paginator(profiles, PROFILES_PER_PAGE).get_page(page)


def profile_or_404(workspace: Workspace, environment: str, mpid: int) -> Profile:
    profile = Profile.objects.filter(workspace=workspace, environment=environment, mpid=mpid).first()
    if profile is None:
        raise Http404("No such profile")
    return profile


def profile_facts(profile: Profile) -> dict[str, Any]:
    """Return a profile's identities and attributes, each attribute with its lineage (feed, run, when)."""
    attributes = _with_feeds(profile.attribute_facts())
    gone = {f.feed_id for f in attributes if f.feed_id is not None and f.feed is None}
    return {
        "identities": identity_rows(profile),
        "attributes": attributes,
        # {feed id: name} of the deleted feeds that set an attribute (their tombstones).
        "deleted_feeds": DeletedFeed.names(profile.workspace_id, gone),
    }


def identity_rows(profile: Profile) -> list[Identity]:
    """Return the profile's identities, each with the feed that claimed it, sorted by type.

    Read by primary key from the pairs of the profile's document (one query): the identity table has no
    index by profile.
    """
    keys = [(profile.workspace_id, profile.environment, t, v) for t, v in profile.identity_pairs()]
    if not keys:
        return []
    rows = Identity.objects.filter(pk__in=keys).select_related("feed")
    return sorted(rows, key=lambda i: i.identity_type)


def _with_feeds(facts: list[AttributeFact]) -> list[AttributeFact]:
    """Attach each attribute's feed (one query); a deleted feed leaves None."""
    feeds = Feed.objects.in_bulk({f.feed_id for f in facts if f.feed_id is not None})
    for fact in facts:
        fact.feed = feeds.get(fact.feed_id) if fact.feed_id is not None else None
    return facts


def profile_events(profile: Profile) -> QuerySet[Event]:
    """Return a profile's events, newest first."""
    return profile.events.select_related("feed").order_by("-timestamp", "-id")


def events_page(profile: Profile, page: str | None) -> Page:
    return Paginator(profile_events(profile), EVENTS_PER_PAGE).get_page(page)
