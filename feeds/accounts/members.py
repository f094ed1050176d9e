"""Managing a workspace's members and their roles (admins only), each change written to the audit log."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from feeds import audit
from feeds.accounts.models import Membership, Role, Workspace
from feeds.accounts.people import ensure_user


class MemberChangeRefused(Exception):
    """A change that would leave the workspace without an admin, or similar; the message says why."""


@transaction.atomic
def add_member(
    workspace: Workspace, actor: Any, email: str, role: str, request: HttpRequest | None = None
) -> tuple[Membership, str | None]:
    """Return (membership, initial password for a new user or None); raises MemberChangeRefused."""
    user, password = ensure_user(email)
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise MemberChangeRefused(f"{email} is already a member of {workspace.name}.")
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    audit.record(workspace, actor, "member added", email, changes={"role": (None, role)}, request=request)
    return membership, password


@transaction.atomic
def change_role(membership: Membership, actor: Any, role: str, request: HttpRequest | None = None) -> None:
    """Give the member another role; raises MemberChangeRefused for the last admin."""
    before = membership.role
    if before == Role.ADMIN and role != Role.ADMIN:
        _keep_an_admin(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    target = membership.user.get_username()
    audit.record(
        membership.workspace, actor, "role changed", target, changes={"role": (before, role)}, request=request
    )


@transaction.atomic
def remove_member(membership: Membership, actor: Any, request: HttpRequest | None = None) -> None:
    """Remove the member; raises MemberChangeRefused for the last admin."""
    if membership.role == Role.ADMIN:
        _keep_an_admin(membership)
    target = membership.user.get_username()
    membership.delete()
    audit.record(membership.workspace, actor, "member removed", target, request=request)


def _keep_an_admin(membership: Membership) -> None:
    admins = Membership.objects.select_for_update().filter(workspace=membership.workspace, role=Role.ADMIN)
    if admins.exclude(pk=membership.pk).count() == 0:
        raise MemberChangeRefused("A workspace needs at least one admin. Make someone else an admin first.")
