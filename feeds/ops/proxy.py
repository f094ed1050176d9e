"""The browser's address behind a reverse proxy: REMOTE_ADDR from X-Forwarded-For, from trusted proxies only.

gunicorn passes the proxy's own address as REMOTE_ADDR. Sign-in throttling and the audit log need the
browser's, which the proxy appends as the last X-Forwarded-For entry. Anyone can send that header, so it
is read only when the connection comes from an address in WSYNC_TRUSTED_PROXIES, and only its last entry
(the one that proxy added) is taken.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in settings.WSYNC_TRUSTED_PROXIES)


class TrustedProxyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded and settings.WSYNC_TRUSTED_PROXIES and _trusted(request.META.get("REMOTE_ADDR", "")):
            client = forwarded.split(",")[-1].strip()
            if _is_address(client):
                request.META["REMOTE_ADDR"] = client
        return self.get_response(request)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
