"""Workspace settings pages: members and roles, and the audit log (admins only)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from feeds import audit
from feeds.accounts import members
from feeds.accounts.access import require_member
from feeds.accounts.forms import AddMemberForm, RoleForm
from feeds.accounts.models import Membership, Role


def member_list(request: HttpRequest, ws: str) -> HttpResponse:
    membership = require_member(request.user, ws, Role.ADMIN)
    form = AddMemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _, password = members.add_member(
                membership.workspace,
                request.user,
                form.cleaned_data["email"],
                form.cleaned_data["role"],
                request,
            )
            note = f" Their first password is {password} — share it with them privately." if password else ""
            messages.success(request, f"{form.cleaned_data['email']} was added.{note}")
            return redirect("accounts:members", ws)
        except members.MemberChangeRefused as refused:
            form.add_error("email", str(refused))
    people = (
        Membership.objects.filter(workspace=membership.workspace)
        .select_related("user")
        .order_by("user__username")
    )
    ctx = {"workspace": membership.workspace, "membership": membership, "people": people, "form": form}
    return render(request, "accounts/members.html", ctx)


@require_POST
def member_role(request: HttpRequest, ws: str, member_id: int) -> HttpResponse:
    membership = require_member(request.user, ws, Role.ADMIN)
    other = get_object_or_404(Membership, workspace=membership.workspace, pk=member_id)
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise members.MemberChangeRefused("Pick one of the roles Admin, Editor or Viewer.")
        members.change_role(other, request.user, form.cleaned_data["role"], request)
    except members.MemberChangeRefused as refused:
        messages.error(request, str(refused))
    return redirect("accounts:members", ws)


@require_POST
def member_remove(request: HttpRequest, ws: str, member_id: int) -> HttpResponse:
    membership = require_member(request.user, ws, Role.ADMIN)
    other = get_object_or_404(Membership, workspace=membership.workspace, pk=member_id)
    try:
        members.remove_member(other, request.user, request)
    except members.MemberChangeRefused as refused:
        messages.error(request, str(refused))
    return redirect("accounts:members", ws)


@require_GET
def audit_log(request: HttpRequest, ws: str) -> HttpResponse:
    membership = require_member(request.user, ws, Role.ADMIN)
    page = audit.entries(membership.workspace, request.GET.get("page"))
    return render(request, "accounts/audit_log.html", {"workspace": membership.workspace, "page": page})
