"""Look-ups of feed objects through the one access check (feeds.accounts.access.require_member)."""

from __future__ import annotations

from django.http import Http404

from feeds.accounts.access import require_member
from feeds.accounts.models import Membership, Role
from feeds.models import Feed


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
