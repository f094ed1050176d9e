"""The REST API (/oauth/token, /platform/v2/...) and the API-credential settings page."""

from __future__ import annotations

from django.urls import path, re_path

from feeds.api import app, errors
from feeds.api.views import docs, settings

app_name = "api"
urlpatterns = [
    path("w/<slug:ws>/settings/api/", settings.credential_list, name="credentials"),
    path(
        "w/<slug:ws>/settings/api/<int:credential_id>/revoke/",
        settings.credential_revoke,
        name="credential_revoke",
    ),
    path(
        "w/<slug:ws>/settings/api/<int:credential_id>/take-over/",
        settings.credential_take_over,
        name="credential_take_over",
    ),
    path("platform/v2/openapi.json", docs.schema, name="schema"),
    path("platform/v2/docs/", docs.reference, name="docs"),
    # Every operation of the API (feeds.api.app): ninja's patterns, with a 405 in the API's error shape.
    *app.urlpatterns(),
    # mParticle's v1 (and early-access) addresses: 410 with the v2 address to use instead.
    re_path(r"^(?P<path>platform/(v1|experimental)/.*)$", errors.gone, name="v1_gone"),
    # Anything else under the API's prefixes answers in the API's error shape, not an HTML page.
    re_path(r"^(?P<path>(platform|oauth)(/[\s\S]*)?)$", errors.not_found, name="not_found"),
]
