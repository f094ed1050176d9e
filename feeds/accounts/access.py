"""The one place that decides who may see and change what.

Every view and API call goes through `require_member`: outside the workspace is a 404 (never a
hint that it exists), a role that may not is a 403.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from feeds.accounts.models import Membership, Role


def membership_for(user: Any, workspace_slug: str) -> Membership | None:
    """Return the user's membership in the workspace, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Membership.objects.select_related("workspace", "user")
        .filter(user=user, workspace__slug=workspace_slug)
        .first()
    )


def require_member(user: Any, workspace_slug: str, role: str = Role.VIEWER) -> Membership:
    """Return the membership; raises Http404 for non-members and PermissionDenied for a lesser role."""
    membership = membership_for(user, workspace_slug)
    if membership is None:
        raise Http404("No such workspace")
    if not membership.allows(role):
        raise PermissionDenied(f"This needs the {Role(role).label} role in {membership.workspace.name}.")
    return membership
