"""`{% if membership|allows:"editor" %}`: templates ask the same rule views do (Membership.allows)."""

from __future__ import annotations

from django import template

from feeds.accounts.models import Membership

register = template.Library()


@register.filter
def allows(membership: Membership | None, role: str) -> bool:
    """Return True when the membership's role is at least `role`; an unknown role name raises ValueError."""
    return membership is not None and membership.allows(role)
