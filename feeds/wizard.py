"""The setup wizard's domain: the ordered steps, the draft each step edits, and the review's apply.

A draft feed is edited in place (its connection, data model and mapping objects). An activated feed
keeps running on its saved settings while the wizard edits it: changes wait in `Feed.pending_changes`
(one JSON section per step) until the review step is saved again. Views read a step's values with
`section_values` and write them with `save_section`, and never need to know which case they are in.
A live feed's Connect edits (rename, another connection, a connection's settings) wait there too;
pending secrets are kept as one Fernet token (feeds.crypto), never as plain text, and the steps reach
the warehouse through `step_connection`, the connection as it will be once saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from feeds import audit, crypto
from feeds.connections import save_connection, unique_slug  # noqa: F401  (wizard.save_connection: tests, steps)
from feeds.crypto import Secrets
from feeds.models import (
    SCHEDULE_SETTINGS,
    Connection,
    DataModel,
    Feed,
    FeedState,
    FieldTransformation,
    PipelineType,
)


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    url_name: str


STEPS: tuple[Step, ...] = (
    Step("connect", "Connect", "connect:step"),
    Step("model", "Data model", "model:step"),
    Step("map", "Mapping", "mapping:step"),
    Step("schedule", "Sync settings", "schedule:step"),
    Step("review", "Review", "review:step"),
)
STEP_KEYS = tuple(s.key for s in STEPS)

MODEL_FIELDS = ("sql", "columns", "columns_sql", "timestamp_field")
SCHEDULE_FIELDS = SCHEDULE_SETTINGS
DATETIME_FIELDS = {"from_time", "schedule_start", "schedule_end"}


def step_index(key: str) -> int:
    """Return the position of a step key in STEPS; raises ValueError for an unknown key."""
    return STEP_KEYS.index(key)


def is_live(feed: Feed) -> bool:
    """Return True when the feed was activated once: wizard edits then wait for the review's Save."""
    return feed.state != FeedState.DRAFT


def has_pending(feed: Feed) -> bool:
    return bool(feed.pending_changes)


# --- reading a step's values ------------------------------------------------------------------


def section_values(feed: Feed, section: str) -> dict[str, Any]:
    """Return the step's values as the wizard shows them: saved values, overlaid with pending edits."""
    saved = _saved_values(feed, section)
    pending = _decode(feed.pending_changes.get(section, {}))
    return {**saved, **pending}


def _saved_values(feed: Feed, section: str) -> dict[str, Any]:
    if section == "model":
        model = feed.data_model
        if model is None:
            return {"sql": "", "columns": [], "columns_sql": "", "timestamp_field": ""}
        return {name: getattr(model, name) for name in MODEL_FIELDS}
    if section == "mapping":
        mappings = feed.field_transformation.mappings if feed.field_transformation else []
        return {"pipeline_type": feed.pipeline_type, "mappings": list(mappings)}
    if section == "schedule":
        return {name: getattr(feed, name) for name in SCHEDULE_FIELDS}
    if section == "connect":
        return {"connection_id": feed.connection_id, "feed_name": feed.name}
    raise ValueError(f"Unknown wizard section {section!r}")


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


def _decode(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (datetime.fromisoformat(v) if k in DATETIME_FIELDS and isinstance(v, str) and v else v)
        for k, v in values.items()
    }


def model_is_probed(values: dict[str, Any]) -> bool:
    """Return True when the columns were discovered from the SQL exactly as it is now."""
    return bool(values.get("columns")) and values.get("columns_sql") == values.get("sql")


def column_names(values: dict[str, Any]) -> list[str]:
    return [c["name"] for c in values.get("columns") or []]


# --- writing a step's values ------------------------------------------------------------------


def save_section(feed: Feed, section: str, values: dict[str, Any], user: Any) -> None:
    """Store a step's values: on the feed's objects for a draft, in pending_changes for a live feed."""
    if is_live(feed):
        pending = dict(feed.pending_changes)
        pending[section] = {**pending.get(section, {}), **_encode(values)}
        feed.pending_changes = pending
        _touch(feed, user, ["pending_changes"])
        return
    with transaction.atomic():
        _apply_section(feed, section, values, user)


def _apply_section(
    feed: Feed, section: str, values: dict[str, Any], user: Any, request: HttpRequest | None = None
) -> None:
    values = _decode(values)
    if section == "model":
        model = feed.data_model or _new_data_model(feed, user)
        for name, value in values.items():
            setattr(model, name, value)
        model.connection = feed.connection  # type: ignore[assignment]
        model.last_modified_by = user
        model.save()
        if feed.data_model_id != model.pk:
            feed.data_model = model
            _touch(feed, user, ["data_model"])
    elif section == "mapping":
        _apply_mapping(feed, values, user)
    elif section == "schedule":
        for name, value in values.items():
            setattr(feed, name, value)
        _touch(feed, user, list(values))
    elif section == "connect":
        _apply_connect(feed, values, user, request)


