"""Template context: the workspaces the signed-in user belongs to, for the switcher."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from feeds.accounts.models import Membership


def workspaces(request: HttpRequest) -> dict[str, Any]:
    if not request.user.is_authenticated:
        return {}
    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    return {"my_memberships": list(memberships)}
