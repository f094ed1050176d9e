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
)
# The session's end moves with each request, but saving it on every one (htmx polls every 2 s) would be a
# database write per request: once a minute is enough to keep an active user signed in.
TOUCH_EVERY_SECONDS = 60
SEEN_KEY = "wsync_seen"


class IdleSessionMiddleware:
    """Move a signed-in session's expiry to SESSION_COOKIE_AGE (the idle timeout) from now, once a minute."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            if now - int(request.session.get(SEEN_KEY, 0)) >= TOUCH_EVERY_SECONDS:
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
