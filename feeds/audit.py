"""The audit log: every change a person makes, recorded with who, when and from where."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

from feeds.accounts.models import Workspace
from feeds.models import SCHEDULE_SETTINGS, AuditEntry, Feed

ENTRIES_PER_PAGE = 50


@dataclass(frozen=True)
class _Acting:
    label: str
    ip_address: str | None


# Who acts for the current request when it is not a signed-in person (an API credential), see acting_as.
_acting: ContextVar[_Acting | None] = ContextVar("wsync_audit_acting", default=None)


@contextmanager
def acting_as(label: str, request: HttpRequest | None) -> Iterator[None]:
    """Record every entry made inside the block as `label`, with no user, from the request's address.

    The API wraps each call in this: the shared services it calls (wizard, feed actions, engine) take
    the credential creator's user for created_by fields, but the change was made by the credential,
    and the services never see the request, so without this the log would name the wrong actor and
    no address.
    """
    token = _acting.set(_Acting(label[:200], _client_ip(request)))
    try:
        yield
    finally:
        _acting.reset(token)


def record(
    workspace: Workspace,
    actor: Any,
    action: str,
    target: str,
    *,
    feed: Feed | None = None,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Return the new audit entry; `changes` maps a setting to (before, after).

    Inside `acting_as` the entry names that actor instead of `actor`.
    """
    acting = _acting.get()
    authenticated = getattr(actor, "is_authenticated", False)
    return AuditEntry.objects.create(
        workspace=workspace,
        feed=feed,
        actor=actor if authenticated and acting is None else None,
        actor_label=acting.label if acting else _label(actor),
        action=action,
        target=target,
        changes={k: [_plain(b), _plain(a)] for k, (b, a) in (changes or {}).items()},
        ip_address=_client_ip(request) or (acting.ip_address if acting else None),
    )


def record_connection_test(
    workspace: Workspace,
    actor: Any,
    target: str,
    *,
    destination: Mapping[str, Any],
    outcome: str,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Record a "Test connection": who tested which connection, where it pointed, and what came of it.

    `destination` holds the settings that decide where the secret went (host, port, user...), so a
    test against an unexpected host stands out in the log.
    """
    changes = {name: (None, value) for name, value in destination.items()}
    changes["outcome"] = (None, outcome)
    return record(workspace, actor, "test connection", target, changes=changes, request=request)


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Return {key: (before, after)} for the keys whose values differ."""
    return {
        k: (before.get(k), after.get(k))
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }


# The settings whose changes the audit log shows for a feed (secrets never appear here).
FEED_SETTINGS = ("name", "state", "pipeline_type", *SCHEDULE_SETTINGS)


def feed_settings(feed: Feed) -> dict[str, Any]:
    """Return the feed's settings as the audit log compares them (connection, SQL, mapping included)."""
    values = {name: getattr(feed, name) for name in FEED_SETTINGS}
    values["connection"] = feed.connection.name if feed.connection else None
    values["sql"] = feed.data_model.sql if feed.data_model else None
    values["mappings"] = feed.field_transformation.mappings if feed.field_transformation else None
    return values


def entries(workspace: Workspace, page: str | None, feed: Feed | None = None) -> Page:
    """Return a page of the workspace's (or one feed's) audit entries, newest first."""
    queryset = AuditEntry.objects.filter(workspace=workspace).select_related("feed")
    if feed is not None:
        queryset = queryset.filter(feed=feed)
    return Paginator(queryset, ENTRIES_PER_PAGE).get_page(page)


def _label(actor: Any) -> str:
    if actor is None:
        return "wsync"
    return str(getattr(actor, "email", "") or getattr(actor, "get_username", lambda: str(actor))())


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)


def _client_ip(request: HttpRequest | None) -> str | None:
    # REMOTE_ADDR only: a forwarded-for header is whatever the client says unless a trusted proxy sets it.
    return request.META.get("REMOTE_ADDR") if request is not None else None
