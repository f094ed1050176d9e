"""Sign-in throttling (django-axes) for the login page and the API's token endpoint.

django-axes counts failed sign-ins in the database (so every web process sees the same count) per account
and per address, refuses further attempts during a cool-off, and resets on success. This module adapts it
to wsync: which name an attempt counts against, and how a refusal looks on the page and in the API.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from feeds.accounts.forms import SignInForm

API_PREFIX = "/oauth/"


class SignInThrottleBackend(AxesStandaloneBackend):
    """Refuse sign-ins of a locked-out account or address; ModelBackend (next in line) checks passwords."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        # Management commands and the shell authenticate without a request: nobody is guessing from an
        # address there, and axes would refuse them outright.
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def username_of(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """Return the account an attempt counts against: the typed email in lower case, as users are stored."""
    value = (credentials or {}).get("username")
    if value is None:
        value = request.POST.get("username")
    return value.strip().lower() if isinstance(value, str) else None


def cool_off_minutes() -> int:
    """Return how many minutes a locked-out account or address waits."""
    cool_off = get_cool_off()
    return max(1, int(cool_off.total_seconds() // 60)) if cool_off else 0


def locked_out(request: HttpRequest, response: HttpResponse | None, credentials: Any = None) -> HttpResponse:
    """Return what a refused attempt sees: the sign-in page with the reason, or the API's own 429 answer."""
    if request.path.startswith(API_PREFIX) and response is not None:
        return response
    ctx: dict[str, Any] = {"locked_out": True, "minutes": cool_off_minutes()}
    ctx["failure_limit"] = settings.AXES_FAILURE_LIMIT
    ctx["form"] = SignInForm(request)  # empty: the page still offers the form for after the wait
    return render(request, "accounts/login.html", ctx, status=429)


def client_allowed(request: HttpRequest, client_id: str) -> bool:
    """Return False while an API client id, or the caller's address, is locked out after failed secrets."""
    return bool(AxesProxyHandler.is_allowed(request, {"username": client_id}))


def record_client_failure(request: HttpRequest, client_id: str) -> None:
    """Count a wrong client secret against the client id and the caller's address, as a failed sign-in."""
    user_login_failed.send(sender=__name__, credentials={"username": client_id}, request=request)


def forget_failures(username: str) -> None:
    """Lift the lockout of an account (not of addresses), after its owner proved their mailbox."""
    AxesProxyHandler.reset_attempts(username=username.lower())
