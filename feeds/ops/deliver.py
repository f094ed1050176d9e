"""Sending an incident's messages: email to the chosen members, and a Slack-compatible webhook.

The webhook's host goes through the same outbound allow-list as warehouses (docs/warehouse-security.md):
it is resolved once, checked, and connected to by that address, so DNS cannot point it somewhere else later.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from feeds.accounts.models import Membership, Role
from feeds.ops.models import AlertSettings, Delivery, Incident, IncidentKind
from feeds.warehouses.base import WarehouseError
from feeds.warehouses.outbound import guard_host

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_SECONDS = 10


class WebhookRefused(Exception):
    """The webhook's address is not allowed or did not take the message; the text says why."""


def tell(incident: Incident, event: str) -> list[Delivery]:
    """Send the incident's `event` (opened, resolved) through every channel the workspace chose."""
    config = AlertSettings.objects.filter(workspace_id=incident.workspace_id).first()
    subject, text = message(incident, event)
    deliveries = []
    emails = recipients(incident.workspace_id, config)
    if emails:
        deliveries.append(_email(incident, event, emails, subject, text))
    if config and config.webhook_url:
        deliveries.append(_webhook(incident, event, config.webhook_url, text))
    return deliveries


def recipients(workspace_id: int, config: AlertSettings | None) -> list[str]:
    """Return the addresses to email: the chosen members (still members), or every admin until they choose."""
    members = Membership.objects.filter(workspace_id=workspace_id)
    if config is None:
        members = members.filter(role=Role.ADMIN)
    else:
        members = members.filter(user__in=config.recipients.all())
    return sorted(a for a in members.values_list("user__email", flat=True) if a)


def message(incident: Incident, event: str) -> tuple[str, str]:
    """Return the subject and text of the incident's `event` message."""
    feed = incident.feed
    link = settings.WSYNC_BASE_URL.rstrip("/") + reverse("feeds:summary", args=[feed.workspace.slug, feed.pk])
    if event == "resolved":
        subject = f"Resolved: feed “{feed.name}” is syncing again"
        text = f"{subject}.\nThe incident ({IncidentKind(incident.kind).label.lower()}) opened at {incident.opened_at:%Y-%m-%d %H:%M} UTC is over.\n{link}"
    else:
        subject = f"{IncidentKind(incident.kind).label}: feed “{feed.name}”"
        text = f"{subject} in workspace “{feed.workspace.name}”.\n{incident.summary}\n{link}"
    return f"[wsync] {subject}", text


def send_webhook(url: str, payload: dict[str, Any]) -> int:
    """POST `payload` as JSON to `url` through the allow-list; return the status; raises WebhookRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("The webhook address must start with https:// (or http://).")
    try:
        address = guard_host(parts.hostname, field="webhook_url") or parts.hostname
    except WarehouseError as error:
        raise WebhookRefused(error.message.replace("warehouse hosts", "hosts")) from error
    port = parts.port or (443 if parts.scheme == "https" else 80)
    conn = _connection(parts.scheme, parts.hostname, address, port)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(
            "POST", path, json.dumps(payload), {"Content-Type": "application/json", "Host": parts.netloc}
        )
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as error:
        raise WebhookRefused(f"The webhook did not answer ({type(error).__name__}).") from error
    finally:
        conn.close()
    if not 200 <= status < 300:
        raise WebhookRefused(f"The webhook answered HTTP {status}.")
    return status


def _connection(scheme: str, host: str, address: str, port: int) -> http.client.HTTPConnection:
    if scheme == "http":
        return http.client.HTTPConnection(address, port, timeout=WEBHOOK_TIMEOUT_SECONDS)
    return _PinnedHTTPS(host, address, port)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to the checked address, verifying the certificate for the host name."""

    def __init__(self, host: str, address: str, port: int) -> None:
        super().__init__(host, port, timeout=WEBHOOK_TIMEOUT_SECONDS, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _email(incident: Incident, event: str, emails: list[str], subject: str, text: str) -> Delivery:
    try:
        send_mail(subject, text, None, emails)
    except (
        Exception
    ) as error:  # SMTP errors are many; the history shows the failure, the next event tries again
        log.warning("alert email for incident %s failed: %s", incident.pk, type(error).__name__)
        return _record(
            incident, event, "email", ", ".join(emails), False, f"Not sent ({type(error).__name__})."
        )
    return _record(incident, event, "email", ", ".join(emails), True, "")


def _webhook(incident: Incident, event: str, url: str, text: str) -> Delivery:
    host = urlsplit(url).hostname or ""
    try:
        send_webhook(url, {"text": text})
    except WebhookRefused as refused:
        log.warning("alert webhook for incident %s failed: %s", incident.pk, refused)
        return _record(incident, event, "webhook", host, False, str(refused))
    return _record(incident, event, "webhook", host, True, "")


def _record(incident: Incident, event: str, channel: str, to: str, ok: bool, detail: str) -> Delivery:
    return Delivery.objects.create(
        incident=incident,
        event=event,
        channel=channel,
        to=to[:500],
        ok=ok,
        detail=detail[:300],
        sent_at=timezone.now(),
    )
