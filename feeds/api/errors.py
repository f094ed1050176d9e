"""The API's one error shape: {"statusCode": <int>, "errors": [{"code": "...", "message": "..."}]}.

Domain modules of the API raise ApiError (or its Invalid / Conflict / NotFound kinds); the endpoint
decorator in feeds.api.auth turns every exception into this shape, so no path answers with HTML.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse


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


def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Answer any unknown address under /platform/ and /oauth/ (the catch-all route)."""
    return error_response(404, "not_found", NOT_FOUND_MESSAGE)


def method_not_allowed(allowed: list[str]) -> JsonResponse:
    response = error_response(405, "method_not_allowed", f"Use one of: {', '.join(allowed)}.")
    response["Allow"] = ", ".join(allowed)
    return response


def server_error() -> JsonResponse:
    return error_response(
        500, "server_error", "Something went wrong on the wsync server. The error was logged; try again."
    )
