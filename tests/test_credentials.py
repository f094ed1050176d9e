"""Warehouse credentials are encrypted at rest, never shown, and survive key rotation."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db

from feeds.models import Connection, Provider

SECRET = "s3cr3t-Pa55word-that-must-not-leak"


@pytest.fixture
def saved_connection(workspace):
    return Connection.objects.create(
        workspace=workspace,
        slug="pg",
        name="Warehouse",
        provider=Provider.POSTGRES,
        config={"host": "db.example.com", "user": "wsync"},
        secrets={"password": SECRET},
    )


def _raw_secrets(pk: int) -> str:
    with db.cursor() as cursor:
        cursor.execute("SELECT secrets FROM feeds_connection WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_it_stores_no_plaintext_secret_in_the_database(saved_connection):
    raw = _raw_secrets(saved_connection.pk)
    assert SECRET not in raw
    assert raw.startswith("gAAAA")  # a Fernet token


def test_it_decrypts_secrets_for_opening_the_warehouse(saved_connection):
    loaded = Connection.objects.get(pk=saved_connection.pk)
    assert loaded.warehouse_config()["password"] == SECRET


def test_it_masks_secrets_in_repr_and_logs(saved_connection):
    loaded = Connection.objects.get(pk=saved_connection.pk)
    assert SECRET not in repr(loaded.secrets)
    assert SECRET not in str(loaded.warehouse_config())


def test_it_rotates_every_secret_to_the_newest_key(saved_connection, settings):
    old_key = settings.WSYNC_FERNET_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.WSYNC_FERNET_KEYS = [new_key, old_key]
    call_command("rotate_fernet_keys", stdout=io.StringIO())
    raw = _raw_secrets(saved_connection.pk)
    assert Fernet(new_key.encode()).decrypt(raw.encode())  # the newest key alone opens it
    settings.WSYNC_FERNET_KEYS = [new_key]
    assert Connection.objects.get(pk=saved_connection.pk).secrets["password"] == SECRET
