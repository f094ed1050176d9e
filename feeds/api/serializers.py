"""Objects to JSON (mParticle Warehouse Sync API v2 shapes) and the small readers of request values."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from feeds.api.errors import Invalid
from feeds.models import (
    Audited,
    Connection,
    DataModel,
    Environment,
    Feed,
    FeedState,
    FieldTransformation,
    Frequency,
    InputProtection,
    PipelineType,
    ScheduleType,
    SyncMode,
)
from feeds.schedule.rules import MAX_LOOKBACK_MINUTES, TIMEZONES
from feeds.sync.models import RunAttempt, RunKind, RunState, SyncRun
from feeds.warehouses.base import ConfigField
from feeds.warehouses.registry import api_name

MASK = "************"
# The API's words where they differ from the model's values, each declared once (openapi.py publishes
# them). Every other enum of the API is a model TextChoices' values, as they are.
CONNECTION_STATE = {True: "active", False: "inactive"}  # Connection.is_active
# mParticle v1's run type: a scheduled run is "scheduled", one someone asked for "manual"; a window of the
# history that activation (or an on-demand feed's first run) splits off is "backfill", which mParticle lacks.
PIPELINE_RUN_TYPE = {
    kind: "scheduled"
    if kind in (RunKind.SCHEDULED, RunKind.ONCE)
    else "backfill"
    if kind == RunKind.BACKFILL
    else "manual"
    for kind in RunKind.values
}
_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


# --- values out ---------------------------------------------------------------------------------


def timestamp(value: datetime | None) -> str | None:
    """Return an ISO-8601 UTC time with milliseconds and “Z”, as mParticle's v2 examples show."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The run pages' text for a time bound (feeds.sync.windows.display); a date or a number stays as it is.
_DISPLAYED_TIME = "%Y-%m-%d %H:%M:%S UTC"


def interval_bound(text: str) -> str | None:
    """Return a run's data-interval bound as ISO-8601 with offset when it is a time, else as stored."""
    if not text:
        return None
    try:
        return timestamp(datetime.strptime(text, _DISPLAYED_TIME).replace(tzinfo=UTC))
    except ValueError:
        return text


def _person(user: Any) -> str | None:
    if user is None:
        return None
    return str(getattr(user, "email", "") or user.get_username())


def audit_fields(obj: Audited) -> dict[str, Any]:
    return {
        "created_on": timestamp(obj.created_on),
        "created_by": _person(obj.created_by),
        "last_modified_on": timestamp(obj.last_modified_on),
        "last_modified_by": _person(obj.last_modified_by),
    }


def _health(obj: Audited) -> dict[str, Any]:
    return {
        "status": obj.status,
        "errors": [{"message": str(e.get("message", ""))} for e in obj.errors or []],
    }


