"""Read models for the profile explorer: search by identity value or MPID, a profile with its lineage."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Q
from django.http import Http404

from feeds.accounts.models import Workspace
from feeds.models import Environment
from feeds.profiles.models import Event, Identity, Profile

PROFILES_PER_PAGE = 25
EVENTS_PER_PAGE = 25


def environment_from(value: str | None) -> str:
    """Return a valid environment name, production unless development is asked for."""
    return value if value in Environment.values else Environment.PRODUCTION


def search(workspace: Workspace, environment: str, query: str, page: str | None) -> Page:
    """Return a page of profiles whose MPID or any identity value matches `query` (all when empty)."""
    profiles = Profile.objects.filter(workspace=workspace, environment=environment)
    if query:
        matches = Q(identities__value__iexact=query)
        if query.lstrip("-").isdigit():
            matches |= Q(mpid=int(query))
        profiles = profiles.filter(matches).distinct()
    profiles = profiles.order_by("-updated_at", "pk").prefetch_related("identities")
    return Paginator(profiles, PROFILES_PER_PAGE).get_page(page)


def profile_or_404(workspace: Workspace, environment: str, mpid: int) -> Profile:
    profile = Profile.objects.filter(workspace=workspace, environment=environment, mpid=mpid).first()
    if profile is None:
        raise Http404("No such profile")
    return profile


def profile_facts(profile: Profile) -> dict[str, Any]:
    """Return the profile's identities and its attributes with lineage (feed, run, when)."""
    identities = Identity.objects.filter(profile=profile).order_by("identity_type")
    attributes = profile.attributes.select_related("feed").order_by("name")
    return {"identities": list(identities), "attributes": list(attributes)}


def events_page(profile: Profile, page: str | None) -> Page:
    """Return a page of the profile's events, newest first."""
    events = Event.objects.filter(profile=profile).select_related("feed").order_by("-timestamp", "-pk")
    return Paginator(events, EVENTS_PER_PAGE).get_page(page)
