"""POST /oauth/token: the client-credentials grant, as JSON (mParticle's) or a form (RFC 6749's)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote_plus

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from feeds.accounts import signin
from feeds.api import auth, errors, ratelimit
from feeds.api.credentials import TokenRefused, digest, issue_token


@csrf_exempt
def token(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return errors.method_not_allowed(["POST"])
    return auth.guarded(lambda: _token(request), request)


FORM = "application/x-www-form-urlencoded"


def _token_request(request: HttpRequest) -> dict[str, Any]:
    """Return the grant's fields: a JSON body (mParticle's examples) or a form (OAuth2 client libraries).

    As RFC 6749 allows, the client id and secret may instead come in an HTTP Basic Authorization header.
    """
    if request.content_type == FORM:
        body: dict[str, Any] = auth.read_form(request)
    else:
        body = auth.read_json(request)
    basic = _basic_credentials(request)
    if basic is not None and "client_id" not in body:
        body["client_id"], body["client_secret"] = basic
    return body


def _basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, colon, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise errors.Invalid(
            "The Basic Authorization header is not base64 of “client_id:client_secret”.",
            code="invalid_client",
        ) from None
    if not colon:
        raise errors.Invalid("Send “client_id:client_secret” in the Basic header.", code="invalid_client")
    return unquote_plus(client_id), unquote_plus(secret)


def _token(request: HttpRequest) -> HttpResponse:
    body = _token_request(request)
    client_id = str(body.get("client_id"))[:200]
    # Wrong secrets count as failed sign-ins (per client id and per address, shared with the sign-in page):
    # past the limit every request waits out the lockout, the right secret included.
    if not signin.client_allowed(request, client_id):
        reason = "Too many wrong client secrets for this client id or from this address."
        raise auth.RateLimited(signin.cool_off_minutes() * 60, reason)
    quota = ratelimit.count(f"client:{digest(client_id)}")
    request.wsync_quota = quota  # type: ignore[attr-defined]
    if quota.exceeded:
        raise auth.RateLimited(quota.reset)
    try:
        issued = issue_token(body)
    except TokenRefused as refused:
        signin.record_client_failure(request, client_id)
        raise errors.Unauthorized(str(refused), code="invalid_client") from None
    return JsonResponse(
        {"access_token": issued.access_token, "expires_in": issued.expires_in, "token_type": "Bearer"}
    )