def connection_json(
    connection: Connection, fields: tuple[ConfigField, ...], kept: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Return the connection with its provider settings and the `kept` mParticle ones; secrets are masked."""
    stored = {**connection.config, **(connection.secrets or {})}
    config: dict[str, Any] = {}
    for spec in fields:
        value = stored.get(spec.name)
        config[spec.name] = MASK if spec.secret and value not in (None, "") else value
    for name in kept:
        config[name] = connection.config.get(name)
    return {
        "id": connection.slug,
        "name": connection.name,
        "state": CONNECTION_STATE[connection.is_active],
        **_health(connection),
        "service_provider": api_name(connection.provider),
        "config": config,
        **audit_fields(connection),
    }


def data_model_json(model: DataModel) -> dict[str, Any]:
    return {
        "id": model.slug,
        "name": model.name,
        "type": "sql",
        "sql_query": model.sql,
        "connection_id": model.connection.slug,
        "columns": [{"name": c["name"], "type": c.get("type", "")} for c in model.columns or []],
        "timestamp_field": model.timestamp_field or None,
        "state": "active",
        **_health(model),
        **audit_fields(model),
    }


def transformation_json(transformation: FieldTransformation) -> dict[str, Any]:
    return {
        "id": transformation.slug,
        "name": transformation.name,
        "destination_type": transformation.destination_type,
        "mappings": [mapping_json(m) for m in transformation.mappings or []],
        **audit_fields(transformation),
    }


def mapping_json(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: mapping.get(k) for k in ("mapping_type", "source", "destination", "value")}


def pipeline_json(feed: Feed) -> dict[str, Any]:
    return {
        "id": feed.slug,
        "name": feed.name,
        "pipeline_type": feed.pipeline_type,
        "connection_id": feed.connection.slug if feed.connection else None,
        "data_model_id": feed.data_model.slug if feed.data_model else None,
        "field_transformation_id": feed.field_transformation.slug if feed.field_transformation else None,
        "state": feed.state,
        **_health(feed),
        "environment": feed.environment,
        "input_protection": feed.input_protection,
        "sync_mode": {
            "type": feed.sync_mode,
            "iterator": feed.iterator or None,
            "iterator_data_type": feed.iterator_type or None,
            "from": timestamp(feed.from_time),
            "until": None,  # refused when set (UNSUPPORTED): returned so a GET-edit-PUT round trip passes
            "lookback_seconds": feed.lookback_seconds,
            "timezone": feed.timezone,
        },
        "schedule": {
            "type": feed.schedule_type,
            "frequency": feed.frequency or None,
            "start": timestamp(feed.schedule_start),
            "end": timestamp(feed.schedule_end),
        },
        **dict.fromkeys(UNSUPPORTED_PIPELINE_FIELDS),
        **audit_fields(feed),
    }


# mParticle v2's run status for each run state.
RUN_STATUS: dict[str, str] = {
    RunState.QUEUED: "queued",
    RunState.RUNNING: "in_progress",
    RunState.SUCCEEDED: "complete",
    RunState.FAILED: "failed",
    RunState.CANCELLED: "cancelled",
}


def run_json(run: SyncRun, pipeline_id: str, workspace_slug: str) -> dict[str, Any]:
    """Return a run with v2-style names and the v1 names mParticle scripts read."""
    return {
        "id": run.pk,
        "pipeline_run_id": run.pk,
        "pipeline_id": pipeline_id,
        "workspace_id": workspace_slug,
        "type": run.kind,
        "pipeline_run_type": PIPELINE_RUN_TYPE[run.kind],
        "state": run.state,
        "pipeline_run_state": PIPELINE_RUN_STATE[run.state],
        "status": RUN_STATUS.get(run.state, run.state),
        "is_externally_triggered": run.kind == RunKind.MANUAL,
        # mParticle always sets it: a run outside the schedule stands for the moment it was asked for.
        "logical_date": timestamp(run.logical_date or run.queued_at),
        "queued_on": timestamp(run.queued_at),
        "start_date": timestamp(run.started_at),
        "end_date": timestamp(run.finished_at),
        "data_interval_start": interval_bound(run.window_from or run.data_from),
        "data_interval_end": interval_bound(run.window_to or run.data_to),
        "records_extracted": run.rows_read,
        "records_mapped": run.rows_mapped,
        "event_batches_generated": run.rows_mapped,
        "counts": {name: getattr(run, name) for name in RUN_COUNTS},
        # The run's own error: only a Failed or Cancelled run has one. Each attempt keeps its own.
        "errors": [{"message": run.error}] if run.error else [],
        "next_retry_on": timestamp(run.next_retry_at),
        "attempts": [attempt_json(a) for a in run.attempts.all()],
    }


# mParticle v1's pipeline_run_state for each run state (its documented values plus its examples' success/failed).
PIPELINE_RUN_STATE: dict[str, str] = {
    RunState.QUEUED: "queued",
    RunState.RUNNING: "running",
    RunState.SUCCEEDED: "success",
    RunState.FAILED: "failed",
    RunState.CANCELLED: "failed",
}


def attempt_json(attempt: RunAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "start_date": timestamp(attempt.started_at),
        "end_date": timestamp(attempt.finished_at),
        "outcome": attempt.outcome,
        "errors": [{"message": attempt.error}] if attempt.error else [],
    }


def owed_window_json(run: SyncRun) -> dict[str, Any]:
    """A historical window not written yet, and the run that last took it up."""
    return {
        "data_interval_start": interval_bound(run.window_from),
        "data_interval_end": interval_bound(run.window_to),
        "pipeline_run_id": run.pk,
        "state": run.state,
    }


RUN_COUNTS = (
    "rows_read",
    "rows_reread",
    "rows_mapped",
    "rows_rejected",
    "profiles_created",
    "profiles_updated",
    "profiles_unchanged",
    "events_written",
    "identity_conflicts",
)


# --- values in ----------------------------------------------------------------------------------


def object_id(body: dict[str, Any], path_id: str | None = None) -> str:
    """Return the client-chosen id: the body's on create, the address's on update (they must agree)."""
    value = body.get("id", path_id)
    if path_id is not None and value != path_id:
        raise Invalid("The id in the body must match the id in the address.", field="id")
    if not isinstance(value, str) or not _ID.match(value):
        raise Invalid(
            "Give an id of 1 to 100 letters, digits, “-” and “_” (no spaces), for example “crm-users”.",
            field="id",
        )
    return value


def text(
    body: dict[str, Any], key: str, *, required: bool = True, default: str = "", limit: int = 200
) -> str:
    """Return a text value of the body; raises Invalid when missing (if required), not text or too long."""
    value = body.get(key)
    if value is None:
        if required:
            raise Invalid(f"“{key}” is required.", field=key)
        return default
    if not isinstance(value, str) or (required and not value.strip()):
        raise Invalid(f"“{key}” must be a non-empty text.", field=key)
    if len(value) > limit:
        raise Invalid(f"“{key}” may be at most {limit} characters long.", field=key)
    return value.strip()


def choice(value: Any, allowed: list[str] | tuple[str, ...], field: str) -> str:
    """Return `value` when it is one of `allowed`; raises Invalid naming the choices."""
    if value not in allowed:
        raise Invalid(f"“{field}” must be one of: {', '.join(allowed)}.", field=field)
    return str(value)


def connection_active(body: dict[str, Any]) -> bool:
    """Return Connection.is_active for the body's state (“active” when left out); raises Invalid."""
    state = choice(body.get("state", CONNECTION_STATE[True]), tuple(CONNECTION_STATE.values()), "state")
    return state == CONNECTION_STATE[True]


def datetime_value(value: Any, field: str, *, empty_is_none: bool = True) -> datetime | None:
    """Return an aware UTC datetime from ISO-8601 text (a time without zone is UTC); None stays None.

    An empty text counts as None in a body; a query parameter (`empty_is_none=False`) must be left out instead.
    """
    if value is None or (value == "" and empty_is_none):
        return None
    try:
        parsed = _parse_instant(value)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise Invalid(
            f"“{field}” must be an ISO-8601 date and time, for example 2024-01-31T00:00:00Z.", field=field
        )
    return parsed


def _parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = parse_datetime(value)
    if parsed is None and (day := parse_date(value)) is not None:
        parsed = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if parsed is None:
        return None
    # Kept in UTC: PostgreSQL refuses offsets that Python accepts (such as +19:03).
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def section(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key) or {}
    if not isinstance(value, dict):
        raise Invalid(f"“{key}” must be an object.", field=key)
    return value


# mParticle pipeline settings wsync cannot honour: refused with the reason unless null, never silently dropped.
_NO_DATA_PLANS = "wsync has no data plans; leave it out or null (rows are checked by the mapping's rules)."
_NO_INPUT_FEEDS = (
    "wsync has no input feeds: a pipeline's rows go to its workspace's profile store; leave it out or null."
)
UNSUPPORTED_PIPELINE_FIELDS = {
    "data_plan_id": _NO_DATA_PLANS,
    "data_plan_version": _NO_DATA_PLANS,
    "partner_feed_id": _NO_INPUT_FEEDS,
    "partner_feed_key": _NO_INPUT_FEEDS,
}
UNSUPPORTED_UNTIL = (
    "wsync does not stop reading at an iterator value: leave “sync_mode.until” out or null, and bound the "
    "rows in the data model's SQL (for example WHERE updated_at < '2024-01-01') or end the schedule with "
    "“schedule.end”."
)


def refuse_unsupported(body: dict[str, Any], sync_mode: dict[str, Any]) -> None:
    """Raise Invalid naming the first mParticle setting the body sets that wsync cannot honour."""
    for name, reason in UNSUPPORTED_PIPELINE_FIELDS.items():
        if body.get(name) is not None:
            raise Invalid(reason, code="unsupported", field=name)
    if sync_mode.get("until") is not None:
        raise Invalid(UNSUPPORTED_UNTIL, code="unsupported", field="sync_mode.until")


def pipeline_values(body: dict[str, Any], feed: Feed | None) -> dict[str, Any]:
    """Return the pipeline's values from a request body; on update, fields left out keep their value."""
    base = pipeline_json(feed) if feed is not None else {}
    merged = {**base, **body}
    sync_mode = {**(base.get("sync_mode") or {}), **section(body, "sync_mode")}
    schedule = {**(base.get("schedule") or {}), **section(body, "schedule")}
    refuse_unsupported(body, sync_mode)
    iterator = _optional_text(sync_mode.get("iterator"), "sync_mode.iterator")
    return {
        "slug": object_id(body, feed.slug if feed else None),
        "name": text(merged, "name"),
        "connection_id": text(merged, "connection_id", limit=100),
        "data_model_id": text(merged, "data_model_id", limit=100),
        "field_transformation_id": _optional_text(
            merged.get("field_transformation_id"), "field_transformation_id"
        ),
        "state": choice(merged.get("state", FeedState.ACTIVE), FeedState.values, "state"),
        "pipeline_type": choice(
            merged.get("pipeline_type", PipelineType.USER_ATTRIBUTES), PipelineType.values, "pipeline_type"
        ),
        "environment": choice(
            merged.get("environment", Environment.PRODUCTION), Environment.values, "environment"
        ),
        "input_protection": choice(
            merged.get("input_protection", InputProtection.CREATE_AND_UPDATE),
            InputProtection.values,
            "input_protection",
        ),
        "sync_mode": choice(
            sync_mode.get("type") or (SyncMode.INCREMENTAL if iterator else SyncMode.FULL),
            SyncMode.values,
            "sync_mode.type",
        ),
        "iterator": iterator,
        "iterator_type": _optional_text(sync_mode.get("iterator_data_type"), "sync_mode.iterator_data_type"),
        "from_time": datetime_value(sync_mode.get("from"), "sync_mode.from"),
        "lookback_seconds": lookback_seconds(sync_mode.get("lookback_seconds")),
        "timezone": timezone_name(sync_mode.get("timezone") or "UTC"),
        "schedule_type": choice(
            schedule.get("type") or ScheduleType.ON_DEMAND, ScheduleType.values, "schedule.type"
        ),
        "frequency": _frequency(schedule.get("frequency")),
        "schedule_start": datetime_value(schedule.get("start"), "schedule.start"),
        "schedule_end": datetime_value(schedule.get("end"), "schedule.end"),
    }


MAX_LOOKBACK_SECONDS = MAX_LOOKBACK_MINUTES * 60


def lookback_seconds(value: Any) -> int:
    """Return the lookback window in seconds (None: 0): whole minutes within the schedule's bounds.

    Raises Invalid. Whole minutes, because the wizard shows and saves the window in minutes.
    """
    field = "sync_mode.lookback_seconds"
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value % 60:
        raise Invalid(f"“{field}” must be a whole number of minutes, in seconds (e.g. 3600).", field=field)
    if not 0 <= value <= MAX_LOOKBACK_SECONDS:
        raise Invalid(
            f"“{field}” must be from 0 to {MAX_LOOKBACK_SECONDS} seconds ({MAX_LOOKBACK_SECONDS // 86400} days).",
            field=field,
        )
    return value


def timezone_name(value: Any) -> str:
    """Return the time zone for timestamps without zone when the wizard offers it; raises Invalid."""
    if value not in TIMEZONES:
        raise Invalid(
            "“sync_mode.timezone” must be UTC or an IANA time zone name such as Europe/Berlin.",
            field="sync_mode.timezone",
        )
    return str(value)


def _optional_text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 200:
        raise Invalid(f"“{field}” must be a text of at most 200 characters, or null.", field=field)
    return value.strip()


def _frequency(value: Any) -> str:
    if value in (None, ""):
        return ""
    return choice(value, Frequency.values, "schedule.frequency")
