"""Saving a pipeline (a feed) from API values, and its state changes, through the engine's service.

No HTTP here: the rules are the wizard's (feeds.schedule.rules, feeds.mapping.rules) and activation,
pause, resume, run and delete (with their audit entries) are feeds.sync.service's, so a pipeline made
here is the same feed the wizard and the feed pages show.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from feeds import audit
from feeds.accounts.models import Workspace
from feeds.api.errors import Conflict, Invalid
from feeds.api.transformations import mapping_problem
from feeds.mapping.rules import auto_mappings
from feeds.models import SCHEDULE_SETTINGS, Connection, DataModel, Feed, FeedState, FieldTransformation
from feeds.schedule.rules import schedule_problems, without_unused
from feeds.sync import service
from feeds.sync.models import SyncRun
from feeds.warehouses.registry import provider_class

# Every sync setting of the wizard, under the same names as the feed's fields.
SETTINGS = ("pipeline_type", *SCHEDULE_SETTINGS)
# The API's names (the request's own paths) for the wizard's settings, so a refusal points at the field to fix.
API_FIELDS = {
    "sync_mode": "sync_mode.type",
    "schedule_type": "schedule.type",
    "schedule_end": "schedule.end",
    "iterator": "sync_mode.iterator",
    "iterator_type": "sync_mode.iterator_data_type",
    "from_time": "sync_mode.from",
    "until_time": "sync_mode.until",
    "lookback_seconds": "sync_mode.lookback_seconds",
    "timezone": "sync_mode.timezone",
    "frequency": "schedule.frequency",
    "schedule_start": "schedule.start",
}


def _ref(model: Any, workspace: Workspace, slug: str, noun: str, field: str) -> Any:
    found = model.objects.filter(workspace=workspace, slug=slug).first()
    if found is None:
        raise Invalid(f"There is no {noun} “{slug}” in this workspace.", field=field)
    return found


def normalized(values: dict[str, Any]) -> dict[str, Any]:
    """Return the settings with the fields that do not apply cleared (as the wizard's form does)."""
    return without_unused({name: values[name] for name in SETTINGS})


def check_settings(connection: Connection, model: DataModel, settings: dict[str, Any]) -> None:
    """Raise Invalid with the wizard's message when the sync settings cannot work with the model."""
    if model.connection_id != connection.pk:
        raise Invalid(
            f"The data model “{model.slug}” runs on connection “{model.connection.slug}”, "
            f"not “{connection.slug}”.",
            field="data_model_id",
        )
    if not model.is_probed:
        raise Invalid("Run the data model's query in its current form.", field="data_model_id")
    iterator_types = tuple(provider_class(connection.provider).iterator_types)
    timestamp_field = model.timestamp_field or settings["iterator"]
    problems = schedule_problems(settings, model.column_names(), iterator_types, timestamp_field)
    for name, message in problems.items():
        raise Invalid(message, field=API_FIELDS.get(name, name))


def save_pipeline(workspace: Workspace, *, feed: Feed | None, values: dict[str, Any], user: Any) -> Feed:
    """Validate and save the pipeline, then bring it to the wanted state; returns the feed.

    `values` holds slug, name, connection_id, data_model_id, field_transformation_id (or None for
    the automatic mapping), state and the SETTINGS. Raises Invalid or Conflict.
    """
    connection = _ref(Connection, workspace, values["connection_id"], "connection", "connection_id")
    model = _ref(DataModel, workspace, values["data_model_id"], "data model", "data_model_id")
    settings = normalized(values)
    check_settings(connection, model, settings)
    transformation = _transformation(workspace, values, model, settings, user)
    mapping_problem(transformation.mappings, model.column_names(), settings["pipeline_type"])
    try:
        with transaction.atomic():
            return _save(workspace, feed, values, (connection, model, transformation), settings, user)
    except IntegrityError:
        raise Conflict(f"A pipeline with id “{values['slug']}” already exists in this workspace.") from None
    except service.RunRefused as refused:
        raise Invalid(str(refused), field="state") from None


def _transformation(
    workspace: Workspace, values: dict[str, Any], model: DataModel, settings: dict[str, Any], user: Any
) -> FieldTransformation:
    wanted = values.get("field_transformation_id")
    if wanted:
        return _ref(FieldTransformation, workspace, wanted, "field transformation", "field_transformation_id")
    # No mapping given: map reserved names automatically, as mParticle does for user data.
    slug = service.automatic_mapping_id(values["slug"])
    existing = FieldTransformation.objects.filter(workspace=workspace, slug=slug).first()
    if existing is not None:
        return existing
    mappings = auto_mappings(model.column_names(), settings["pipeline_type"], settings["iterator"] or None)
    return FieldTransformation(
        workspace=workspace, slug=slug, name=f"{values['name']} mapping", mappings=mappings, created_by=user
    )


def _save(
    workspace: Workspace,
    feed: Feed | None,
    values: dict[str, Any],
    parts: tuple[Connection, DataModel, FieldTransformation],
    settings: dict[str, Any],
    user: Any,
) -> Feed:
    if feed is None:
        if Feed.objects.filter(workspace=workspace, slug=values["slug"]).exists():
            raise Conflict(f"A pipeline with id “{values['slug']}” already exists in this workspace.")
        feed = Feed(workspace=workspace, slug=values["slug"], created_by=user, wizard_step="review")
    taken = Feed.holding_name(workspace.pk, values["name"]).exclude(pk=feed.pk)
    if taken.exists():
        raise Invalid(
            f"A feed called “{values['name']}” already exists in this workspace. Pick another name.",
            field="name",
        )
    is_new = feed.pk is None
    before = audit.feed_settings(feed) if not is_new else {}
    if parts[2].pk is None:
        parts[2].save()
    feed.connection, feed.data_model, feed.field_transformation = parts
    feed.name, feed.last_modified_by = values["name"], user
    for name, value in settings.items():
        setattr(feed, name, value)
    feed.save()
    if is_new:
        audit.record(workspace, user, "create", feed.name, feed=feed)
    else:
        changes = audit.diff(before, audit.feed_settings(feed))
        if changes:
            audit.record(workspace, user, "edit", feed.name, feed=feed, changes=changes)
    change_state(
        feed, values["state"], user, settings_changed=is_new or bool(before != audit.feed_settings(feed))
    )
    return feed


def change_state(feed: Feed, wanted: str, user: Any, *, settings_changed: bool = False) -> None:
    """Bring the feed to `wanted` (draft, active or paused) through the engine; raises RunRefused or Invalid."""
    current = feed.state
    if wanted == FeedState.DRAFT and current != FeedState.DRAFT:
        raise Invalid("An activated pipeline cannot become a draft again; pause it instead.", field="state")
    if current == FeedState.DRAFT and wanted != FeedState.DRAFT:
        service.activate(feed, user)
        if wanted == FeedState.PAUSED:
            service.pause(feed, user)
        return
    if current == FeedState.ACTIVE and wanted == FeedState.PAUSED:
        service.pause(feed, user)
    elif current == FeedState.PAUSED and wanted == FeedState.ACTIVE:
        service.resume(feed, user)
    elif settings_changed:
        service.apply_settings(feed, user)


def trigger(feed: Feed, user: Any) -> SyncRun:
    """Queue an on-demand run; raises Invalid (“Pipeline <id> is already in progress.” when busy)."""
    try:
        return service.run_now(feed, user)
    except service.RunRefused as refused:
        if str(refused) == service.BUSY:
            raise Invalid(f"Pipeline {feed.slug} is already in progress.", code="in_progress") from None
        raise Invalid(str(refused), code="not_runnable") from None


def restart_run(run: SyncRun, user: Any) -> None:
    """Requeue a running run whose worker seems stuck; raises Conflict when the run is not running."""
    if not service.restart_run(run, user):
        raise Conflict(f"Run {run.pk} is not running, so there is nothing to restart.", code="not_running")


def delete_pipeline(feed: Feed, user: Any) -> None:
    """Delete the feed, its schedule and runs, and its automatic mapping; the profiles it synced stay."""
    service.delete_feed(feed, user)
