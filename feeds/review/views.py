"""Review: a summary of every step, their re-validation, sample enriched profiles, Activate / Save."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from feeds import wizard
from feeds.accounts.models import Membership
from feeds.mapping.tree import grouped
from feeds.models import Environment, Feed, Frequency, InputProtection, PipelineType, ScheduleType, SyncMode
from feeds.pages.http import HtmxHttpRequest
from feeds.review import readiness
from feeds.rules import service as rules
from feeds.sync.service import RunRefused
from feeds.wizard.frame import step_context, step_feed

PAGE = "review/step.html"


@require_GET
def step(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    membership, feed = step_feed(request, ws, feed_id)
    model = wizard.section_values(feed, "model")
    if not wizard.model_is_probed(model):
        messages.info(request, "Run the data model's query first.")
        return redirect("model:step", ws, feed.pk)
    return render(request, PAGE, _ctx(membership, feed))


@require_GET
def checks(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    """Re-validate every step (this reaches the warehouse, so the page loads it separately)."""
    membership, feed = step_feed(request, ws, feed_id)
    ctx = _ctx(membership, feed, problems=readiness.review_problems(feed), checked=True)
    return render(request, f"{PAGE}#checks" if request.htmx else PAGE, ctx)


@require_GET
def sample(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    """Sample enriched profiles: the model's first rows, mapped and resolved without writing."""
    membership, feed = step_feed(request, ws, feed_id)
    ctx = _ctx(membership, feed, sample=readiness.sample_profiles(feed))
    return render(request, f"{PAGE}#sample" if request.htmx else PAGE, ctx)


@require_POST
def activate(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    membership, feed = step_feed(request, ws, feed_id)
    try:
        message = readiness.save_and_activate(feed, request.user, request)
    except readiness.ActivationRefused as refused:
        ctx = _ctx(membership, feed, problems=refused.problems, checked=True)
        return render(request, PAGE, ctx, status=200)
    except RunRefused as refused:
        messages.error(request, str(refused))
        return redirect("review:step", ws, feed.pk)
    messages.success(request, message)
    return redirect("feeds:summary", ws, feed.pk)


@require_POST
def discard(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    _, feed = step_feed(request, ws, feed_id)
    wizard.discard_pending(feed, request.user)
    messages.info(request, "Your unsaved changes were discarded; the feed keeps its saved settings.")
    return redirect("feeds:summary", ws, feed.pk)


def _ctx(membership: Membership, feed: Feed, **extra: Any) -> dict[str, Any]:
    model = wizard.section_values(feed, "model")
    mapping = wizard.section_values(feed, "map")
    schedule = wizard.section_values(feed, "schedule")
    return step_context(
        membership,
        feed,
        "review",
        connection=readiness.connection_of(feed),
        feed_name=wizard.section_values(feed, "connect")["feed_name"],
        model=model,
        mapping_groups=grouped(mapping["mappings"], mapping["pipeline_type"], []),
        pipeline_type=mapping["pipeline_type"],
        schedule=schedule,
        labels=_labels(feed, schedule, mapping),
        pending=wizard.has_pending(feed),
        rules_in_effect=rules.in_effect(feed),
        **extra,
    )


def _labels(feed: Feed, schedule: dict[str, Any], mapping: dict[str, Any]) -> dict[str, str]:
    """Return the human labels of the chosen settings (the values may be pending, not on the feed)."""

    def label(choices: Any, value: Any) -> str:
        return str(dict(choices.choices).get(value, value or "—"))

    return {
        "environment": label(Environment, schedule["environment"]),
        "input_protection": label(InputProtection, schedule["input_protection"]),
        "sync_mode": label(SyncMode, schedule["sync_mode"]),
        "schedule_type": label(ScheduleType, schedule["schedule_type"]),
        "frequency": label(Frequency, schedule["frequency"]),
        "pipeline_type": label(PipelineType, mapping["pipeline_type"]),
    }
