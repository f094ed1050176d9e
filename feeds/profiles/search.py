"""Finding profiles for the profile explorer: by MPID or identity value, and one profile's facts."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from feeds.accounts.models import Workspace
from feeds.profiles.models import Event, Identity, Profile


def search_profiles(workspace: Workspace, environment: str, query: str) -> QuerySet[Profile]:
    """Return the environment's profiles whose MPID or an identity value equals `query` (all when empty)."""
    profiles = Profile.objects.filter(workspace=workspace, environment=environment)
    query = query.strip()
    if not query:
        return profiles.order_by("-updated_at", "id")
    owners = Identity.objects.filter(workspace=workspace, environment=environment, value=query)
    matches = profiles.filter(id__in=owners.values("profile_id"))
    if query.lstrip("-").isdigit():
        matches = matches | profiles.filter(mpid=int(query))
    return matches.order_by("-updated_at", "id")


def profile_facts(profile: Profile) -> dict[str, Any]:
    """Return a profile's identities and attributes (with lineage) for its page."""
    return {
        "identities": list(
            profile.identities.order_by("identity_type").values("identity_type", "value", "created_at")
        ),
        "attributes": list(
            profile.attributes.order_by("name").values("name", "value", "feed_id", "run_id", "updated_at")
        ),
    }


def profile_events(profile: Profile) -> QuerySet[Event]:
    """Return a profile's events, newest first."""
    return profile.events.order_by("-timestamp", "-id")
