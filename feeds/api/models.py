"""API credentials (OAuth client credentials) and the access tokens issued for them.

Only hashes of client secrets and access tokens are stored: both are long random strings, so a
fast hash is as safe as a slow one and keeps every API call to one indexed look-up.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from feeds.accounts.models import Role, Workspace


class ApiCredential(models.Model):
    """A client id and secret that act in one workspace with one role, until revoked."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_credentials")
    name = models.CharField(max_length=120)
    client_id = models.CharField(max_length=64, unique=True)
    secret_hash = models.CharField(max_length=64)  # sha256 hex of the client secret
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    revoked = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_on = models.DateTimeField(auto_now_add=True)
    last_used_on = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"


class AccessToken(models.Model):
    """A Bearer token of a credential; it stops working when it expires or its credential is revoked."""

    credential = models.ForeignKey(ApiCredential, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)  # sha256 hex of the access token
    created_on = models.DateTimeField(auto_now_add=True)
    expires_on = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"token of {self.credential_id} until {self.expires_on}"
