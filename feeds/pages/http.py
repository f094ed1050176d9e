"""Request types shared by the views."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A signed-in request that went through django-htmx's middleware (for type checking).

    The login middleware lets no anonymous request reach a page view, hence `user: User`.
    """

    htmx: HtmxDetails
    user: User
