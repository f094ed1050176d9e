"""Helpers the API views share: JSON answers and look-ups inside the caller's workspace."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model
from django.http import HttpResponse, JsonResponse

from feeds.api.errors import NotFound

M = TypeVar("M", bound=Model)


def ok(data: Any) -> JsonResponse:
    return JsonResponse(data, status=200, safe=False)


def no_content() -> HttpResponse:
    return HttpResponse(status=204)


def get_in_workspace(queryset: Any, workspace: Any, slug: str, noun: str) -> Any:
    """Return the object with this id in the workspace; raises NotFound (the same for any other workspace)."""
    # No id holds NUL, and PostgreSQL refuses it in a query (a 500): such an address names nothing.
    found = queryset.filter(workspace=workspace, slug=slug).first() if "\x00" not in slug else None
    if found is None:
        raise NotFound(f"There is no {noun} “{slug}” in this workspace.")
    return found
