"""Data model: the SQL editor, validation while typing, Run Query, the timestamp field."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from feeds import wizard
from feeds.accounts.models import Membership
from feeds.connect.providers import info
from feeds.model import query
from feeds.model.forms import DataModelForm
from feeds.models import Connection, Feed
from feeds.pages.http import HtmxHttpRequest
from feeds.warehouses.registry import provider_class
from feeds.warehouses.sqlcheck import check_select
from feeds.wizard.frame import step_context, step_feed

PAGE = "model/step.html"


@require_http_methods(["GET", "POST"])
def step(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    membership, feed = step_feed(request, ws, feed_id)
    connection = wizard.step_connection(feed)
    if connection is None:
        messages.info(request, "Connect a warehouse first.")
        return redirect("connect:step", ws, feed.pk)
    values = wizard.section_values(feed, "model")
    form = _form(connection, values, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["sql"] != values["sql"] or not wizard.model_is_probed(values):
            form.add_error("sql", "Run the query in its current form (Run Query) before going on.")
        else:
            wizard.save_section(
                feed, "model", {"timestamp_field": form.cleaned_data["timestamp_field"]}, request.user
            )
            wizard.remember_step(feed, "map")
            return redirect("map:step", ws, feed.pk)
    return render(request, PAGE, _ctx(membership, feed, connection, form, values))


@require_POST
def validate(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    """Check the SQL as it is typed (debounced in the browser); nothing reaches the warehouse."""
    membership, feed = step_feed(request, ws, feed_id)
    connection = wizard.step_connection(feed)
    provider_cls = provider_class(connection.provider) if connection else None
    problem = None
    if provider_cls is not None and provider_cls.has_sql:
        problem = check_select(request.POST.get("sql", ""), provider_cls.dialect)
    table_model = provider_cls is not None and not provider_cls.has_sql
    return render(
        request, f"{PAGE}#sql_check", {"problem": problem, "checked": True, "table_model": table_model}
    )


@require_POST
def run(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    """Run Query: validate, preview the first rows, and remember the columns of this exact SQL."""
    membership, feed = step_feed(request, ws, feed_id)
    connection = wizard.step_connection(feed)
    if connection is None:
        return redirect("connect:step", ws, feed.pk)
    values = wizard.section_values(feed, "model")
    form = _form(connection, values, request.POST)
    outcome = None
    if form.is_valid() or "sql" not in form.errors:
        sql = form.cleaned_data.get("sql") or request.POST.get("sql", "")
        outcome = query.run_query(connection, sql, settings.WSYNC_PREVIEW_ROWS)
        # The pick as submitted (perhaps not saved yet), not the saved one.
        picked = request.POST.get("timestamp_field", values.get("timestamp_field") or "")
        values = {**values, "sql": sql, "timestamp_field": picked}
        if outcome.ok:
            values.update(columns=outcome.columns, columns_sql=sql, timestamp_field=_keep_ts(picked, outcome))
            wizard.save_section(feed, "model", values, request.user)
        form = _form(connection, values, None)
    ctx = _ctx(membership, feed, connection, form, values, outcome=outcome, ran=True)
    return render(request, f"{PAGE}#results" if request.htmx else PAGE, ctx)


def _keep_ts(picked: str, outcome: query.QueryOutcome) -> str:
    """Keep the chosen timestamp field when the new result still has it; else guess the only candidate."""
    candidates = query.timestamp_candidates(outcome.columns)
    if picked in candidates:
        return picked
    return candidates[0] if len(candidates) == 1 else ""


def _form(connection: Connection, values: dict[str, Any], data: Any) -> DataModelForm:
    provider_cls = provider_class(connection.provider)
    candidates = query.timestamp_candidates(values.get("columns") or [])
    initial = {"sql": values.get("sql") or "", "timestamp_field": values.get("timestamp_field") or ""}
    return DataModelForm(
        data,
        initial=initial,
        dialect=provider_cls.dialect,
        candidates=candidates,
        has_sql=provider_cls.has_sql,
    )


def _ctx(
    membership: Membership,
    feed: Feed,
    connection: Connection,
    form: DataModelForm,
    values: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    columns = values.get("columns") or []
    return step_context(
        membership,
        feed,
        "model",
        form=form,
        connection=connection,
        provider=info(provider_class(connection.provider)),
        columns=columns,
        auto_mapped=query.auto_mapped(columns) if columns else {},
        probed_sql=values.get("columns_sql") if wizard.model_is_probed(values) else None,
        **extra,
    )
