"""POST /oauth/token: the client-credentials grant."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from feeds.api import auth, errors, ratelimit
from feeds.api.credentials import TokenRefused, digest, issue_token


@csrf_exempt
def token(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return errors.method_not_allowed(["POST"])
    return auth.guarded(lambda: _token(request))


def _token(request: HttpRequest) -> HttpResponse:
    body = auth.read_json(request)
    # Guessing secrets is pointless (they are long and random), but limit each client id all the same.
    wait = ratelimit.retry_after(f"client:{digest(str(body.get('client_id')))}")
    if wait is not None:
        raise auth.RateLimited(wait)
    try:
        issued = issue_token(body)
    except TokenRefused as refused:
        raise errors.Unauthorized(str(refused), code="invalid_client") from None
    return JsonResponse(
        {"access_token": issued.access_token, "expires_in": issued.expires_in, "token_type": "Bearer"}
    )
