"""Workspace settings › API credentials: admins create (the secret shown once) and revoke credentials."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from feeds.accounts.access import require_member
from feeds.accounts.models import Role
from feeds.api.credentials import create_credential, reown, revoke_credential
from feeds.api.models import ApiCredential


class CredentialForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="Say what uses it, for example “nightly export script”.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


@never_cache  # the answer to a new credential carries its secret: no browser or proxy may keep it
@require_http_methods(["GET", "POST"])
def credential_list(request: HttpRequest, ws: str) -> HttpResponse:
    membership = require_member(request.user, ws, Role.ADMIN)
    form = CredentialForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        issued = create_credential(
            membership.workspace,
            name=form.cleaned_data["name"],
            role=form.cleaned_data["role"],
            user=request.user,
        )
        form = CredentialForm()
    credentials = ApiCredential.objects.filter(workspace=membership.workspace).select_related("created_by")
    ctx = {"workspace": membership.workspace, "membership": membership, "form": form}
    ctx.update(credentials=credentials, issued=issued, token_url=request.build_absolute_uri("/oauth/token"))
    # The secret is in this one response only: never in a redirect, a message or the session.
    return render(request, "api/credentials.html", ctx)


@require_POST
def credential_revoke(request: HttpRequest, ws: str, credential_id: int) -> HttpResponse:
    membership = require_member(request.user, ws, Role.ADMIN)
    credential = get_object_or_404(ApiCredential, workspace=membership.workspace, pk=credential_id)
    revoke_credential(credential, request.user)
    messages.success(request, f"“{credential.name}” was revoked. Its tokens stopped working.")
    return redirect("api:credentials", ws)


@require_POST
def credential_take_over(request: HttpRequest, ws: str, credential_id: int) -> HttpResponse:
    membership = require_member(request.user, ws, Role.ADMIN)
    credential = get_object_or_404(
        ApiCredential, workspace=membership.workspace, pk=credential_id, revoked=False
    )
    reown(credential, request.user)
    messages.success(
        request, f"“{credential.name}” now acts for you: it keeps working while you are an admin here."
    )
    return redirect("api:credentials", ws)
