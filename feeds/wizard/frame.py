"""What every wizard page shares: the feed looked up through the one access check, and the stepper."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from feeds.accounts.models import Membership, Role
from feeds.models import Feed
from feeds.pages.access import feed_for_user
from feeds.wizard import draft, steps


def step_feed(request: HttpRequest, ws: str, feed_id: int) -> tuple[Membership, Feed]:
    """Return (membership, feed): viewers may read (GET/HEAD), anything else needs an editor."""
    role = Role.VIEWER if request.method in ("GET", "HEAD") else Role.EDITOR
    return feed_for_user(request.user, ws, feed_id, role)


def step_context(membership: Membership, feed: Feed | None, step: str, **extra: Any) -> dict[str, Any]:
    """Return the context every step template needs (workspace, nav, stepper, whether it may edit)."""
    return {
        "workspace": membership.workspace,
        "membership": membership,
        "nav": "feeds",
        "feed": feed,
        "steps": steps.STEPS,
        "step": step,
        "step_index": steps.step_index(step),
        "can_edit": membership.allows(Role.EDITOR),
        "live": feed is not None and draft.is_live(feed),
        **extra,
    }
