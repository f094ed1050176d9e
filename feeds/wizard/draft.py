"""The draft each wizard step edits, and a live feed's edits waiting for the review's Save.

A draft feed is edited in place (its connection, data model and mapping objects). An activated feed
keeps running on its saved settings while the wizard edits it: changes wait in `Feed.pending_changes`
(one JSON section per step) until the review step is saved again. Views read a step's values with
`section_values` and write them with `save_section`, and never need to know which case they are in.
Each section is one small class in SECTIONS: what the feed holds now (`saved`) and how values are
written onto the feed's objects (`apply`).
A live feed's Connect edits wait there too (feeds.wizard.staging).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from django.db import transaction
from django.http import HttpRequest

from feeds import crypto
from feeds.connections import save_connection, unique_slug
from feeds.models import (
    SCHEDULE_SETTINGS,
    Connection,
    DataModel,
    Feed,
    FeedState,
    FieldTransformation,
    PipelineType,
)

MODEL_FIELDS = ("sql", "columns", "columns_sql", "timestamp_field")
DATETIME_FIELDS = {"from_time", "until_time", "schedule_start", "schedule_end"}


def is_live(feed: Feed) -> bool:
    """Return True when the feed was activated once: wizard edits then wait for the review's Save."""
    return feed.state != FeedState.DRAFT


def has_pending(feed: Feed) -> bool:
    return bool(feed.pending_changes)


# --- the sections -----------------------------------------------------------------------------


class Section(Protocol):
    """One step's values: `saved` reads them off the feed, `apply` writes them onto its objects."""

    def saved(self, feed: Feed) -> dict[str, Any]: ...

    def apply(
        self, feed: Feed, values: dict[str, Any], user: Any, request: HttpRequest | None = None
    ) -> None: ...


class ConnectSection:
    """The feed's name and connection, and a live feed's pending edit of that connection's settings."""

    def saved(self, feed: Feed) -> dict[str, Any]:
        return {"connection_id": feed.connection_id, "feed_name": feed.name}

    def apply(
        self, feed: Feed, values: dict[str, Any], user: Any, request: HttpRequest | None = None
    ) -> None:
        connection_id = values.get("connection_id")
        edit = values.get("connection")
        if edit:
            connection_id = save_connection(
                feed.workspace,
                connection=workspace_connection(feed.workspace_id, connection_id),
                provider=edit["provider"],
                name=edit["name"],
                config=edit["config"],
                secrets=crypto.decrypt(edit["secrets"]),
                user=user,
                request=request,
            ).pk
        if values.get("feed_name") and values["feed_name"] != feed.name:
            feed.name = values["feed_name"]
            touch(feed, user, ["name"])
        if connection_id != feed.connection_id:
            feed.connection_id = connection_id
            touch(feed, user, ["connection"])
        model = feed.data_model
        if model is not None and feed.connection_id is not None and model.connection_id != feed.connection_id:
            model.connection_id = feed.connection_id
            model.save(update_fields=["connection"])


class ModelSection:
    """The data model: its SQL, the columns found by running it, and the timestamp field."""

    def saved(self, feed: Feed) -> dict[str, Any]:
        model = feed.data_model
        if model is None:
            return {"sql": "", "columns": [], "columns_sql": "", "timestamp_field": ""}
        return {name: getattr(model, name) for name in MODEL_FIELDS}

    def apply(
        self, feed: Feed, values: dict[str, Any], user: Any, request: HttpRequest | None = None
    ) -> None:
        model = feed.data_model or _new_data_model(feed, user)
        for name, value in values.items():
            setattr(model, name, value)
        model.connection = feed.connection  # type: ignore[assignment]
        _save_and_attach(feed, "data_model", model, user)


