"""Mapping: the tree of objects and nodes, edited with HTMX fragments, validated before Next."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from feeds import wizard
from feeds.accounts.models import Membership, Role
from feeds.map.forms import AddForm, NodeForm, PipelineTypeForm
from feeds.mapping import (
    CUSTOM_EVENT_TYPES,
    EVENT_TYPES,
    IDENTITY_CHOICES,
    PRODUCT_ACTIONS,
    RESERVED_ATTRIBUTES,
    RESERVED_IDENTITIES,
    UNMAPPED,
    MappingType,
    rules,
    tree,
)
from feeds.models import Feed
from feeds.pages.http import HtmxHttpRequest
from feeds.review.readiness import mapped_rows
from feeds.wizard.frame import step_context, step_feed

PAGE = "map/step.html"


@require_http_methods(["GET", "POST"])
def step(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    membership, feed = step_feed(request, ws, feed_id)
    model = wizard.section_values(feed, "model")
    if not wizard.model_is_probed(model):
        messages.info(request, "Run the data model's query first: the mapping is built from its columns.")
        return redirect("model:step", ws, feed.pk)
    values = _prefilled(feed, model, request, membership.allows(Role.EDITOR))
    errors: list[Any] = []
    if request.method == "POST":
        errors = _validate(values, model)
        if not errors:
            wizard.remember_step(feed, "schedule")
            return redirect("schedule:step", ws, feed.pk)
    return render(
        request, PAGE, _ctx(membership, feed, model, values, errors, validated=request.method == "POST")
    )


@require_GET
def preview(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    """The model's first rows as the mapping, as edited so far, turns them into batches (nothing is written)."""
    membership, feed = step_feed(request, ws, feed_id)
    ctx = {"workspace": membership.workspace, "feed": feed, "mapped": mapped_rows(feed)}
    if request.htmx:
        return render(request, f"{PAGE}#preview", ctx)
    return redirect("map:step", ws, feed.pk)


@require_POST
def pipeline_type(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    """Change the type of data to sync: the tree starts over from the automatic mapping."""
    membership, feed = step_feed(request, ws, feed_id)
    form = PipelineTypeForm(request.POST)
    if form.is_valid():
        model = wizard.section_values(feed, "model")
        kind = form.cleaned_data["pipeline_type"]
        auto = _auto(model, kind)
        wizard.save_section(feed, "map", {"pipeline_type": kind, "mappings": auto}, request.user)
    return _tree(request, membership, feed)


@require_POST
def add(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    """Add Mapping (a new object with its first node) or "+" (a child node inside an object)."""
    membership, feed = step_feed(request, ws, feed_id)
    form = AddForm(request.POST)
    if form.is_valid():
        values = wizard.section_values(feed, "map")
        node = tree.new_node(
            form.cleaned_data["object"],
            form.cleaned_data["kind"] or MappingType.COLUMN,
            values["pipeline_type"],
        )
        wizard.save_section(feed, "map", {"mappings": tree.add_node(values["mappings"], node)}, request.user)
    return _tree(request, membership, feed)


@require_POST
def node(request: HtmxHttpRequest, ws: str, feed_id: int, index: int) -> HttpResponse:
    """Save one node as edited; a value that cannot be typed stays in the form with its message."""
    membership, feed = step_feed(request, ws, feed_id)
    form = NodeForm(request.POST)
    values = wizard.section_values(feed, "map")
    if not form.is_valid():
        return _tree(
            request,
            membership,
            feed,
            node_errors={index: form.errors.get("__all__", ["Check this mapping."])},
        )
    try:
        mappings = tree.replace_node(values["mappings"], index, form.cleaned_data["node"])
    except IndexError:
        raise Http404("No such mapping") from None
    wizard.save_section(feed, "map", {"mappings": mappings}, request.user)
    return _tree(request, membership, feed)


@require_POST
def delete(request: HtmxHttpRequest, ws: str, feed_id: int, index: int) -> HttpResponse:
    membership, feed = step_feed(request, ws, feed_id)
    values = wizard.section_values(feed, "map")
    try:
        mappings = tree.remove_node(values["mappings"], index)
    except IndexError:
        raise Http404("No such mapping") from None
    wizard.save_section(feed, "map", {"mappings": mappings}, request.user)
    return _tree(request, membership, feed)


def _tree(
    request: HtmxHttpRequest, membership: Membership, feed: Feed, node_errors: dict[int, Any] | None = None
) -> HttpResponse:
    if not request.htmx:
        return redirect("map:step", membership.workspace.slug, feed.pk)
    model = wizard.section_values(feed, "model")
    values = wizard.section_values(feed, "map")
    ctx = _ctx(membership, feed, model, values, _validate(values, model), node_errors=node_errors or {})
    return render(request, f"{PAGE}#tree", ctx)


def _prefilled(feed: Feed, model: dict[str, Any], request: HtmxHttpRequest, can_edit: bool) -> dict[str, Any]:
    """Return the mapping; an empty one starts from the automatic mapping of the model's columns."""
    values = wizard.section_values(feed, "map")
    if not values["mappings"]:
        auto = _auto(model, values["pipeline_type"])
        if can_edit and request.method == "GET":
            wizard.save_section(feed, "map", {"mappings": auto}, request.user)
        values = {**values, "mappings": auto}
    return values


def _auto(model: dict[str, Any], pipeline_type: str) -> list[dict[str, Any]]:
    """Return the automatic mapping of the model's columns (events take their time from the timestamp field)."""
    timestamp = model.get("timestamp_field") or None
    return rules.auto_mappings(wizard.column_names(model), pipeline_type, timestamp=timestamp)


def _validate(values: dict[str, Any], model: dict[str, Any]) -> list[Any]:
    return list(
        rules.validate_mappings(values["mappings"], wizard.column_names(model), values["pipeline_type"])
    )


def _ctx(
    membership: Membership,
    feed: Feed,
    model: dict[str, Any],
    values: dict[str, Any],
    errors: list[Any],
    **extra: Any,
) -> dict[str, Any]:
    node_errors = extra.pop("node_errors", {})
    groups = tree.grouped(values["mappings"], values["pipeline_type"], errors)
    for group in groups:
        for n in group.nodes:
            n.errors.extend(str(e) for e in node_errors.get(n.index, []))
    return step_context(
        membership,
        feed,
        "map",
        groups=groups,
        tree_errors=[e.message for e in errors if e.index is None],
        error_count=len(errors),
        pipeline_form=PipelineTypeForm(initial={"pipeline_type": values["pipeline_type"]}),
        pipeline_type=values["pipeline_type"],
        columns=wizard.column_names(model),
        unmapped_source=UNMAPPED,
        unmapped=tree.unmapped_columns(values["mappings"], wizard.column_names(model)),
        identity_options=_identity_options(),
        attribute_options=["*", *sorted(RESERVED_ATTRIBUTES)],
        event_fields=tree.EVENT_FIELDS,
        event_types=EVENT_TYPES,
        custom_event_types=CUSTOM_EVENT_TYPES,
        product_actions=PRODUCT_ACTIONS,
        event_type_column_note=tree.EVENT_TYPE_COLUMN_NOTE,
        missing_objects=[k for k in tree.OBJECTS if k not in {g.key for g in groups}],
        **extra,
    )


def _identity_options() -> list[tuple[str, str]]:
    """Return (destination, label) for the identity dropdown: identity types and device ids, then MPID."""
    options = [(RESERVED_IDENTITIES.get(t) or f"user_identities.{t}", label) for t, label in IDENTITY_CHOICES]
    return [*options, ("mpid", "MPID")]
