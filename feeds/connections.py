"""Saving a connection, for the wizard's Connect step and the API alike: settings, secrets and audit.

No forms and no HTTP: callers check the values with the provider's field rules first.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.text import slugify

from feeds import audit
from feeds.models import Connection
from feeds.warehouses.base import ALLOW_UNENCRYPTED


def unique_slug(model: Any, workspace_id: int, base: str) -> str:
    """Return `base` slugified, with a numeric suffix when the workspace already uses it."""
    root = (slugify(base) or "item")[:80]
    taken = set(
        model.objects.filter(workspace_id=workspace_id, slug__startswith=root).values_list("slug", flat=True)
    )
    slug, n = root, 2
    while slug in taken:
        slug, n = f"{root}-{n}", n + 1
    return slug


def save_connection(
    workspace: Any,
    *,
    connection: Connection | None,
    provider: str,
    name: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
    user: Any,
    request: HttpRequest | None = None,
) -> Connection:
    """Create or update a connection; an empty secret keeps the stored value."""
    if connection is None:
        connection = Connection(
            workspace=workspace,
            provider=provider,
            slug=unique_slug(Connection, workspace.pk, name),
            created_by=user,
        )
    is_new = connection.pk is None
    before = {"name": connection.name, **(connection.config or {})}
    kept = dict(connection.secrets or {})
    changed_secrets = sorted(k for k, v in secrets.items() if v not in (None, "") and kept.get(k) != v)
    kept.update({k: v for k, v in secrets.items() if v not in (None, "")})
    connection.name = name
    connection.config = config
    connection.secrets = kept
    connection.last_modified_by = user
    connection.save()
    # Secrets are named, never shown, in the audit log.
    changes = audit.diff(before, {"name": name, **config}) | {
        k: ("•••", "new value") for k in changed_secrets
    }
    if is_new or changes:
        action = "create connection" if is_new else "edit connection"
        audit.record(workspace, user, action, name, changes=None if is_new else changes, request=request)
    if config.get(ALLOW_UNENCRYPTED) is True and before.get(ALLOW_UNENCRYPTED) is not True:
        # Its own entry, not only a line of an edit: giving up TLS is what a reviewer looks for.
        changes = {ALLOW_UNENCRYPTED: (False, True), "host": (None, config.get("host"))}
        audit.record(workspace, user, "allow unencrypted", name, changes=changes, request=request)
    return connection
