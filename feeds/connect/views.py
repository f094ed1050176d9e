"""Connect: the provider directory, the provider's connection form, "Test connection" inline."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from feeds import audit, wizard
from feeds.accounts.access import require_member
from feeds.accounts.models import Membership, Role
from feeds.connect import providers
from feeds.connect.forms import NEW, ConnectForm, initial_for
from feeds.models import Connection, Feed
from feeds.pages.http import HtmxHttpRequest
from feeds.warehouses import registry
from feeds.warehouses.base import CheckResult
from feeds.wizard.frame import step_context, step_feed

PAGE = "connect/step.html"


@require_GET
def directory(request: HtmxHttpRequest, ws: str) -> HttpResponse:
    membership = require_member(request.user, ws)
    query = request.GET.get("q", "")
    ctx = {"workspace": membership.workspace, "membership": membership, "nav": "directory"}
    ctx.update(query=query, entries=providers.directory(query), can_edit=membership.allows(Role.EDITOR))
    template = "connect/directory.html#providers" if request.htmx else "connect/directory.html"
    return render(request, template, ctx)


@require_http_methods(["GET", "POST"])
def new(request: HtmxHttpRequest, ws: str, provider: str) -> HttpResponse:
    membership = require_member(request.user, ws, Role.EDITOR)
    provider_cls = _provider_or_404(provider)
    selected = _selected(request, membership, provider, None)
    if selected is None and "connection" not in request.GET and request.method == "GET":
        selected = providers.latest_connection(membership.workspace, provider)  # reuse before re-typing
    if request.method == "GET":
        name = wizard.unique_feed_name(membership.workspace.pk, f"{registry.label(provider)} feed")
        form = _form(
            membership, provider_cls, selected, None, initial=initial_for(selected, name, provider_cls)
        )
        return _render(request, membership, None, provider_cls, form)
    form = _form(
        membership, provider_cls, selected, None, data=request.POST, files=request.FILES, user=request.user
    )
    return _save(request, membership, None, provider_cls, form)


@require_http_methods(["GET", "POST"])
def step(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    membership, feed = step_feed(request, ws, feed_id)
    current = wizard.step_connection(feed)  # with a live feed's pending edits
    provider = current.provider if current else request.GET.get("provider", "duckdb")
    provider_cls = _provider_or_404(provider)
    selected = _selected(request, membership, provider, current)
    if request.method == "GET":
        initial = initial_for(selected, wizard.section_values(feed, "connect")["feed_name"], provider_cls)
        form = _form(membership, provider_cls, selected, feed, initial=initial)
        return _render(request, membership, feed, provider_cls, form)
    form = _form(membership, provider_cls, selected, feed, data=request.POST, files=request.FILES)
    return _save(request, membership, feed, provider_cls, form)


@require_POST
def test(request: HtmxHttpRequest, ws: str, provider: str, feed_id: int | None = None) -> HttpResponse:
    """Answer "Test connection" inline: validate the form, then make one real round trip."""
    membership = require_member(request.user, ws, Role.EDITOR)
    feed = _feed_or_none(membership, feed_id)
    provider_cls = _provider_or_404(provider)
    selected = _selected(request, membership, provider, wizard.step_connection(feed) if feed else None)
    form = _form(membership, provider_cls, selected, feed, data=request.POST, files=request.FILES)
    result = providers.check_connection(provider, form.warehouse_config()) if form.is_valid() else None
    audit.record_connection_test(
        membership.workspace,
        request.user,
        form.data.get("name") or "a new connection",
        destination=form.destination(),
        outcome=_outcome(result),
        request=request,
    )
    ctx = _ctx(membership, feed, provider_cls, form, result=result)
    return render(request, f"{PAGE}#test_result", ctx)


def _outcome(result: CheckResult | None) -> str:
    if result is None:
        return "not tried: the form has errors"
    return "connected" if result.ok else f"failed: {result.message}"


@require_POST
def prepare(request: HtmxHttpRequest, ws: str, provider: str) -> HttpResponse:
    """Refresh the "Prepare your warehouse" panel with the names typed so far (never secrets)."""
    require_member(request.user, ws, Role.EDITOR)
    provider_cls = _provider_or_404(provider)
    typed = {s.name: request.POST.get("cfg_" + s.name, "") for s in provider_cls.fields if not s.secret}
    ctx = {"prepare_steps": providers.prepare_steps(provider, typed)}
    return render(request, f"{PAGE}#prepare", ctx)


def _save(
    request: HtmxHttpRequest, membership: Membership, feed: Feed | None, provider_cls: Any, form: ConnectForm
) -> HttpResponse:
    if not form.is_valid():
        return _render(request, membership, feed, provider_cls, form, status=200)
    result = providers.check_connection(provider_cls.kind, form.warehouse_config())
    if not result.ok:
        return _render(request, membership, feed, provider_cls, form, result=result)
    feed = wizard.connect_feed(
        membership.workspace,
        feed or form.continued_draft,
        feed_name=form.cleaned_data["feed_name"],
        connection=form.cleaned_data["connection"],
        edit=form.connection_edit(),
        user=request.user,
        request=request,
    )
    return redirect("model:step", membership.workspace.slug, feed.pk)


def _render(
    request: HtmxHttpRequest,
    membership: Membership,
    feed: Feed | None,
    provider_cls: Any,
    form: ConnectForm,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    ctx = _ctx(membership, feed, provider_cls, form, **extra)
    template = f"{PAGE}#connection_form" if request.htmx and request.method == "GET" else PAGE
    return render(request, template, ctx, status=status)


def _ctx(
    membership: Membership, feed: Feed | None, provider_cls: Any, form: ConnectForm, **extra: Any
) -> dict:
    config = (
        form.initial if not form.is_bound else {k: form.data.get(k, "") for k in form.config_field_names()}
    )
    typed = {s.name: config.get("cfg_" + s.name) for s in provider_cls.fields if not s.secret}
    return step_context(
        membership,
        feed,
        "connect",
        form=form,
        provider=providers.info(provider_cls),
        prepare_steps=providers.prepare_steps(provider_cls.kind, typed),
        shared_with=_shared_with(form.selected, feed),
        # The prepare panel only needs names: secrets and files never travel with its requests.
        prepare_params="not " + ",".join(["csrfmiddlewaretoken", *_secret_params(provider_cls)]),
        **extra,
    )


def _form(
    membership: Membership, provider_cls: Any, selected: Connection | None, feed: Feed | None, **kw: Any
):
    return ConnectForm(
        workspace=membership.workspace, provider_cls=provider_cls, selected=selected, feed=feed, **kw
    )


def _provider_or_404(kind: str) -> Any:
    cls = providers.load_provider(kind)
    if cls is None:
        raise Http404("This warehouse is not available on this server yet.")
    return cls


def _selected(
    request: HtmxHttpRequest, membership: Membership, provider: str, current: Connection | None
) -> Connection | None:
    """Return the connection the form edits: the one picked in the form, else the feed's.

    `current` is the feed's connection as the wizard shows it (with pending edits): picking it again
    keeps those edits in the form.
    """
    picked = request.POST.get("connection") or request.GET.get("connection")
    if not picked:
        return current
    if picked == NEW:
        return current if current is not None and current.pk is None else None
    if not (picked.isascii() and picked.isdigit() and len(picked) < 19):
        return current  # not an id ("²", "--5", NUL): int() or the database would answer with a 500
    found = Connection.objects.filter(workspace=membership.workspace, provider=provider, pk=picked).first()
    if found is None or (current is not None and current.pk == found.pk):
        return current
    return found


def _feed_or_none(membership: Membership, feed_id: int | None) -> Feed | None:
    if feed_id is None:
        return None
    feed = (
        Feed.objects.select_related("connection").filter(workspace=membership.workspace, pk=feed_id).first()
    )
    if feed is None:
        raise Http404("No such feed")
    return feed


def _shared_with(connection: Connection | None, feed: Feed | None) -> int:
    if connection is None or connection.pk is None:
        return 0
    others = Feed.objects.filter(connection_id=connection.pk)
    return others.exclude(pk=feed.pk).count() if feed else others.count()


def _secret_params(provider_cls: Any) -> list[str]:
    return [f"cfg_{s.name}" for s in provider_cls.fields if s.secret or s.kind == "file"]
