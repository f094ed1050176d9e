"""Look-ups of feed objects through the one access check (feeds.accounts.access.require_member)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from feeds.accounts.access import require_member
from feeds.accounts.models import Membership, Role
from feeds.models import Feed, FeedState


def feed_for_user(
    user: object, workspace_slug: str, feed_id: int, role: str = Role.VIEWER
) -> tuple[Membership, Feed]:
    """Return (membership, feed); raises Http404 outside the workspace and PermissionDenied for a lesser role."""
    membership = require_member(user, workspace_slug, role)
    # The schedule and rule set come in the same query: the summary and its 2-second poll show both.
    feed = (
        Feed.objects.select_related(
            "connection", "data_model", "field_transformation", "sync_schedule", "rule_set"
        )
        .filter(workspace=membership.workspace, pk=feed_id)
        .first()
    )
    if feed is None:
        raise Http404("No such feed")
    return membership, feed


def may_delete(membership: Membership, feed: Feed) -> bool:
    """Return True when the member may delete the feed: an admin any feed, an editor a draft they started.

    An abandoned wizard's draft is its starter's to clear; it is also removed once untouched for a while
    (feeds.wizard.abandoned).
    """
    if membership.allows(Role.ADMIN):
        return True
    own_draft = feed.state == FeedState.DRAFT and feed.created_by_id == membership.user_id
    return own_draft and membership.allows(Role.EDITOR)


def feed_to_delete(user: object, workspace_slug: str, feed_id: int) -> tuple[Membership, Feed]:
    """Return (membership, feed) when the user may delete it (may_delete); raises Http404 or PermissionDenied."""
    membership, feed = feed_for_user(user, workspace_slug, feed_id)
    if not may_delete(membership, feed):
        reason = f"This needs the Admin role in {membership.workspace.name}."
        if feed.state == FeedState.DRAFT:
            reason += " The editor who started a draft may delete it too."
        raise PermissionDenied(reason)
    return membership, feed
