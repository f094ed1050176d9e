"""The only code that touches crypto: a JSON field stored encrypted with Fernet keys from the environment.

settings.WSYNC_FERNET_KEYS holds one or more keys; the first encrypts, all decrypt, so a key can be
rotated by putting the new one first and running `manage.py rotate_fernet_keys`.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

MASK = "************"


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "WSYNC_FERNET_KEYS must be comma-separated Fernet keys (32 url-safe base64-encoded bytes each)."
        ) from error


def fernet() -> MultiFernet:
    """Return the MultiFernet for the configured keys (first encrypts, all decrypt)."""
    return _fernet(tuple(settings.WSYNC_FERNET_KEYS))


def encrypt(value: Any) -> str:
    """Return a Fernet token for any JSON-serialisable value."""
    return fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt(token: str) -> Any:
    """Return the value behind a token; raises ImproperlyConfigured when no configured key opens it."""
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A stored credential cannot be decrypted with WSYNC_FERNET_KEYS: keep the old key in the list "
            "after the new one until `manage.py rotate_fernet_keys` has run."
        ) from error


def rotate(token: str) -> str:
    """Return the token re-encrypted with the first (newest) key."""
    return fernet().rotate(token.encode()).decode()


class Secrets(dict[str, Any]):
    """A dict of decrypted secrets whose repr never shows a value (logs, tracebacks, debug pages)."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {MASK!r}" for k in self) + "}"

    __str__ = __repr__


class EncryptedJSONField(models.TextField):
    """A dict stored as one Fernet token; decrypted to `Secrets` on load."""

    def from_db_value(self, value: str | None, expression: object, connection: object) -> Secrets | None:
        if value is None:
            return None
        return Secrets(decrypt(value))

    def to_python(self, value: Any) -> Secrets | None:
        if value is None or isinstance(value, dict):
            return Secrets(value) if value is not None else None
        return Secrets(decrypt(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt(dict(value))
