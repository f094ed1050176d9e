"""Finding 3: repeated failed sign-ins are throttled per account and per address, with a clear message;
the API's token endpoint counts wrong client secrets the same way and answers 429 in the API's shape."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from feeds.accounts.models import Role
from feeds.api.credentials import create_credential
from tests.personas import PASSWORD

LIMIT = 5  # WSYNC_LOGIN_FAILURE_LIMIT's default


def sign_in(email: str, password: str, address: str = "10.0.0.1") -> object:
    client = Client(REMOTE_ADDR=address)
    return client.post("/accounts/login/", {"username": email, "password": password})


def test_it_locks_an_account_after_repeated_wrong_passwords_even_for_the_right_one(admin):
    for _ in range(LIMIT - 1):
        assert sign_in("alice@acme.example", "wrong").status_code == 200
    assert sign_in("alice@acme.example", "wrong").status_code == 429  # the failure that reaches the limit
    response = sign_in("alice@acme.example", PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-ins" in page and "Wait 15 minutes" in page
    assert "_auth_user_id" not in response.client.session


def test_it_counts_failures_against_the_account_from_any_address(admin):
    for n in range(LIMIT):
        sign_in("Alice@Acme.example", "wrong", address=f"10.0.1.{n}")  # any capitalisation is one account
    assert sign_in("alice@acme.example", PASSWORD, address="10.0.2.1").status_code == 429


def test_it_locks_an_address_that_guesses_across_accounts(admin, editor):
    for n in range(LIMIT):
        sign_in(f"nobody{n}@acme.example", "wrong", address="10.0.3.1")
    assert sign_in("eddie@acme.example", PASSWORD, address="10.0.3.1").status_code == 429
    assert sign_in("eddie@acme.example", PASSWORD, address="10.0.3.2").status_code == 302


def test_it_lets_the_account_in_again_after_the_lockout(admin):
    for _ in range(LIMIT):
        sign_in("alice@acme.example", "wrong")
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert sign_in("alice@acme.example", PASSWORD).status_code == 302


def test_it_forgets_failures_after_a_successful_sign_in(admin):
    for _ in range(LIMIT - 1):
        sign_in("alice@acme.example", "wrong")
    assert sign_in("alice@acme.example", PASSWORD).status_code == 302
    for _ in range(LIMIT - 1):
        sign_in("alice@acme.example", "wrong")
    assert sign_in("alice@acme.example", PASSWORD).status_code == 302


def _token(client_id: str, secret: str, address: str = "10.0.4.1") -> object:
    body = {"client_id": client_id, "client_secret": secret, "grant_type": "client_credentials"}
    return Client(REMOTE_ADDR=address).post("/oauth/token", json.dumps(body), content_type="application/json")


@pytest.fixture
def credential(workspace, admin):
    return create_credential(workspace, name="script", role=Role.VIEWER, user=admin)


def test_it_throttles_wrong_client_secrets_with_429_in_the_api_shape(credential):
    client_id = credential.credential.client_id
    for _ in range(LIMIT):
        assert _token(client_id, "wrong").status_code == 401
    response = _token(client_id, credential.client_secret)
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    error = response.json()["errors"][0]
    assert response.json()["statusCode"] == 429 and error["code"] == "rate_limited"
    assert "Too many wrong client secrets" in error["message"]


def test_it_issues_tokens_again_after_the_lockout(credential):
    for _ in range(LIMIT):
        _token(credential.credential.client_id, "wrong")
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert _token(credential.credential.client_id, credential.client_secret).status_code == 200


def test_it_lifts_an_account_lockout_when_the_owner_resets_the_password_by_email(admin):
    for n in range(LIMIT):
        sign_in("alice@acme.example", "wrong", address=f"10.0.5.{n}")
    assert sign_in("alice@acme.example", PASSWORD, address="10.0.6.1").status_code == 429
    Client().post("/accounts/password/reset/", {"email": "alice@acme.example"})
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    owner = Client(REMOTE_ADDR="10.0.6.1")
    form_page = owner.get(link, follow=True)
    new = "a brand new passphrase 2026"
    owner.post(form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert sign_in("alice@acme.example", new, address="10.0.6.1").status_code == 302
