"""Workspace settings pages (members and roles, the audit log; admins only) and accepting an invitation."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from feeds import audit
from feeds.accounts import members, signin
from feeds.accounts.access import require_member
from feeds.accounts.emails import send_invitation
from feeds.accounts.forms import AddMemberForm, RoleForm
from feeds.accounts.invitations import Invitation, invite_tokens
from feeds.accounts.models import Membership, Role


@never_cache  # the answer to an added member carries their one-time invitation link
@require_http_methods(["GET", "POST"])
def member_list(request: HttpRequest, ws: str) -> HttpResponse:
    membership = require_member(request.user, ws, Role.ADMIN)
    form = AddMemberForm(request.POST or None)
    invited = None
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            _, invitation = members.add_member(
                membership.workspace, request.user, email, form.cleaned_data["role"], request
            )
        except members.MemberChangeRefused as refused:
            form.add_error("email", str(refused))
        else:
            invited = _invited(request, membership, email, invitation)
            form = AddMemberForm()
    return _members_page(request, membership, form, invited)


@never_cache
@require_POST
def member_reinvite(request: HttpRequest, ws: str, member_id: int) -> HttpResponse:
    membership = require_member(request.user, ws, Role.ADMIN)
    other = get_object_or_404(Membership, workspace=membership.workspace, pk=member_id)
    try:
        invitation = members.reinvite(other, request.user, request)
    except members.MemberChangeRefused as refused:
        messages.error(request, str(refused))
        return redirect("accounts:members", ws)
    invited = _invited(request, membership, other.user.get_username(), invitation)
    return _members_page(request, membership, AddMemberForm(), invited)


def _invited(
    request: HttpRequest, membership: Membership, email: str, invitation: Invitation | None
) -> dict[str, Any]:
    """Email the invitation link and return what the page says about it (the link shown this once only)."""
    if invitation is None:
        return {"email": email, "link": None}
    link = request.build_absolute_uri(reverse("accounts:invite", args=[invitation.uidb64, invitation.token]))
    send_invitation(email, link, membership.workspace, request.user)
    return {"email": email, "link": link}


def _members_page(
    request: HttpRequest, membership: Membership, form: AddMemberForm, invited: dict[str, Any] | None
) -> HttpResponse:
    people = (
        Membership.objects.filter(workspace=membership.workspace)
        .select_related("user")
        .order_by("user__username")
    )
    ctx = {"workspace": membership.workspace, "membership": membership, "people": people, "form": form}
    # The link is in this one response only: never in a redirect, a message cookie or the session.
    ctx["invited"] = invited
    ctx["roles"] = Role.choices
    return render(request, "accounts/members.html", ctx)


# Django's reset views are login_not_required already; said again here because these two are ours and open.
@method_decorator(login_not_required, name="dispatch")
class ResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's "choose a new password" page; a password set through an emailed link lifts the account's lockout."""

    def form_valid(self, form: Any) -> HttpResponse:
        # The link proves the mailbox: whoever guessed at the account no longer keeps its owner out.
        signin.forget_failures(form.user.get_username())
        return super().form_valid(form)


@method_decorator(login_not_required, name="dispatch")
class InviteAcceptView(ResetConfirmView):
    """An invited person chooses a password through the one-time link, and is signed in."""

    token_generator = invite_tokens
    template_name = "accounts/password_form.html"
    title = "Choose your password"
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("feeds:home")


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
