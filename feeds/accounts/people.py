"""Creating workspaces and their members (used by the management commands and the demo)."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from feeds.accounts.models import Membership, Role, Workspace


@transaction.atomic
def create_workspace_with_admin(
    slug: str, name: str, email: str, password: str | None = None
) -> tuple[Workspace, User, str | None]:
    """Return (workspace, admin user, new password or None); creates what is missing, keeps what exists."""
    workspace, _ = Workspace.objects.get_or_create(slug=slug, defaults={"name": name})
    user, new_password = ensure_user(email, password)
    Membership.objects.update_or_create(workspace=workspace, user=user, defaults={"role": Role.ADMIN})
    return workspace, user, new_password


def user_for_email(email: str) -> User:
    """Return the user with this email address, created without a usable password when new (invitations)."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=email.lower(), defaults={"email": email.lower()}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def ensure_user(email: str, password: str | None = None) -> tuple[User, str | None]:
    """Return (user, password set now or None); a given password is always (re)set, a new user gets one."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=email.lower(), defaults={"email": email.lower()}
    )
    if password is None and created:
        password = secrets.token_urlsafe(12)
    if password is not None:
        user.set_password(password)
        user.save()
    return user, password
