"""Fixtures for the profile store: a feed built directly with the ORM, and a helper to apply pages."""

from __future__ import annotations

from typing import Any

import pytest

from feeds.accounts.models import Workspace
from feeds.models import Connection, Feed
from feeds.profiles.models import Profile
from feeds.profiles.store import ApplyResult, apply_batches
from tests.feed_fixtures import build_feed
from tests.profile_fixtures import identities_by_profile


def make_feed(workspace: Workspace, slug: str = "crm-users", **settings: Any) -> Feed:
    connection, _ = Connection.objects.get_or_create(
        workspace=workspace,
        slug="demo",
        defaults={"name": "Demo", "provider": "duckdb", "config": {"path": "/tmp/demo.duckdb"}},
    )
    return build_feed(
        workspace,
        connection,
        sql="SELECT 1",
        slug=slug,
        name=slug,
        iterator="updated_at",
        iterator_type="timestamp",
        **settings,
    )


@pytest.fixture
def feed(workspace: Workspace) -> Feed:
    return make_feed(workspace)


def batch(identities: dict | None = None, attributes: dict | None = None, **extra: Any) -> dict:
    return {
        "environment": "production",
        "user_identities": identities or {},
        "user_attributes": attributes or {},
        "events": [],
        **extra,
    }


def apply(feed: Feed, *batches: dict, orders: list | None = None, run_id: int | None = 1) -> ApplyResult:
    keys = [f"row {i + 1}" for i in range(len(batches))]
    return apply_batches(
        feed=feed,
        run_id=run_id,
        batches=list(batches),
        row_keys=keys,
        iterator_values=orders if orders is not None else list(range(1, len(batches) + 1)),
    )


def profiles(feed: Feed) -> list[dict]:
    """Return the store as plain data: each profile's identities and attributes, sorted."""
    result = []
    owned = identities_by_profile(feed.workspace, feed.environment)
    for profile in Profile.objects.filter(workspace=feed.workspace, environment=feed.environment):
        identities = owned.get(profile.pk, {})
        attributes = profile.attribute_values()
        result.append({"identities": identities, "attributes": attributes})
    return sorted(result, key=lambda p: sorted(p["identities"].items()))
