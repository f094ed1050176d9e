"""One-time invitation links: a new member chooses their own password instead of being given one.

A link carries the user's id and a token from InviteTokenGenerator (Django's password-reset tokens with a
salt of their own, so a reset link is no invitation and the other way round). The token is made from the
user's password hash and last sign-in, so it stops working once used (the password changed), when a newer
invitation replaces the unusable password, and after PASSWORD_RESET_TIMEOUT.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


class InviteTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "wsync.accounts.invitations.InviteTokenGenerator"


invite_tokens = InviteTokenGenerator()


@dataclass(frozen=True)
class Invitation:
    """The two parts of an invitation link's path: the user's id (base64) and the one-time token."""

    uidb64: str
    token: str


def invite(user: User) -> Invitation:
    """Return a fresh invitation for a user who has not chosen a password; earlier links stop working."""
    user.set_unusable_password()  # a new random unusable hash: the tokens of older links no longer match
    user.save(update_fields=["password"])
    return Invitation(urlsafe_base64_encode(force_bytes(user.pk)), invite_tokens.make_token(user))


def is_pending(user: User) -> bool:
    """Return True for a user who was invited and has not chosen a password yet."""
    return not user.has_usable_password()
