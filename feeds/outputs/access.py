"""Look-ups of outputs and connections through the one access check (feeds.accounts.access.require_member)."""

from __future__ import annotations

from django.http import Http404

from feeds.accounts.access import require_member
from feeds.accounts.models import Membership, Role
from feeds.outputs.models import FeedOutput, Output


def output_for_user(
    user: object, ws: str, output_id: int, role: str = Role.VIEWER
) -> tuple[Membership, Output]:
    """Return (membership, output); Http404 outside the workspace, PermissionDenied for a lesser role."""
    membership = require_member(user, ws, role)
    output = Output.objects.filter(workspace=membership.workspace, pk=output_id).first()
    if output is None:
        raise Http404("No such output")
    return membership, output


def connection_for_user(
    user: object, ws: str, connection_id: int, role: str = Role.VIEWER
) -> tuple[Membership, FeedOutput]:
    """Return (membership, feed-to-output connection) under the same rules."""
    membership = require_member(user, ws, role)
    connection = (
        FeedOutput.objects.select_related("feed__workspace", "output")
        .filter(feed__workspace=membership.workspace, pk=connection_id)
        .first()
    )
    if connection is None:
        raise Http404("No such connection")
    return membership, connection
