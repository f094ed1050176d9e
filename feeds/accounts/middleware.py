"""Login on every page (Django's LoginRequiredMiddleware: sign-in, password reset and invitations are
marked login_not_required; WhiteNoise serves static files before it), and sessions that end after a while
without requests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import middleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import resolve_url

# Machine endpoints authenticate each request themselves (OAuth bearer tokens, probes). They are open by
# path, not by login_not_required, because django-ninja's views cannot carry that mark
# (vitalik/django-ninja#1461) and an API route must never answer with the sign-in page.
OPEN_PREFIXES = (
    "/platform/",
    "/oauth/",
    "/healthz",
    "/metrics",  # its own bearer token (feeds.ops.views.metrics_view)
)
# The session's end moves with each request, but saving it on every one (htmx polls every 2 s) would be a
# database write per request. A save is the only write a page makes, and on SQLite it waits for the write lock,
# which a running sync holds for about half of its time (a page's transaction, ~1 s each): saved once a minute,
# 50 people made ~7% of all requests wait behind a sync page, enough to set the p95 (docs/operations.md). So
# the end moves once per tenth of the idle timeout (12 of 120 minutes): an idle session ends 90–100% of the
# timeout after its last request, and ~0.5% of requests write.
TOUCH_FRACTION = 10
SEEN_KEY = "wsync_seen"


def touch_every_seconds() -> int:
    """Return how often (seconds) a signed-in session's end moves: a tenth of the idle timeout, at least 60 s."""
    return max(60, settings.SESSION_COOKIE_AGE // TOUCH_FRACTION)


class IdleSessionMiddleware:
    """Move a signed-in session's expiry to SESSION_COOKIE_AGE (the idle timeout) from now, now and then."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            if now - int(request.session.get(SEEN_KEY, 0)) >= touch_every_seconds():
                request.session[SEEN_KEY] = now  # a modified session is saved with a new expiry
        return self.get_response(request)


class LoginRequiredMiddleware(middleware.LoginRequiredMiddleware):
    """Django's, plus the machine endpoints' paths, and an htmx-aware answer when the session has ended."""

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponseBase | None:
        if request.path.startswith(OPEN_PREFIXES):
            return None
        refused = super().process_view(request, view_func, view_args, view_kwargs)
        if refused is not None and getattr(request, "htmx", False):
            # A fragment request after the session expired: reload the page into the login form.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = resolve_url(settings.LOGIN_URL)  # a URL name, not a path
            return response
        return refused
