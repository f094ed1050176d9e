"""Profiles built by hand for tests, with both sides of their identities: the document and the rows."""

from __future__ import annotations

from typing import Any

from feeds.accounts.models import Workspace
from feeds.profiles.models import Identity, Profile


def make_profile(
    workspace: Workspace,
    mpid: int,
    identities: dict[str, str] | None = None,
    environment: str = "production",
    feed_id: int | None = None,
    **fields: Any,
) -> Profile:
    """Create a profile holding `identities` ({type: value}) on its row and as identity rows."""
    identities = identities or {}
    profile = Profile.objects.create(
        workspace=workspace, environment=environment, mpid=mpid, identities=identities, **fields
    )
    Identity.objects.bulk_create(
        Identity(
            workspace=workspace,
            environment=environment,
            identity_type=identity_type,
            value=value,
            profile=profile,
            feed_id=feed_id,
        )
        for identity_type, value in identities.items()
    )
    return profile


def identities_by_profile(workspace: Workspace, environment: str | None = None) -> dict[int, dict[str, str]]:
    """Return {profile id: {type: value}} from the identity rows, checked against the profiles' documents.

    The store writes both sides of a profile's identities together; a test reading the store through this
    fails the moment they disagree.
    """
    scope: dict[str, Any] = {"workspace": workspace}
    if environment is not None:
        scope["environment"] = environment
    rows: dict[int, dict[str, str]] = {}
    for profile_id, kind, value in Identity.objects.filter(**scope).values_list(
        "profile_id", "identity_type", "value"
    ):
        assert kind not in rows.setdefault(profile_id, {}), f"profile {profile_id} has two {kind} rows"
        rows[profile_id][kind] = value
    documents = {
        pk: doc for pk, doc in Profile.objects.filter(**scope).values_list("id", "identities") if doc
    }
    assert rows == documents, "identity rows and profile documents disagree"
    return rows
