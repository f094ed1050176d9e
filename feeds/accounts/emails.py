"""The emails wsync sends to people (password reset mails are Django's own): an invitation to a workspace."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from feeds.accounts.models import Workspace


def send_invitation(email: str, link: str, workspace: Workspace, inviter: Any) -> None:
    """Send the one-time invitation link; it is valid for PASSWORD_RESET_TIMEOUT."""
    ctx = {
        "link": link,
        "workspace": workspace,
        "inviter": inviter.get_username(),
        "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
    }
    subject = f"You are invited to {workspace.name} on wsync"
    send_mail(subject, render_to_string("accounts/email/invitation.txt", ctx), None, [email])
