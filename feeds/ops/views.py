"""/healthz, /metrics and the workspace's alert settings page."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from feeds import audit
from feeds.accounts.access import require_member
from feeds.accounts.models import Role
from feeds.ops import alerts, deliver, health, metrics
from feeds.ops.forms import AlertSettingsForm
from feeds.ops.models import AlertSettings


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = health.report()
    return JsonResponse(health.as_json(checks), status=200 if health.healthy(checks) else 503)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.WSYNC_METRICS_TOKEN
    if not token:
        return HttpResponse(
            "Metrics are off: set WSYNC_METRICS_TOKEN.", status=404, content_type="text/plain"
        )
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return HttpResponse("A valid bearer token is required.", status=401, content_type="text/plain")
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")


@require_http_methods(["GET", "POST"])
def alert_settings(request: HttpRequest, ws: str) -> HttpResponse:
    membership = require_member(request.user, ws, Role.ADMIN if request.method == "POST" else Role.VIEWER)
    workspace = membership.workspace
    current = AlertSettings.objects.filter(workspace=workspace).first() or AlertSettings(workspace=workspace)
    before = _settings_of(current)
    form = AlertSettingsForm(request.POST or None, instance=current, workspace=workspace)
    if request.method == "POST" and form.is_valid():
        form.save()
        changes = audit.diff(before, _settings_of(form.instance))
        audit.record(workspace, request.user, "edit", "Alert settings", changes=changes, request=request)
        messages.success(request, "Alert settings saved.")
        return redirect("ops:alerts", ws)
    context = {"workspace": workspace, "form": form, "can_edit": membership.allows(Role.ADMIN)}
    context["incidents"] = alerts.history(workspace)
    context["emailed"] = deliver.recipients(workspace.pk, current if current.pk else None)
    return render(request, "ops/alerts.html", context)


def _settings_of(config: AlertSettings) -> dict[str, object]:
    recipients = sorted(u.email for u in config.recipients.all()) if config.pk else []
    return {
        "recipients": ", ".join(recipients),
        # A webhook URL carries its own secret (Slack's path): the log names only its host.
        "webhook_url": f"{urlsplit(config.webhook_url).hostname}/…" if config.webhook_url else "",
        "late_after_intervals": config.late_after_intervals,
    }
