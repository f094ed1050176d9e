"""A live feed's Connect edits, staged in pending_changes until the review's Save, and the Connect step's save.

A draft's connection is saved at once (feeds.connections.save_connection); a live feed's rename, switch of
connection and connection settings wait in the "connect" section, its secrets as one Fernet token
(feeds.crypto), never as plain text. The steps reach the warehouse through `step_connection`, the
connection as it will be once saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from feeds import audit, crypto
from feeds.connections import save_connection
from feeds.crypto import Secrets
from feeds.models import Connection, Feed
from feeds.wizard.draft import (
    create_draft,
    is_live,
    save_section,
    section_values,
    touch,
    workspace_connection,
)


@dataclass(frozen=True)
class ConnectionEdit:
    """The Connect form's connection as typed: empty secrets mean "keep the stored value"."""

    provider: str
    name: str
    config: dict[str, Any]
    secrets: dict[str, Any]

    def __repr__(self) -> str:  # secrets never show in logs or tracebacks
        return f"ConnectionEdit({self.provider!r}, {self.name!r})"


def connect_feed(
    workspace: Any,
    feed: Feed | None,
    *,
    feed_name: str,
    connection: Connection | None,
    edit: ConnectionEdit,
    user: Any,
    request: HttpRequest | None = None,
) -> Feed:
    """Save the Connect step and return the feed: a new draft, or the feed's name and connection.

    A draft's connection is saved at once; a live feed's rename, switch and connection settings wait
    in pending_changes for the review's Save (see stage_connect).
    """
    if feed is not None and is_live(feed):
        stage_connect(feed, feed_name=feed_name, connection=connection, edit=edit, user=user)
        return feed
    with transaction.atomic():
        saved = save_connection(
            workspace,
            connection=connection,
            provider=edit.provider,
            name=edit.name,
            config=edit.config,
            secrets=edit.secrets,
            user=user,
            request=request,
        )
        if feed is None:
            draft = create_draft(workspace, feed_name, saved, user)
            audit.record(workspace, user, "create", draft.name, feed=draft, request=request)
            return draft
        if feed.name != feed_name:
            feed.name = feed_name
            touch(feed, user, ["name"])
        if feed.connection_id != saved.pk:
            save_section(feed, "connect", {"connection_id": saved.pk}, user)
        return feed


def stage_connect(
    feed: Feed, *, feed_name: str, connection: Connection | None, edit: ConnectionEdit, user: Any
) -> None:
    """Keep a live feed's Connect edits in pending_changes, its connection's secrets as one Fernet token.

    The section replaces any earlier pending Connect edit; one that changes nothing is dropped.
    """
    current = step_connection(feed)
    target_id = connection.pk if connection else None
    # Empty secrets keep what the user sees as stored: the pending value when editing the same one.
    base = current if current is not None and current.pk == target_id else connection
    kept = {**(base.secrets if base is not None and base.secrets else {})}
    kept.update({k: v for k, v in edit.secrets.items() if v not in (None, "")})
    section: dict[str, Any] = {"connection_id": target_id}
    typed = (edit.provider, edit.name, edit.config, kept)
    if connection is None or typed != (
        connection.provider,
        connection.name,
        connection.config,
        dict(connection.secrets or {}),
    ):
        section["connection"] = {
            "provider": edit.provider,
            "name": edit.name,
            "config": edit.config,
            "secrets": crypto.encrypt(kept),
        }
    if feed_name != feed.name:
        section["feed_name"] = feed_name
    pending = {k: v for k, v in feed.pending_changes.items() if k != "connect"}
    if section != {"connection_id": feed.connection_id}:
        pending["connect"] = section
    feed.pending_changes = pending
    touch(feed, user, ["pending_changes"])


def name_taken_message(name: str) -> str:
    """Return the words for a feed name another feed took since it was picked (the fix: rename on Connect)."""
    return f"Feed name: another feed called “{name}” is active now. Pick another name on the Connect step."


def pending_conflicts(feed: Feed) -> list[str]:
    """Return why the feed's Connect values cannot be saved now: a name taken since they were picked.

    A draft holds no name (Feed.holding_name), so its own name may have been taken since; a live feed's
    pending rename, and its pending connection's name, may have been too.
    """
    values = feed.pending_changes.get("connect") or {}
    problems = []
    name = feed.name if not is_live(feed) else values.get("feed_name")
    if name and Feed.holding_name(feed.workspace_id, name).exclude(pk=feed.pk).exists():
        problems.append(name_taken_message(name))
    edit = values.get("connection")
    if edit:
        taken = Connection.objects.filter(workspace_id=feed.workspace_id, name=edit["name"])
        if values.get("connection_id") is not None:
            taken = taken.exclude(pk=values["connection_id"])
        if taken.exists():
            problems.append(f"A connection called “{edit['name']}” exists now. Pick another name.")
    return problems


def rotate_pending_secrets() -> int:
    """Re-encrypt pending Connect edits' secrets with the newest key (rotate_fernet_keys); return how many."""
    count = 0
    for feed in Feed.objects.filter(pending_changes__has_key="connect").only("pk", "pending_changes"):
        pending = feed.pending_changes
        edit = pending["connect"].get("connection")
        if edit:
            edit["secrets"] = crypto.rotate(edit["secrets"])
            Feed.objects.filter(pk=feed.pk).update(pending_changes=pending)
            count += 1
    return count


def step_connection(feed: Feed) -> Connection | None:
    """Return the connection the wizard's steps use: the saved one, or a copy carrying pending edits.

    The copy (of a live feed's pending Connect edit) is never saved: apply_pending writes the edit.
    """
    values = section_values(feed, "connect")
    saved = workspace_connection(feed.workspace_id, values.get("connection_id"))
    edit = values.get("connection")
    if not edit:
        return saved
    copy = Connection(
        pk=saved.pk if saved else None,
        workspace_id=feed.workspace_id,
        slug=saved.slug if saved else "",
        provider=edit["provider"],
        name=edit["name"],
        config=dict(edit["config"]),
    )
    copy.secrets = Secrets(crypto.decrypt(edit["secrets"]))
    return copy
