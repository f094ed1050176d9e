"""Managing a workspace's members and their roles (admins only), each change written to the audit log."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from feeds import audit
from feeds.accounts.invitations import Invitation, invite, is_pending
from feeds.accounts.models import Membership, Role, Workspace
from feeds.accounts.people import user_for_email
from feeds.api.credentials import revoke_credentials_of


class MemberChangeRefused(Exception):
    """A change that would leave the workspace without an admin, or similar; the message says why."""


@transaction.atomic
def add_member(
    workspace: Workspace, actor: Any, email: str, role: str, request: HttpRequest | None = None
) -> tuple[Membership, Invitation | None]:
    """Return (membership, invitation for someone without a password yet, else None).

    Raises MemberChangeRefused for someone who is a member already. Nobody is given a password: a new person
    chooses one through the invitation link.
    """
    user = user_for_email(email)
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise MemberChangeRefused(f"{email} is already a member of {workspace.name}.")
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    audit.record(workspace, actor, "member added", email, changes={"role": (None, role)}, request=request)
    return membership, invite(user) if is_pending(user) else None


@transaction.atomic
def reinvite(membership: Membership, actor: Any, request: HttpRequest | None = None) -> Invitation:
    """Return a new invitation for a member who has not chosen a password; the older link stops working."""
    user = membership.user
    if not is_pending(user):
        raise MemberChangeRefused(f"{user.get_username()} has already chosen a password.")
    audit.record(membership.workspace, actor, "member invited again", user.get_username(), request=request)
    return invite(user)


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
    if before == Role.ADMIN and role != Role.ADMIN:
        revoke_credentials_of(membership.user, membership.workspace, f"{target} is no longer an admin", actor)


@transaction.atomic
def remove_member(membership: Membership, actor: Any, request: HttpRequest | None = None) -> None:
    """Remove the member; raises MemberChangeRefused for the last admin."""
    if membership.role == Role.ADMIN:
        _keep_an_admin(membership)
    target = membership.user.get_username()
    membership.delete()
    audit.record(membership.workspace, actor, "member removed", target, request=request)
    revoke_credentials_of(membership.user, membership.workspace, f"{target} left the workspace", actor)


def _keep_an_admin(membership: Membership) -> None:
    admins = Membership.objects.select_for_update().filter(workspace=membership.workspace, role=Role.ADMIN)
    if admins.exclude(pk=membership.pk).count() == 0:
        raise MemberChangeRefused("A workspace needs at least one admin. Make someone else an admin first.")
