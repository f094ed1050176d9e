"""POST /oauth/token: the client-credentials grant, as JSON (mParticle's) or a form (RFC 6749's)."""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import unquote_plus

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from feeds.accounts import signin
from feeds.api import auth, errors, ratelimit
from feeds.api.credentials import TokenRefused, digest, issue_token
from feeds.api.types import OneOf
from feeds.api.views.common import LEFT_OUT, Error

router = Router(tags=["oauth"])
FORM = "application/x-www-form-urlencoded"


class TokenRequest(Schema):
    client_id: str
    client_secret: str
    audience: str = Field(LEFT_OUT, examples=["https://api.mparticle.com"])
    grant_type: Annotated[str, OneOf(("client_credentials",))]


class Token(Schema):
    access_token: str
    expires_in: int
    token_type: Annotated[str, OneOf(("Bearer",))]


# The body is read by hand: it may be JSON or a form, and a refused grant is a 401 (invalid_client), as
# OAuth 2 clients expect, where a schema's refusal would be a 400. Its schema is still TokenRequest's.


_BODY = TokenRequest.model_json_schema()


@router.post(
    "/oauth/token",
    response={200: Token, frozenset({400, 401, 413, 429}): Error},
    operation_id="get_token",
    summary="Exchange client credentials for an access token",
    description="A JSON body (mParticle's examples) or a form body (OAuth2 client libraries); the client id "
    "and secret may instead come as HTTP Basic credentials.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BODY}, FORM: {"schema": _BODY}},
        }
    },
)
def token(request: HttpRequest) -> dict[str, Any]:
    return _token(request)


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


def _token(request: HttpRequest) -> dict[str, Any]:
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
    return {"access_token": issued.access_token, "expires_in": issued.expires_in, "token_type": "Bearer"}
