"""Login on every page (only sign-in, password reset, invitations, static files and the API are open), and
sessions that end after a while without requests."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

OPEN_PREFIXES = (
    "/accounts/login/",
    "/accounts/password/reset/",
    "/accounts/reset/",
    "/accounts/invite/",
    "/static/",
    "/platform/",
    "/oauth/",
    "/healthz",
    "/metrics",  # its own bearer token (feeds.ops.views.metrics_view)
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


class LoginRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated or request.path.startswith(OPEN_PREFIXES):
            return self.get_response(request)
        if getattr(request, "htmx", False):
            # A fragment request after the session expired: reload the page into the login form.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = f"{settings.LOGIN_URL}"
            return response
        return redirect_to_login(request.get_full_path())
