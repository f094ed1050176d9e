"""Behind a trusted reverse proxy, the browser's address (not the proxy's) is the one recorded."""

from __future__ import annotations

import pytest
from django.test import Client

from feeds.models import AuditEntry

pytestmark = pytest.mark.django_db


def sign_in_failure_address(**headers: str) -> str | None:
    Client(**headers).post("/accounts/login/", {"username": "nobody@acme.example", "password": "wrong"})
    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.order_by("-pk").first()
    return attempt.ip_address if attempt else None


def test_a_trusted_proxys_forwarded_for_is_the_clients_address(settings):
    settings.WSYNC_TRUSTED_PROXIES = ["127.0.0.0/8"]
    address = sign_in_failure_address(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert (
        address == "203.0.113.9"
    )  # the last entry, the one the proxy added; the first is the client's claim


def test_a_forwarded_for_from_anyone_else_is_ignored(settings):
    settings.WSYNC_TRUSTED_PROXIES = ["10.0.0.1"]
    assert (
        sign_in_failure_address(REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.9")
        == "198.51.100.7"
    )


def test_without_trusted_proxies_the_header_means_nothing(settings, admin):
    settings.WSYNC_TRUSTED_PROXIES = []
    client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    client.force_login(admin)
    client.post("/w/acme/settings/alerts/", {"late_after_intervals": 5})
    assert AuditEntry.objects.get(target="Alert settings").ip_address == "127.0.0.1"
