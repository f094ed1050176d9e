"""Template context: the workspaces the signed-in user belongs to, for the switcher."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from feeds.accounts.models import Membership


def workspaces(request: HttpRequest) -> dict[str, Any]:
    """Return the memberships lazily: htmx fragments (the 2-second polls) have no switcher, so no query."""
    if not request.user.is_authenticated:
        return {}
    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    return {"my_memberships": SimpleLazyObject(lambda: list(memberships))}
