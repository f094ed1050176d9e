"""The one place that checks who calls the API, in which workspace and with which role.

Every API operation declares its role as its ninja `auth` (VIEWER, EDITOR or ADMIN): before any parameter
or body is read, it resolves the Bearer token to its credential (401), applies the rate limit (429), keeps
the caller inside the credential's workspace (404, never a hint that another workspace exists) and checks
the role (403) with the same rules as workspace members (viewer reads, editor writes, admin deletes and
pauses). feeds.api.app answers whatever an operation raises in the API's error shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja.parser import Parser
from ninja.security import HttpBearer

from feeds.accounts.models import Membership, Role, Workspace
from feeds.api import errors, ratelimit
from feeds.api.credentials import credential_for_token
from feeds.api.models import ApiCredential


@dataclass(frozen=True)
class Caller:
    """Who is calling: the credential, its workspace and role, and the user for created_by fields."""

    credential: ApiCredential
    membership: Membership  # unsaved: the credential's role in its workspace, for Membership.allows

    @property
    def workspace(self) -> Workspace:
        return self.credential.workspace

    @property
    def user(self) -> AbstractBaseUser | None:
        """Return the credential's creator: what created_by fields hold. The audit log names the credential."""
        return self.credential.created_by

    @property
    def audit_label(self) -> str:
        """Return how the audit log names this caller: the credential, never the person who created it."""
        return f"API credential {self.credential.name} ({self.credential.client_id})"


def require_role(caller: Caller, role: str) -> None:
    """Raise Forbidden unless the caller's role is at least `role`."""
    if not caller.membership.allows(role):
        raise errors.Forbidden(
            f"This needs the {Role(role).label} role; this API credential has the "
            f"{Role(caller.credential.role).label} role."
        )


def authenticate(request: HttpRequest) -> Caller:
    """Return the caller of a request with a valid Bearer token; raises Unauthorized."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.Unauthorized(
            "Send an access token: Authorization: Bearer <token> (from POST /oauth/token)."
        )
    credential = credential_for_token(token.strip())
    if credential is None:
        raise errors.Unauthorized("The access token is not valid: it expired or its credential was revoked.")
    membership = Membership(workspace=credential.workspace, user=credential.created_by, role=credential.role)
    return Caller(credential, membership)


def authorize(request: HttpRequest, workspace_slug: str, role: str) -> Caller:
    """Return the caller when it may use `role` in the workspace; raises the matching ApiError."""
    caller = authenticate(request)
    quota = ratelimit.count(f"credential:{caller.credential.pk}")
    request.wsync_quota = quota  # type: ignore[attr-defined]  # feeds.api.app sends it as headers
    if quota.exceeded:
        raise RateLimited(quota.reset)
    if caller.workspace.slug != workspace_slug:
        raise errors.NotFound(errors.NOT_FOUND_MESSAGE)
    require_role(caller, role)
    return caller


class RateLimited(errors.ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, wait: int, reason: str = "Too many requests from this API credential.") -> None:
        super().__init__(f"{reason} Try again in {wait} seconds.")
        self.wait = wait


def read_json(request: HttpRequest) -> dict[str, Any]:
    """Return the request's JSON object body; raises TooLarge past the size limit, Invalid for anything else."""
    body = json_body(_raw_body(request))
    if not isinstance(body, dict):
        raise errors.Invalid("Send a JSON object in the request body.", code="invalid_json")
    return body


def too_large() -> errors.TooLarge:
    limit = settings.WSYNC_API_MAX_BODY_BYTES
    return errors.TooLarge(
        f"The request body is larger than {limit:,} bytes. Send less at once (for example fewer mappings).",
        code="body_too_large",
    )


def read_form(request: HttpRequest) -> dict[str, str]:
    """Return a form-encoded body's fields (the last value of each); the same size and NUL rules as JSON."""
    _raw_body(request)  # refuses a body over the limit before Django parses it
    body = {key: request.POST.get(key, "") for key in request.POST}
    for key, value in body.items():
        if "\x00" in key or "\x00" in value:
            raise errors.Invalid("Text may not contain the NUL character.", code="invalid", field=key[:100])
    return body


def _raw_body(request: HttpRequest) -> bytes:
    """Return the body's bytes; raises TooLarge before reading one over WSYNC_API_MAX_BODY_BYTES."""
    limit = settings.WSYNC_API_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise errors.Invalid("The Content-Length header is not a number.", code="invalid_length") from None
    if length > limit:
        raise too_large()
    try:
        raw = request.body
    except RequestDataTooBig:  # Django's own DATA_UPLOAD_MAX_MEMORY_SIZE, when set below ours
        raise too_large() from None
    if len(raw) > limit:
        raise too_large()
    return raw


def json_body(raw: bytes) -> Any:
    """Return the parsed JSON; raises Invalid for bad JSON, nesting deeper than WSYNC_API_MAX_JSON_DEPTH, or NUL."""
    limit = settings.WSYNC_API_MAX_JSON_DEPTH
    too_deep = errors.Invalid(f"The JSON body is nested deeper than {limit} levels.", code="too_deep")
    try:
        body = json.loads(raw or b"null")
    except RecursionError:  # the parser recurses once per level: thousands of levels end here
        raise too_deep from None
    except (ValueError, UnicodeDecodeError):
        raise errors.Invalid("The request body is not valid JSON.", code="invalid_json") from None
    if _depth(body) > limit:
        raise too_deep
    # JSON spells NUL \u0000; only when that text occurs is the body walked for the field that holds it.
    nul_at = _nul_path(body) if b"\\u0000" in raw else None
    if nul_at is not None:
        # PostgreSQL text cannot hold NUL: refused here, it would be a 500 at the first save.
        raise errors.Invalid(
            "Text may not contain the NUL character (\\u0000).", code="invalid", field=nul_at
        )
    return body


def _depth(value: Any) -> int:
    """Return how deeply lists and objects nest in a parsed JSON value, level by level (no recursion)."""
    depth, level = 0, [value]
    while level := [item for item in level if isinstance(item, dict | list)]:
        depth += 1
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)]
    return depth


def _nul_path(value: Any) -> str | None:
    """Return the path (such as "config.host") of the first key or text holding a NUL, or None."""
    stack = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return path or "body"
        pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in pairs:
            child_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return child_path
            stack.append((child, child_path))
    return None


class Bearer(HttpBearer):
    """The auth of an operation that needs `role`: ninja runs it before reading any parameter or body."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def __call__(self, request: HttpRequest) -> Caller:
        workspace = (request.resolver_match.kwargs if request.resolver_match else {}).get("workspaceId", "")
        return authorize(request, workspace, self.role)

    def authenticate(self, request: HttpRequest, token: str) -> Caller:  # ninja's hook; __call__ does it all
        raise NotImplementedError


VIEWER, EDITOR, ADMIN = Bearer(Role.VIEWER), Bearer(Role.EDITOR), Bearer(Role.ADMIN)


class BodyParser(Parser):
    """Ninja's JSON parser with the API's limits: body size, nesting depth and NUL (feeds.api.app unwraps them)."""

    def parse_body(self, request: HttpRequest) -> Any:
        return json_body(_raw_body(request))