class MappingSection:
    """The map step's values: the pipeline type and the mappings (the feed's field transformation)."""

    def saved(self, feed: Feed) -> dict[str, Any]:
        mappings = feed.field_transformation.mappings if feed.field_transformation else []
        return {"pipeline_type": feed.pipeline_type, "mappings": list(mappings)}

    def apply(
        self, feed: Feed, values: dict[str, Any], user: Any, request: HttpRequest | None = None
    ) -> None:
        if "pipeline_type" in values:
            feed.pipeline_type = values["pipeline_type"]
            touch(feed, user, ["pipeline_type"])
        if "mappings" in values:
            transformation = feed.field_transformation or _new_transformation(feed, user)
            transformation.mappings = values["mappings"]
            _save_and_attach(feed, "field_transformation", transformation, user)


class ScheduleSection:
    """The sync settings, stored on the feed itself (feeds.models.SCHEDULE_SETTINGS)."""

    def saved(self, feed: Feed) -> dict[str, Any]:
        return {name: getattr(feed, name) for name in SCHEDULE_SETTINGS}

    def apply(
        self, feed: Feed, values: dict[str, Any], user: Any, request: HttpRequest | None = None
    ) -> None:
        for name, value in values.items():
            setattr(feed, name, value)
        touch(feed, user, list(values))


# In the order the review's Save applies them: the connection first, so the model follows it. The keys
# are the steps' keys (feeds/wizard/steps.py) and the keys of Feed.pending_changes.
SECTIONS: dict[str, Section] = {
    "connect": ConnectSection(),
    "model": ModelSection(),
    "map": MappingSection(),
    "schedule": ScheduleSection(),
}


def _section(name: str) -> Section:
    try:
        return SECTIONS[name]
    except KeyError:
        raise ValueError(f"Unknown wizard section {name!r}") from None


# --- reading a step's values ------------------------------------------------------------------


def section_values(feed: Feed, section: str) -> dict[str, Any]:
    """Return the step's values as the wizard shows them: saved values, overlaid with pending edits."""
    saved = _section(section).saved(feed)
    pending = _decode(feed.pending_changes.get(section, {}))
    return {**saved, **pending}


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
        touch(feed, user, ["pending_changes"])
        return
    with transaction.atomic():
        _section(section).apply(feed, _decode(values), user)
        touch(feed, user, [])  # any step's edit counts: an untouched draft is removed (wizard.abandoned)


def workspace_connection(workspace_id: int, pk: int | None) -> Connection | None:
    """Return the workspace's connection with that id, or None (a stale id from pending changes)."""
    if pk is None:
        return None
    return Connection.objects.filter(workspace_id=workspace_id, pk=pk).first()


def touch(feed: Feed, user: Any, fields: list[str]) -> None:
    """Save the named fields of the feed, with who changed it and when."""
    feed.last_modified_by = user
    feed.save(update_fields=[*fields, "last_modified_by", "last_modified_on"])


def _save_and_attach(feed: Feed, field: str, obj: DataModel | FieldTransformation, user: Any) -> None:
    """Save the feed's data model or mapping object, and point the feed at it when it is new."""
    obj.last_modified_by = user
    obj.save()
    if getattr(feed, f"{field}_id") != obj.pk:
        setattr(feed, field, obj)
        touch(feed, user, [field])


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
        for name, section in SECTIONS.items():
            if name in feed.pending_changes:
                section.apply(feed, _decode(feed.pending_changes[name]), user, request)
        feed.pending_changes = {}
        touch(feed, user, ["pending_changes"])


def discard_pending(feed: Feed, user: Any) -> None:
    """Forget the wizard's unsaved edits of a live feed."""
    feed.pending_changes = {}
    touch(feed, user, ["pending_changes"])


def effective_feed(feed: Feed) -> Feed:
    """Return an unsaved copy of the feed carrying its pending schedule and mapping settings.

    The review step resolves sample profiles with the settings the user is about to save, not the
    ones the feed runs on now; the copy is never saved.
    """
    copy = Feed.objects.select_related("workspace", "connection").get(pk=feed.pk)
    for name, value in section_values(feed, "schedule").items():
        setattr(copy, name, value)
    copy.pipeline_type = section_values(feed, "map")["pipeline_type"]
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
