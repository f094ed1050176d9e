"""The profile explorer: search profiles by identity value or MPID, and one profile's page."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from feeds.accounts.access import require_member
from feeds.pages.http import HtmxHttpRequest
from feeds.profiles import search
from feeds.profiles.models import AttributeFact
from feeds.rules import service as rules
from feeds.sync.models import run_numbers


@require_GET
def profile_list(request: HtmxHttpRequest, ws: str) -> HttpResponse:
    membership = require_member(request.user, ws)
    environment = search.environment_from(request.GET.get("environment"), membership.workspace)
    query = request.GET.get("q", "").strip()
    page = search.search_page(membership.workspace, environment, query, request.GET.get("page"))
    ctx = {"workspace": membership.workspace, "nav": "profiles", "page": page, "q": query}
    ctx["environment"] = environment
    template = "feeds/profile_list.html#results" if request.htmx else "feeds/profile_list.html"
    return render(request, template, ctx)


@require_GET
def profile_detail(request: HtmxHttpRequest, ws: str, mpid: int) -> HttpResponse:
    membership = require_member(request.user, ws)
    environment = search.environment_from(request.GET.get("environment"))
    profile = search.profile_or_404(membership.workspace, environment, mpid)
    events = search.events_page(profile, request.GET.get("page"))
    ctx = {"workspace": membership.workspace, "nav": "profiles", "profile": profile, "events": events}
    facts = search.profile_facts(profile)
    attributes: list[AttributeFact] = facts["attributes"]
    numbers = run_numbers({a.run_id for a in attributes if a.run_id is not None})
    for attribute in attributes:
        attribute.run_number = numbers.get(attribute.run_id) if attribute.run_id is not None else None
    rules.annotate_lineage(facts["attributes"])  # which rule step set an attribute (docs/rules.md)
    ctx.update(facts)
    return render(request, "feeds/profile_detail.html", ctx)