def _apply_connect(feed: Feed, values: dict[str, Any], user: Any, request: HttpRequest | None) -> None:
    """Write the Connect step: the connection's pending settings, the feed's name and its connection."""
    connection_id = values.get("connection_id")
    edit = values.get("connection")
    if edit:
        connection_id = save_connection(
            feed.workspace,
            connection=_connection(feed.workspace_id, connection_id),
            provider=edit["provider"],
            name=edit["name"],
            config=edit["config"],
            secrets=crypto.decrypt(edit["secrets"]),
            user=user,
            request=request,
        ).pk
    if values.get("feed_name") and values["feed_name"] != feed.name:
        feed.name = values["feed_name"]
        _touch(feed, user, ["name"])
    if connection_id != feed.connection_id:
        feed.connection_id = connection_id
        _touch(feed, user, ["connection"])
    model = feed.data_model
    if model is not None and feed.connection_id is not None and model.connection_id != feed.connection_id:
        model.connection_id = feed.connection_id
        model.save(update_fields=["connection"])


def _connection(workspace_id: int, pk: int | None) -> Connection | None:
    if pk is None:
        return None
    return Connection.objects.filter(workspace_id=workspace_id, pk=pk).first()


def _apply_mapping(feed: Feed, values: dict[str, Any], user: Any) -> None:
    if "pipeline_type" in values:
        feed.pipeline_type = values["pipeline_type"]
        _touch(feed, user, ["pipeline_type"])
    if "mappings" in values:
        transformation = feed.field_transformation or _new_transformation(feed, user)
        transformation.mappings = values["mappings"]
        transformation.last_modified_by = user
        transformation.save()
        if feed.field_transformation_id != transformation.pk:
            feed.field_transformation = transformation
            _touch(feed, user, ["field_transformation"])


def _touch(feed: Feed, user: Any, fields: list[str]) -> None:
    feed.last_modified_by = user
    feed.save(update_fields=[*fields, "last_modified_by", "last_modified_on"])


def _new_data_model(feed: Feed, user: Any) -> DataModel:
    return DataModel(
        workspace=feed.workspace,
        slug=unique_slug(DataModel, feed.workspace_id, f"{feed.slug}-model"),
        name=f"{feed.name} data model",
        connection=feed.connection,
        created_by=user,
    )


def _new_transformation(feed: Feed, user: Any) -> FieldTransformation:
    return FieldTransformation(
        workspace=feed.workspace,
        slug=unique_slug(FieldTransformation, feed.workspace_id, f"{feed.slug}-mapping"),
        name=f"{feed.name} mapping",
        created_by=user,
    )


def apply_pending(feed: Feed, user: Any, request: HttpRequest | None = None) -> None:
    """Write every pending section onto the feed's objects and clear pending_changes."""
    with transaction.atomic():
        for section in ("connect", "model", "mapping", "schedule"):
            if section in feed.pending_changes:
                _apply_section(feed, section, feed.pending_changes[section], user, request)
        feed.pending_changes = {}
        _touch(feed, user, ["pending_changes"])


def discard_pending(feed: Feed, user: Any) -> None:
    """Forget the wizard's unsaved edits of a live feed."""
    feed.pending_changes = {}
    _touch(feed, user, ["pending_changes"])


def effective_feed(feed: Feed) -> Feed:
    """Return an unsaved copy of the feed carrying its pending schedule and mapping settings.

    The review step resolves sample profiles with the settings the user is about to save, not the
    ones the feed runs on now; the copy is never saved.
    """
    copy = Feed.objects.select_related("workspace", "connection").get(pk=feed.pk)
    for name, value in section_values(feed, "schedule").items():
        setattr(copy, name, value)
    copy.pipeline_type = section_values(feed, "mapping")["pipeline_type"]
    return copy


# --- creating a draft -------------------------------------------------------------------------


def unique_feed_name(workspace_id: int, base: str) -> str:
    """Return `base`, or `base 2`, `base 3`... whichever no feed of the workspace uses yet."""
    taken = set(Feed.objects.filter(workspace_id=workspace_id).values_list("name", flat=True))
    name, n = base, 2
    while name in taken:
        name, n = f"{base} {n}", n + 1
    return name


def create_draft(workspace: Any, name: str, connection: Connection, user: Any) -> Feed:
    """Return a new draft feed on the connection, with an initial sync at the next full hour (UTC)."""
    next_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return Feed.objects.create(
        workspace=workspace,
        name=name,
        slug=unique_slug(Feed, workspace.pk, name),
        connection=connection,
        pipeline_type=PipelineType.USER_ATTRIBUTES,
        schedule_start=next_hour,
        created_by=user,
        last_modified_by=user,
        wizard_step="model",
    )


def remember_step(feed: Feed, key: str) -> None:
    """Record the furthest step a draft reached, so "Continue setup" lands there."""
    if feed.state == FeedState.DRAFT and step_index(key) > step_index(feed.wizard_step or "connect"):
        feed.wizard_step = key
        feed.save(update_fields=["wizard_step"])


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
            _touch(feed, user, ["name"])
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
    _touch(feed, user, ["pending_changes"])


def pending_conflicts(feed: Feed) -> list[str]:
    """Return why a live feed's pending Connect edits cannot be saved now: a name taken since."""
    values = feed.pending_changes.get("connect") or {}
    problems = []
    name = values.get("feed_name")
    if name and Feed.objects.filter(workspace_id=feed.workspace_id, name=name).exclude(pk=feed.pk).exists():
        problems.append(f"A feed called “{name}” exists now. Pick another name.")
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
    saved = _connection(feed.workspace_id, values.get("connection_id"))
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


def resume_url_name(feed: Feed) -> str:
    """Return the URL name of the step a draft was left at (for "Continue setup")."""
    key = feed.wizard_step if feed.wizard_step in STEP_KEYS else "connect"
    return STEPS[step_index(key)].url_name
