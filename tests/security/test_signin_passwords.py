"""Finding 3 and 7: every user changes their password, resets it by email, a new member chooses their own
through a one-time invitation link (never shown in a message cookie), and idle sessions end."""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from tests.personas import PASSWORD, client_for

NEW_PASSWORD = "a much longer passphrase 2026"


def _link(text: str) -> str:
    found = re.search(r"https?://[^/\s]+(/accounts/(?:reset|invite)/\S+/)", text)
    assert found, text
    return found.group(1)


def test_it_lets_a_signed_in_user_change_their_password(viewer):
    client = client_for(viewer)
    page = client.get("/w/acme/feeds/").content.decode()
    assert 'href="/accounts/password/"' in page  # reachable from every page
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.check_password(NEW_PASSWORD)


def test_it_refuses_a_password_change_without_the_current_password(viewer):
    response = client_for(viewer).post(
        "/accounts/password/",
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()


def test_it_resets_a_forgotten_password_by_email_once(viewer):
    client = Client()
    assert "Forgot your password?" in client.get("/accounts/login/").content.decode()
    response = client.post("/accounts/password/reset/", {"email": "Vera@acme.example"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["vera@acme.example"]
    link = _link(mail.outbox[0].body)
    form_page = client.get(link, follow=True)
    assert "new_password1" in form_page.content.decode()
    client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    viewer.refresh_from_db()
    assert viewer.check_password(NEW_PASSWORD)
    again = Client().get(link, follow=True).content.decode()
    assert "This link does not work any more" in again


def test_it_says_the_same_for_an_unknown_address_and_sends_nothing(workspace):
    response = Client().post("/accounts/password/reset/", {"email": "nobody@acme.example"}, follow=True)
    assert "If that address belongs to a wsync account" in response.content.decode()
    assert mail.outbox == []


def test_it_invites_a_new_member_by_a_one_time_link_instead_of_a_password(workspace, admin):
    client = client_for(admin)
    response = client.post("/w/acme/settings/members/", {"email": "new@acme.example", "role": "editor"})
    assert response.status_code == 200  # the link is in this answer only, not behind a redirect
    assert "no-store" in response["Cache-Control"]
    assert "messages" not in response.cookies
    link = _link(mail.outbox[0].body)
    assert link in response.content.decode()
    new_user = get_user_model().objects.get(username="new@acme.example")
    assert not new_user.has_usable_password()

    invited = Client()
    form_page = invited.get(link, follow=True)
    assert "Choose your password" in form_page.content.decode()
    done = invited.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302 and invited.get("/w/acme/feeds/").status_code == 200  # signed in
    new_user.refresh_from_db()
    assert new_user.check_password(NEW_PASSWORD)
    assert "This link does not work any more" in Client().get(link, follow=True).content.decode()


def test_it_expires_an_unused_invitation(workspace, admin):
    client_for(admin).post("/w/acme/settings/members/", {"email": "late@acme.example", "role": "viewer"})
    link = _link(mail.outbox[0].body)
    with time_machine.travel(timezone.now() + timedelta(hours=73)):
        assert "This link does not work any more" in Client().get(link, follow=True).content.decode()


def test_it_replaces_an_invitation_by_a_new_link(workspace, admin):
    client = client_for(admin)
    client.post("/w/acme/settings/members/", {"email": "again@acme.example", "role": "viewer"})
    first = _link(mail.outbox[0].body)
    member = get_user_model().objects.get(username="again@acme.example").memberships.get()
    response = client.post(f"/w/acme/settings/members/{member.pk}/invite/")
    second = _link(mail.outbox[1].body)
    assert second != first and second in response.content.decode()
    assert "This link does not work any more" in Client().get(first, follow=True).content.decode()
    assert "Choose your password" in Client().get(second, follow=True).content.decode()


def test_it_adds_someone_who_has_a_password_without_an_invitation(workspace, admin, outsider):
    response = client_for(admin).post(
        "/w/acme/settings/members/", {"email": "olga@other.example", "role": "viewer"}
    )
    assert "sign in with the password they already have" in response.content.decode()
    assert mail.outbox == []


def test_it_ends_a_session_after_the_idle_timeout(viewer, settings):
    client = client_for(viewer)
    assert client.get("/w/acme/feeds/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=settings.WSYNC_SESSION_IDLE_MINUTES - 5)):
        assert client.get("/w/acme/feeds/").status_code == 200  # activity moves the end
    with time_machine.travel(
        timezone.now() + timedelta(minutes=2 * settings.WSYNC_SESSION_IDLE_MINUTES - 10)
    ):
        assert client.get("/w/acme/feeds/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=3 * settings.WSYNC_SESSION_IDLE_MINUTES)):
        response = client.get("/w/acme/feeds/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_it_refuses_a_weak_password_for_an_invitation_saying_why(workspace, admin):
    client_for(admin).post("/w/acme/settings/members/", {"email": "weak@acme.example", "role": "viewer"})
    invited = Client()
    form_page = invited.get(_link(mail.outbox[0].body), follow=True)
    url = form_page.redirect_chain[-1][0]
    for weak, why in [
        ("weak@acme.example", "too similar to the username"),
        ("83920174652", "entirely numeric"),
        ("password123", "too common"),
    ]:
        page = invited.post(url, {"new_password1": weak, "new_password2": weak}).content.decode()
        assert why in page, why
    assert not get_user_model().objects.get(username="weak@acme.example").has_usable_password()
