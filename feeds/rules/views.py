"""The rule editor: the feed's steps (add, edit, reorder, enable/disable, delete), the preview, Activate.

Viewers read; editors write. Every view looks the feed up through feeds.pages.access.feed_for_user.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from feeds.accounts.models import Membership, Role
from feeds.models import Feed
from feeds.outputs.models import FeedOutput
from feeds.pages.access import feed_for_user
from feeds.pages.http import HtmxHttpRequest
from feeds.rules import service
from feeds.rules.forms import StepForm
from feeds.rules.service import Owner
from feeds.rules.steps import StepsInvalid, describe

PAGE = "rules/editor.html"


def _owner(request: HtmxHttpRequest, ws: str, feed_id: int, scope: str) -> tuple[Membership, Feed, Owner]:
    """Return (membership, feed, the rules' owner): the feed, or its connection for scope "output-<id>"."""
    role = Role.VIEWER if request.method in ("GET", "HEAD") else Role.EDITOR
    membership, feed = feed_for_user(request.user, ws, feed_id, role)
    if scope == "feed":
        return membership, feed, feed
    number = scope.removeprefix("output-")
    found = (
        FeedOutput.objects.select_related("output", "feed").filter(feed=feed, pk=int(number)).first()
        if number.isdigit()
        else None
    )
    if found is None:
        raise Http404("No such connected output")
    return membership, feed, found


@require_GET
def editor(request: HtmxHttpRequest, ws: str, feed_id: int, scope: str) -> HttpResponse:
    membership, feed, owner = _owner(request, ws, feed_id, scope)
    editing = request.GET.get("edit", "")
    step = next((s for s in service.find(owner).draft if s.get("id") == editing), None)
    form = (
        StepForm(initial=StepForm.initial_for(step))
        if step
        else StepForm(initial={"action": "", "condition_kind": ""})
    )
    return render(
        request, PAGE, _ctx(membership, feed, owner, scope, form=form, editing=step["id"] if step else "")
    )


@require_POST
def save_step(request: HtmxHttpRequest, ws: str, feed_id: int, scope: str, step_id: str = "") -> HttpResponse:
    membership, feed, owner = _owner(request, ws, feed_id, scope)
    form = StepForm(request.POST)
    if form.is_valid():
        try:
            service.save_step(owner, form.step(), step_id or None)
        except StepsInvalid as invalid:
            form.add_problems(invalid.problems)
        else:
            messages.success(request, "Step saved. Preview it, then activate the rules.")
            return redirect("rules:editor", ws, feed.pk, scope)
    return render(request, PAGE, _ctx(membership, feed, owner, scope, form=form, editing=step_id), status=200)


@require_POST
def change_step(
    request: HtmxHttpRequest, ws: str, feed_id: int, scope: str, step_id: str, change: str
) -> HttpResponse:
    _, feed, owner = _owner(request, ws, feed_id, scope)
    if change == "up":
        service.move_step(owner, step_id, -1)
    elif change == "down":
        service.move_step(owner, step_id, 1)
    elif change == "toggle":
        service.toggle_step(owner, step_id)
    elif change == "delete":
        service.delete_step(owner, step_id)
    else:
        raise Http404("No such change")
    return redirect("rules:editor", ws, feed.pk, scope)


@require_GET
def preview(request: HtmxHttpRequest, ws: str, feed_id: int, scope: str) -> HttpResponse:
    """The draft's steps on the data model's sample rows, before → after per step."""
    membership, feed, owner = _owner(request, ws, feed_id, scope)
    shown = service.preview(owner, service.find(owner).draft)
    ctx = _ctx(membership, feed, owner, scope, form=StepForm(), preview=shown)
    return render(request, f"{PAGE}#preview" if request.htmx else PAGE, ctx)


@require_POST
def activate(request: HtmxHttpRequest, ws: str, feed_id: int, scope: str) -> HttpResponse:
    _, feed, owner = _owner(request, ws, feed_id, scope)
    try:
        version = service.activate(owner, request.user, request)
    except StepsInvalid as invalid:
        messages.error(request, f"Fix the steps first: {invalid}")
        return redirect("rules:editor", ws, feed.pk, scope)
    if version is None:
        messages.info(request, "The rules in effect are already these.")
    else:
        messages.success(
            request, f"Rules version {version.number} is active: the feed's next run applies it."
        )
    return redirect("rules:editor", ws, feed.pk, scope)


def _ctx(membership: Membership, feed: Feed, owner: Owner, scope: str, **extra: Any) -> dict[str, Any]:
    found = service.find(owner)
    return {
        "workspace": membership.workspace,
        "membership": membership,
        "nav": "feeds",
        "feed": feed,
        "scope": scope,
        "output": None if owner is feed else owner.output,  # type: ignore[union-attr]
        "can_edit": membership.allows(Role.EDITOR),
        "rule_set": found,
        "steps": [{**s, "words": describe(s)} for s in found.draft],
        "active_steps": [{**s, "words": describe(s)} for s in service.active_steps(owner)],
        "unactivated": service.has_unactivated_changes(found),
        **extra,
    }
