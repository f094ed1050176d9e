"""The API's OpenAPI document and its browsable reference page (server-rendered, no CDN)."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from feeds.api import errors, openapi_document
from feeds.api.app import schema as document


def schema(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return errors.method_not_allowed(["GET"])
    return JsonResponse(document(request.build_absolute_uri("/")))


def reference(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return errors.method_not_allowed(["GET"])
    served = document(request.build_absolute_uri("/"))
    schemas = {name: json.dumps(s, indent=2) for name, s in served["components"]["schemas"].items()}
    ctx = {
        "operations": openapi_document.operations(served),
        "schemas": schemas,
        "base": request.build_absolute_uri("/"),
    }
    return render(request, "api/docs.html", ctx)
