"""Login on every page: only the login page, static files and the API (own auth) are open."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

OPEN_PREFIXES = ("/accounts/login/", "/static/", "/platform/", "/oauth/", "/healthz")


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
