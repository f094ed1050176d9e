"""The API's one error shape: {"statusCode": <int>, "errors": [{"code": "...", "message": "..."}]}.

Domain modules of the API raise ApiError (or its Invalid / Conflict / NotFound kinds), ninja raises its
ValidationError for what a declared schema refuses; feeds.api.app turns every exception into this shape,
so no path answers with HTML.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt


class ApiError(Exception):
    """A refusal with its HTTP status, a stable code and a message in the wizard's words."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.field = field


class Invalid(ApiError):
    status = 400
    code = "invalid"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class TooLarge(ApiError):
    status = 413
    code = "too_large"


# What a value must be, for pydantic's own refusals (feeds.api.types' checks bring their own words).
_MUST = {
    "missing": "“{field}” is required.",
    "string_type": "“{field}” must be a text.",
    "string_too_long": "“{field}” may be at most {max_length} characters long.",
    "bool_type": "“{field}” must be true or false.",
    "int_type": "“{field}” must be a whole number.",
    "int_parsing": "“{field}” must be a whole number.",
    "int_from_float": "“{field}” must be a whole number.",
    "list_type": "“{field}” must be sent as a list.",
    "too_long": "“{field}” may hold at most {max_length} items.",
    "dict_type": "“{field}” must be an object.",
    "model_type": "“{field}” must be an object.",
    "model_attributes_type": "“{field}” must be an object.",
    "greater_than_equal": "“{field}” must be at least {ge}.",
    "less_than_equal": "“{field}” must be at most {le}.",
}


def field_path(loc: tuple[Any, ...]) -> str:
    """Return the request's own path to a value (“schedule.end”, “mappings[2].source”, “pageSize”)."""
    # ninja's loc starts with the source, and a body's with the handler's argument name too.
    keys = loc[2:] if loc[:1] == ("body",) else loc[1:]
    path = ""
    for key in keys:
        path += f"[{key}]" if isinstance(key, int) else f".{key}" if path else str(key)
    return path


def from_validation(found: list[dict[str, Any]]) -> ApiError:
    """Return the refusal for the first value a declared schema refused.

    A path segment that cannot name anything (a run id of “²”) is a 404, as any unknown address.
    """
    if any(error["loc"][:1] == ("path",) for error in found):
        return NotFound(NOT_FOUND_MESSAGE)
    error = found[0]
    field = field_path(tuple(error["loc"]))
    if not field:
        return Invalid("Send a JSON object in the request body.", code="invalid_json")
    template = _MUST.get(error["type"], error["msg"] if "{field}" in error["msg"] else "")
    if not template:
        template = "“{field}” is not valid: " + error["msg"] + "."
    message = template.replace("{field}", field)
    for key, value in (error.get("ctx") or {}).items():
        message = message.replace("{" + key + "}", str(value))
    code = "unsupported" if error["type"] == "unsupported" else "invalid"
    return Invalid(message, code=code, field=field)


def error_response(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    """Return the error body with one error in it."""
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    return JsonResponse({"statusCode": status, "errors": [error]}, status=status)


def from_error(error: ApiError) -> JsonResponse:
    response = error_response(error.status, error.code, error.message, error.field)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="wsync"'
    return response


NOT_FOUND_MESSAGE = "Nothing was found at this address."


@csrf_exempt  # token-authenticated clients send no CSRF token: a POST here gets the JSON answer too
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Answer any unknown address under /platform/ and /oauth/ (the catch-all route)."""
    return error_response(404, "not_found", NOT_FOUND_MESSAGE)


_V1 = re.compile(r"^platform/(?:v1|experimental)/workspaces/(?P<ws>[^/]+)/inputs/warehouse(?P<rest>/.*)?$")
# v1's pipeline sub-addresses and their v2 names (mParticle's v2 migration guide).
_V1_RENAMES = (
    (re.compile(r"^/pipelines/(?P<id>[^/]+)/status/runs(?P<run>/[^/]+)?$"), "/pipelines/{id}/runs{run}"),
    (re.compile(r"^/pipelines/(?P<id>[^/]+)/status$"), "/pipelines/{id}/report"),
)


def v2_address(path: str, method: str) -> str | None:
    """Return the v2 address of a v1 (or early-access) one, or None when `path` is not one."""
    found = _V1.match(path)
    if found is None:
        return None
    rest = found["rest"] or ""
    for pattern, v2 in _V1_RENAMES:
        if renamed := pattern.match(rest):
            rest = v2.format(id=renamed["id"], run=renamed.groupdict().get("run") or "")
            break
    else:
        if method == "POST" and re.fullmatch(r"/pipelines/[^/]+", rest):
            rest += "/trigger"  # v1 triggered a run with a POST to the pipeline itself
    return f"/platform/v2/workspaces/{found['ws']}{rest}"


@csrf_exempt
def gone(request: HttpRequest, path: str = "") -> JsonResponse:
    """Answer a v1 address with 410 and the v2 address to use (wsync serves v2 only)."""
    v2 = v2_address(path, request.method or "GET")
    if v2 is None:
        return not_found(request, path)
    response = error_response(
        410,
        "gone",
        f"wsync serves the v2 API only: use {request.method} {v2} (v2 bodies nest provider settings in "
        "“config” and pipelines use “state”, “sync_mode” and “schedule”; see /platform/v2/docs/).",
    )
    response["Link"] = f'<{v2}>; rel="successor-version"'
    return response


def method_not_allowed(allowed: list[str]) -> JsonResponse:
    response = error_response(405, "method_not_allowed", f"Use one of: {', '.join(allowed)}.")
    response["Allow"] = ", ".join(allowed)
    return response


def server_error() -> JsonResponse:
    return error_response(
        500, "server_error", "Something went wrong on the wsync server. The error was logged; try again."
    )
