"""Who may see and change what: one access check, 404 outside the workspace, 403 for a lesser role."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from feeds.accounts.access import require_member
from feeds.accounts.models import Role
from tests.personas import PASSWORD, client_for


def test_it_returns_the_membership_of_a_member(workspace, editor):
    assert require_member(editor, "acme", Role.EDITOR).role == Role.EDITOR


def test_it_hides_a_workspace_from_an_outsider(workspace, outsider):
    with pytest.raises(Http404):
        require_member(outsider, "acme")


def test_it_refuses_a_viewer_what_an_editor_may_do(workspace, viewer):
    with pytest.raises(PermissionDenied):
        require_member(viewer, "acme", Role.EDITOR)


def test_it_refuses_an_editor_what_only_an_admin_may_do(workspace, editor):
    with pytest.raises(PermissionDenied):
        require_member(editor, "acme", Role.ADMIN)


def test_it_sends_anonymous_visitors_to_the_login_page(client, workspace):
    response = client.get("/w/acme/feeds/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_reloads_an_htmx_fragment_request_into_the_login_page(client, workspace):
    # htmx would swap a redirect's login page into the fragment; HX-Redirect reloads the whole page instead.
    response = client.get("/w/acme/feeds/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/accounts/login/"


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",
        "/accounts/password/reset/",
        "/accounts/reset/MQ/set-password/",
        "/accounts/invite/MQ/x-y/",
    ],
)
def test_it_lets_anonymous_visitors_reach_the_sign_in_reset_and_invitation_pages(client, workspace, path):
    # A bad link answers its own page ("this link is not valid"), not the sign-in redirect.
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "path", ["/platform/v2/workspaces/acme/pipelines", "/platform/nowhere", "/oauth/token"]
)
def test_it_leaves_the_api_to_its_own_authentication(client, workspace, path):
    response = client.get(path)
    assert response.status_code in (401, 404, 405)
    assert response["Content-Type"].startswith("application/json")


def test_it_signs_in_with_email_and_password(client, admin):
    response = client.post("/accounts/login/", {"username": "alice@acme.example", "password": PASSWORD})
    assert response.status_code == 302


def test_it_explains_a_wrong_password_next_to_the_form(client, admin):
    response = client.post("/accounts/login/", {"username": "alice@acme.example", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_it_shows_an_outsider_a_404_for_another_workspaces_feeds(workspace, outsider):
    assert client_for(outsider).get("/w/acme/feeds/").status_code == 404


def test_it_lists_feeds_for_a_viewer_without_the_add_button(workspace, viewer):
    response = client_for(viewer).get("/w/acme/feeds/")
    assert response.status_code == 200
    assert "Add Feed Input" not in response.content.decode()


@pytest.mark.parametrize(
    ("persona", "add_feed", "delete", "members_link"),
    [("viewer", False, False, False), ("editor", True, False, False), ("admin", True, True, True)],
)
def test_the_feed_list_offers_each_role_what_its_views_allow(
    active_feed, request, persona, add_feed, delete, members_link
):
    html = client_for(request.getfixturevalue(persona)).get("/w/acme/feeds/").content.decode()
    assert ("Add Feed Input" in html) is add_feed
    assert (f'href="/w/acme/feeds/{active_feed.pk}/delete/"' in html) is delete  # in the row's menu
    assert ("/w/acme/settings/members/" in html) is members_link


def test_a_template_asking_for_a_role_that_does_not_exist_fails_loudly(workspace, admin):
    from feeds.accounts.access import membership_for
    from feeds.accounts.templatetags.roles import allows

    with pytest.raises(ValueError):
        allows(membership_for(admin, "acme"), "superuser")


def test_the_members_page_shows_each_persons_role_selected(workspace, admin, viewer):
    html = client_for(admin).get("/w/acme/settings/members/").content.decode()
    html = html.split("Add a member")[0]  # the table, not the add form (whose role starts at viewer)
    assert html.count('<option value="viewer" selected>Viewer</option>') == 1
    assert html.count('<option value="admin" selected>Admin</option>') == 1
