"""API credentials: create, revoke, re-own, exchange for an access token, and resolve a token (no HTTP here).

A credential acts with the authority of the admin who created it: it works only while that person is an
active admin of the credential's workspace. Losing the admin role or leaving the workspace revokes their
credentials (audited); an admin who wants to keep one working takes it over first (`reown`, audited).
Credentials made from the shell without --created-by have no creator and are the operator's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from feeds import audit
from feeds.accounts.models import Membership, Role, Workspace
from feeds.api.models import AccessToken, ApiCredential

TOKEN_LIFETIME = 28800  # seconds (8 hours), as mParticle's token endpoint
AUDIENCE = "https://api.mparticle.com"


class TokenRefused(Exception):
    """The client id, secret or grant is not accepted; the message says which part to fix."""


@dataclass(frozen=True)
class IssuedCredential:
    credential: ApiCredential
    client_secret: str  # shown once, never stored


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def digest(value: str) -> str:
    """Return the sha256 hex digest stored in place of a secret or token."""
    return hashlib.sha256(value.encode()).hexdigest()


def create_credential(workspace: Workspace, *, name: str, role: str, user: Any = None) -> IssuedCredential:
    """Return a new credential with its client secret (the only time the secret is known)."""
    role = Role(role)
    client_secret = secrets.token_urlsafe(32)
    credential = ApiCredential.objects.create(
        workspace=workspace,
        name=name.strip() or "API credential",
        client_id=f"wsc_{secrets.token_hex(12)}",
        secret_hash=digest(client_secret),
        role=role,
        created_by=user if getattr(user, "pk", None) else None,
    )
    audit.record(workspace, user, "create API credential", f"{credential.name} ({role.label})")
    return IssuedCredential(credential, client_secret)


def revoke_credential(credential: ApiCredential, user: Any = None) -> None:
    """Revoke the credential: its tokens stop working at once and no new ones are issued."""
    credential.revoked = True
    credential.save(update_fields=["revoked"])
    credential.tokens.all().delete()
    audit.record(credential.workspace, user, "revoke API credential", credential.name)


def revoke_credentials_of(user: Any, workspace: Workspace, reason: str, actor: Any = None) -> int:
    """Revoke the live credentials `user` created in the workspace, each audited with `reason`; return how many."""
    live = ApiCredential.objects.filter(workspace=workspace, created_by=user, revoked=False)
    for credential in live:
        credential.revoked = True
        credential.save(update_fields=["revoked"])
        credential.tokens.all().delete()
        audit.record(workspace, actor, "revoke API credential", f"{credential.name} ({reason})")
    return len(live)


def reown(credential: ApiCredential, admin: Any) -> None:
    """Make `admin` the credential's creator, so it keeps working when its first creator leaves (audited)."""
    before = credential.created_by.get_username() if credential.created_by else None
    credential.created_by = admin
    credential.save(update_fields=["created_by"])
    audit.record(
        credential.workspace,
        admin,
        "take over API credential",
        credential.name,
        changes={"created_by": (before, admin.get_username())},
    )


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def revoke_credentials_of_deleted_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Revoke a deleted user's credentials: created_by becomes NULL, which would make them the operator's."""
    for workspace in Workspace.objects.filter(api_credentials__created_by=instance).distinct():
        revoke_credentials_of(instance, workspace, f"{instance.get_username()} was deleted")


def acts_for_an_admin(credential: ApiCredential) -> bool:
    """Return True while the credential's creator is an active admin of its workspace (or it has no creator).

    Checked on every token and request, so a role changed anywhere (the members page, the shell) counts. A
    second plain indexed query measured cheaper than folding the check into the token's query as a join or
    EXISTS (whose ORM compilation cost more than the query itself).
    """
    creator = credential.created_by
    if creator is None:
        return True  # made from the shell without --created-by: the operator's
    admins = Membership.objects.filter(user=creator, workspace_id=credential.workspace_id, role=Role.ADMIN)
    return creator.is_active and admins.exists()


def issue_token(body: dict[str, Any]) -> IssuedToken:
    """Return a new access token for a client-credentials request body; raises TokenRefused."""
    if body.get("grant_type") != "client_credentials":
        raise TokenRefused("Set grant_type to “client_credentials”.")
    client_id, client_secret = body.get("client_id"), body.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str):
        raise TokenRefused("Send client_id and client_secret as text.")
    credential = (
        ApiCredential.objects.select_related("created_by").filter(client_id=client_id, revoked=False).first()
    )
    # Compare even when the id is unknown, so timing does not tell which ids exist.
    expected = credential.secret_hash if credential else digest("")
    if not hmac.compare_digest(expected, digest(client_secret)) or credential is None:
        raise TokenRefused("The client id or client secret is wrong, or the credential was revoked.")
    if not acts_for_an_admin(credential):
        raise TokenRefused(
            "This credential stopped working: the person who created it is no longer an admin of the "
            "workspace. An admin can take it over (Settings › API credentials) or create a new one."
        )
    token = secrets.token_urlsafe(40)
    now = timezone.now()
    AccessToken.objects.filter(credential=credential, expires_on__lt=now).delete()
    AccessToken.objects.create(
        credential=credential, token_hash=digest(token), expires_on=now + timedelta(seconds=TOKEN_LIFETIME)
    )
    ApiCredential.objects.filter(pk=credential.pk).update(last_used_on=now)
    return IssuedToken(token, TOKEN_LIFETIME)


def credential_for_token(token: str) -> ApiCredential | None:
    """Return the live credential an unexpired access token belongs to, or None."""
    found = (
        AccessToken.objects.select_related("credential__workspace", "credential__created_by")
        .filter(token_hash=digest(token), expires_on__gt=timezone.now(), credential__revoked=False)
        .first()
    )
    return found.credential if found and acts_for_an_admin(found.credential) else None
