"""POST /oauth/token: the client-credentials grant."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from feeds.accounts import signin
from feeds.api import auth, errors, ratelimit
from feeds.api.credentials import TokenRefused, digest, issue_token


@csrf_exempt
def token(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return errors.method_not_allowed(["POST"])
    return auth.guarded(lambda: _token(request))


def _token(request: HttpRequest) -> HttpResponse:
    body = auth.read_json(request)
    client_id = str(body.get("client_id"))[:200]
    # Wrong secrets count as failed sign-ins (per client id and per address, shared with the sign-in page):
    # past the limit every request waits out the lockout, the right secret included.
    if not signin.client_allowed(request, client_id):
        reason = "Too many wrong client secrets for this client id or from this address."
        raise auth.RateLimited(signin.cool_off_minutes() * 60, reason)
    wait = ratelimit.retry_after(f"client:{digest(client_id)}")
    if wait is not None:
        raise auth.RateLimited(wait)
    try:
        issued = issue_token(body)
    except TokenRefused as refused:
        signin.record_client_failure(request, client_id)
        raise errors.Unauthorized(str(refused), code="invalid_client") from None
    return JsonResponse(
        {"access_token": issued.access_token, "expires_in": issued.expires_in, "token_type": "Bearer"}
    )
