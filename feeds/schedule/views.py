"""Sync settings: environment, input protection, sync mode and iterator, schedule with live run times."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from feeds import wizard
from feeds.accounts.models import Membership
from feeds.models import Feed
from feeds.pages.http import HtmxHttpRequest
from feeds.schedule import checks, rules
from feeds.schedule.forms import TIMEZONES, PreviewForm, ScheduleForm
from feeds.sync.service import next_run_times
from feeds.warehouses.registry import provider_class
from feeds.wizard.frame import step_context, step_feed

PAGE = "schedule/step.html"
FORM_FIELDS = (
    "environment",
    "input_protection",
    "sync_mode",
    "iterator",
    "iterator_type",
    "schedule_type",
    "frequency",
    "schedule_start",
    "schedule_end",
    "from_time",
    "until_time",
    "timezone",
)


@require_http_methods(["GET", "POST"])
def step(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    membership, feed = step_feed(request, ws, feed_id)
    model = wizard.section_values(feed, "model")
    if not wizard.model_is_probed(model):
        messages.info(request, "Run the data model's query first.")
        return redirect("model:step", ws, feed.pk)
    saved = wizard.section_values(feed, "schedule")
    form = _form(feed, model, request.POST if request.method == "POST" else None, saved)
    if request.method == "POST" and form.is_valid():
        wizard.save_section(feed, "schedule", form.values(), request.user)
        wizard.remember_step(feed, "review")
        return redirect("review:step", ws, feed.pk)
    start = form.data.get("schedule_start") if form.is_bound else saved.get("schedule_start")
    ctx = _ctx(membership, feed, form, runs=_runs_from(form, saved), start=start)
    return render(request, PAGE, ctx)


@require_GET
def preview(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    """The next five run times for the schedule as typed (a GET: it changes nothing, so viewers may).

    Without values (a viewer's disabled form sends none) it shows the saved schedule's run times.
    """
    _, feed = step_feed(request, ws, feed_id)
    form = PreviewForm(request.GET or None)
    if not form.is_bound:
        runs = _next_runs(wizard.section_values(feed, "schedule"))
    else:
        runs = _next_runs(form.cleaned_data) if form.is_valid() else None
    return render(request, f"{PAGE}#run_times", {"runs": runs, "preview_form": form})


@require_POST
def iterator_check(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    """Check the chosen iterator column on a sample of the model's rows."""
    _, feed = step_feed(request, ws, feed_id)
    model = wizard.section_values(feed, "model")
    column = request.POST.get("iterator", "")
    connection = wizard.step_connection(feed)
    result = None
    if column and connection is not None:
        result = checks.sample_iterator(connection, model["sql"], column)
    return render(request, f"{PAGE}#iterator_check", {"check": result, "column": column})


def _next_runs(values: dict[str, Any]) -> list[Any] | None:
    if values.get("schedule_type") == "on_demand" or not values.get("schedule_start"):
        return None
    if values.get("schedule_type") == "interval" and not values.get("frequency"):
        return None
    start = values["schedule_start"]
    times = next_run_times(values["schedule_type"], values.get("frequency") or "", start, 5)
    # The initial sync is labelled as such only while it is still ahead; a past start runs at once.
    return [{"label": "initial" if at == start else "next", "at": at} for at in times]


def _runs_from(form: ScheduleForm, saved: dict[str, Any]) -> list[Any] | None:
    preview_form = PreviewForm(form.data if form.is_bound else None, initial=saved)
    if form.is_bound:
        return _next_runs(preview_form.cleaned_data) if preview_form.is_valid() else None
    return _next_runs(saved)


def _form(feed: Feed, model: dict[str, Any], data: Any, saved: dict[str, Any]) -> ScheduleForm:
    connection = wizard.step_connection(feed)
    types = tuple(provider_class(connection.provider).iterator_types) if connection else ()
    initial = {name: saved.get(name) for name in FORM_FIELDS}
    initial["lookback_minutes"] = (saved.get("lookback_seconds") or 0) // 60
    suggested = rules.suggested_iterator_types(model.get("columns") or [], types)
    iterator = initial.get("iterator")
    if iterator and not initial.get("iterator_type"):
        initial["iterator_type"] = suggested.get(str(iterator), "")
    return ScheduleForm(
        data,
        initial=initial,
        columns=wizard.column_names(model),
        iterator_types=types,
        timestamp_field=model.get("timestamp_field") or "",
        suggested_types=suggested,
    )


def _ctx(membership: Membership, feed: Feed, form: ScheduleForm, **extra: Any) -> dict[str, Any]:
    return step_context(
        membership,
        feed,
        "schedule",
        form=form,
        protection_help=rules.INPUT_PROTECTION_HELP,
        mode_help=rules.SYNC_MODE_HELP,
        schedule_help=rules.SCHEDULE_TYPE_HELP,
        timestamp_field=wizard.section_values(feed, "model").get("timestamp_field"),
        timezones=TIMEZONES,
        **extra,
    )
