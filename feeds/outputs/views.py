"""Output pages: Setup › Outputs (the directory and a form per kind), connecting a feed (the green +),
a connection's Pause/Resume/Disconnect and its dead letters."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from feeds.accounts.access import require_member
from feeds.accounts.models import Membership, Role, Workspace
from feeds.outputs import service
from feeds.outputs.access import connection_for_user, output_for_user
from feeds.outputs.forms import ConnectForm, DisconnectForm, output_form
from feeds.outputs.kinds import KINDS, kind_class
from feeds.outputs.models import BatchState, Output, OutputKind
from feeds.pages.access import feed_for_user
from feeds.pages.http import HtmxHttpRequest


@require_GET
def directory(request: HtmxHttpRequest, ws: str) -> HttpResponse:
    membership = require_member(request.user, ws)
    outputs = list(Output.objects.filter(workspace=membership.workspace))
    kinds = [(k, kind_class(k)) for k in KINDS]
    ctx = {"workspace": membership.workspace, "membership": membership, "outputs": outputs, "kinds": kinds}
    return render(request, "outputs/directory.html", {**ctx, "nav": "outputs"})


@require_http_methods(["GET", "POST"])
def new_output(request: HtmxHttpRequest, ws: str, kind: str) -> HttpResponse:
    membership = require_member(request.user, ws, Role.EDITOR)
    if kind not in OutputKind.values:
        raise Http404("No such output kind")
    form = output_form(kind, request.POST or None)
    if request.method == "POST" and _save(request, form, membership.workspace, kind, None):
        return redirect("outputs:directory", ws)
    return _form_page(request, membership, form, kind, None)


@require_http_methods(["GET", "POST"])
def edit_output(request: HtmxHttpRequest, ws: str, output_id: int) -> HttpResponse:
    membership, output = output_for_user(request.user, ws, output_id, Role.EDITOR)
    form = output_form(output.kind, request.POST or None, output)
    if request.method == "POST" and _save(request, form, membership.workspace, output.kind, output):
        return redirect("outputs:directory", ws)
    return _form_page(request, membership, form, output.kind, output)


def _save(
    request: HtmxHttpRequest, form: forms.Form, workspace: Workspace, kind: str, output: Output | None
) -> bool:
    if not form.is_valid():
        return False
    values = dict(form.cleaned_data)
    try:
        service.save_output(
            workspace, kind, values.pop("name"), values, request.user, output=output, request=request
        )
    except service.Invalid as invalid:
        for name, message in invalid.errors.items():
            form.add_error(name if name in form.fields else None, message)
        return False
    messages.success(request, "Output saved.")
    return True


def _form_page(
    request: HtmxHttpRequest, membership: Membership, form: forms.Form, kind: str, output: Output | None
) -> HttpResponse:
    ctx = {"workspace": membership.workspace, "membership": membership, "form": form, "nav": "outputs"}
    return render(request, "outputs/output_form.html", {**ctx, "kind": kind_class(kind), "output": output})


@require_POST
def send_test(request: HtmxHttpRequest, ws: str, output_id: int) -> HttpResponse:
    _, output = output_for_user(request.user, ws, output_id, Role.EDITOR)
    answer = service.send_test(output)
    if answer.delivered:
        messages.success(request, f"Test event delivered to {output.name}.")
    else:
        messages.error(request, f"The test event was not delivered: {answer.message}")
    return redirect("outputs:edit", ws, output.pk)


@require_POST
def reactivate(request: HtmxHttpRequest, ws: str, output_id: int) -> HttpResponse:
    _, output = output_for_user(request.user, ws, output_id, Role.ADMIN)
    service.reactivate(output, request.user, request=request)
    messages.success(request, f"{output.name} is active again; its backlog is being delivered.")
    return redirect("outputs:directory", ws)


@require_http_methods(["GET", "POST"])
def delete_output(request: HtmxHttpRequest, ws: str, output_id: int) -> HttpResponse:
    membership, output = output_for_user(request.user, ws, output_id, Role.ADMIN)
    gone = service.removal(output)
    seen = ",".join(str(c.pk) for c in gone.connections)  # what the confirmation showed
    if request.method == "POST":
        if request.POST.get("seen", "") == seen:
            service.delete_output(output, request.user, with_connections=True, request=request)
            messages.success(request, f"Deleted {output.name}.")
            return redirect("outputs:directory", ws)
        messages.warning(
            request, "Feeds were connected or disconnected meanwhile: check what goes, then confirm."
        )
    ctx = {"workspace": membership.workspace, "membership": membership, "output": output, "gone": gone}
    return render(request, "outputs/delete.html", {**ctx, "seen": seen, "nav": "outputs"})


@require_http_methods(["GET", "POST"])
def connect(request: HtmxHttpRequest, ws: str, feed_id: int) -> HttpResponse:
    membership, feed = feed_for_user(request.user, ws, feed_id, Role.EDITOR)
    form = ConnectForm(request.POST or None, workspace=membership.workspace)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            service.connect(
                feed,
                data["output"],
                request.user,
                sends=data["sends"],
                attributes=form.attribute_list(),
                history=data["history"],
                request=request,
            )
        except service.Invalid as invalid:
            for name, message in invalid.errors.items():
                form.add_error(name if name in form.fields else None, message)
        else:
            messages.success(request, f"{feed.name} now sends to {data['output'].name}.")
            return redirect("feeds:summary", ws, feed.pk)
    ctx = {
        "workspace": membership.workspace,
        "membership": membership,
        "feed": feed,
        "form": form,
        "nav": "feeds",
    }
    return render(request, "outputs/connect.html", ctx)


@require_POST
def pause(request: HtmxHttpRequest, ws: str, connection_id: int) -> HttpResponse:
    _, connection = connection_for_user(request.user, ws, connection_id, Role.ADMIN)
    service.set_paused(connection, request.POST.get("paused") != "0", request.user, request=request)
    return redirect("feeds:summary", ws, connection.feed_id)


@require_http_methods(["GET", "POST"])
def disconnect(request: HtmxHttpRequest, ws: str, connection_id: int) -> HttpResponse:
    membership, connection = connection_for_user(request.user, ws, connection_id, Role.ADMIN)
    form = DisconnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        dropped = service.disconnect(
            connection, request.user, drop_backlog=form.cleaned_data["drop_backlog"], request=request
        )
        messages.success(
            request,
            f"Disconnected {connection.output.name}."
            + (f" {dropped} pending batches dropped." if dropped else ""),
        )
        return redirect("feeds:summary", ws, connection.feed_id)
    pending = connection.outbox.filter(state=BatchState.PENDING).count()
    ctx = {
        "workspace": membership.workspace,
        "membership": membership,
        "connection": connection,
        "form": form,
    }
    return render(request, "outputs/disconnect.html", {**ctx, "pending": pending, "nav": "feeds"})


@require_GET
def dead_letters(request: HtmxHttpRequest, ws: str, connection_id: int) -> HttpResponse:
    membership, connection = connection_for_user(request.user, ws, connection_id)
    dead = connection.outbox.filter(state=BatchState.DEAD).order_by("seq")[:200]
    ctx = {
        "workspace": membership.workspace,
        "membership": membership,
        "connection": connection,
        "dead": dead,
    }
    return render(request, "outputs/dead_letters.html", {**ctx, "nav": "feeds"})


@require_GET
def download_dead_letter(
    request: HtmxHttpRequest, ws: str, connection_id: int, batch_id: int
) -> HttpResponse:
    _, connection = connection_for_user(request.user, ws, connection_id)
    batch = connection.outbox.filter(state=BatchState.DEAD, pk=batch_id).first()
    if batch is None:
        raise Http404("No such dead letter")
    response = HttpResponse(batch.payload, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{batch.batch_id}.json"'
    return response


@require_POST
def redeliver(request: HtmxHttpRequest, ws: str, connection_id: int) -> HttpResponse:
    _, connection = connection_for_user(request.user, ws, connection_id, Role.ADMIN)
    chosen = [int(i) for i in request.POST.getlist("batch") if i.isdigit()] or None
    count = service.redeliver(connection, chosen, request.user, request=request)
    messages.success(request, f"{count} dead letter{'s' if count != 1 else ''} queued for delivery again.")
    return redirect("outputs:dead_letters", ws, connection.pk)
