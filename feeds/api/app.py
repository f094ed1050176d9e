"""The API as one django-ninja application: each operation is declared once, in feeds/api/views/*, with its
path, role, request and response schemas; ninja validates requests, serialises answers and writes the OpenAPI
document from those declarations. This module joins the resources and keeps what every answer shares: the
error shape, the rate-limit headers and the audit actor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern
from ninja import NinjaAPI, Router
from ninja.errors import HttpError, ValidationError
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder

from feeds import audit
from feeds.api import auth, errors, openapi_document
from feeds.api.views import (
    connections,
    data_models,
    oauth,
    outputs,
    pipelines,
    rules,
    runs,
    transformations,
)
from feeds.api.views.common import timestamp

log = logging.getLogger(__name__)
WORKSPACE = "/platform/v2/workspaces/{workspaceId}"


class Api(NinjaAPI):
    """NinjaAPI whose every answer to a counted request carries the X-mp-rate-limit-* headers, as mParticle's
    do, so pacing scripts work unchanged."""

    def create_temporal_response(self, request: HttpRequest) -> HttpResponse:
        return _with_quota(request, super().create_temporal_response(request))

    def on_exception(self, request: HttpRequest, exc: Any) -> HttpResponse:
        return _with_quota(request, _error_response(exc))


class _Encoder(NinjaJSONEncoder):
    def default(self, o: Any) -> Any:
        return timestamp(o) if isinstance(o, datetime) else super().default(o)


class Renderer(JSONRenderer):
    """JSON whose every time is ISO-8601 in UTC with milliseconds and “Z” (2026-11-03T07:29:00.000Z)."""

    encoder_class = _Encoder


def _with_quota(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    quota = getattr(request, "wsync_quota", None)
    if quota is not None:
        for name, value in quota.headers().items():
            response[name] = value
    return response


def _error_response(exc: Exception) -> HttpResponse:
    """Return the API's error shape for whatever an operation raised."""
    if isinstance(exc, HttpError) and isinstance(exc.__cause__, errors.ApiError):
        exc = exc.__cause__  # the body parser's refusal (too large, too deep, NUL), wrapped by ninja
    if isinstance(exc, ValidationError):
        exc = errors.from_validation(exc.errors)
    if isinstance(exc, RequestDataTooBig):
        exc = auth.too_large()
    if isinstance(exc, auth.RateLimited):
        response = errors.from_error(exc)
        response["Retry-After"] = str(exc.wait)
        return response
    if isinstance(exc, errors.ApiError):
        return errors.from_error(exc)
    if isinstance(exc, HttpError):  # ninja's own refusal of a body it could not parse
        return errors.error_response(exc.status_code, "invalid_json", "The request body is not valid JSON.")
    log.exception("API request failed", exc_info=exc)
    return errors.server_error()


def _as_caller(view: Callable[..., Any]) -> Callable[..., Any]:
    """Record the audit entries an operation makes as its API credential (feeds.audit.acting_as)."""

    @wraps(view)
    def run(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        with audit.acting_as(request.auth.audit_label, request):  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

    return run


api = Api(
    title="wsync Warehouse Sync API",
    version="2.0.0",
    description="mParticle Warehouse Sync API v2 shapes: connections, data models, field transformations and "
    "pipelines of one workspace, with OAuth client credentials.",
    urls_namespace="ninja_api",
    docs_url=None,
    openapi_url=None,
    parser=auth.BodyParser(),
    renderer=Renderer(),
)

api.add_router("", oauth.router)
resources: list[tuple[str, Router]] = [
    ("connections", connections.router),
    ("data-models", data_models.router),
    ("field-transformations", transformations.router),
    ("pipelines", pipelines.router),
    ("pipelines", runs.router),
    ("pipelines", outputs.connected_router),
    ("outputs", outputs.router),
    ("rules", rules.router),
]
for prefix, router in resources:
    router.add_decorator(_as_caller, mode="operation")  # around the handler, after auth
    api.add_router(f"{WORKSPACE}/{prefix}", router)


def urlpatterns() -> list[URLPattern]:
    """Return the operations' URL patterns; a method an address does not take is a 405 in the error shape."""
    return [
        URLPattern(p.pattern, _json_405(p.callback), name=p.name)
        for p in api.urls[0]
        if isinstance(p, URLPattern)
    ]


def _json_405(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return errors.method_not_allowed(sorted(response["Allow"].split(", ")))
        return response

    return answer  # csrf_exempt carried over by wraps: token-authenticated callers send no CSRF token


def schema(server_url: str) -> dict[str, Any]:
    """Return the served OpenAPI document."""
    return openapi_document.finish(dict(api.get_openapi_schema(path_prefix="")), server_url)
