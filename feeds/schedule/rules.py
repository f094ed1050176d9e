"""The sync-settings rules, shared by the schedule form and the review's re-validation."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from feeds.warehouses.base import IteratorKind, iterator_kind

# The time zones a feed may read zoneless timestamps in, and the longest lookback window: the schedule
# form and the API both read them from here.
TIMEZONES = ["UTC", *sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))]
MAX_LOOKBACK_MINUTES = 60 * 24 * 30

INPUT_PROTECTION_HELP = {
    "create_and_update": "New people become new profiles; existing profiles are updated.",
    "update_only": "Only profiles that already exist are updated; rows about anyone else are skipped.",
    "read_only": "Identities and attributes never change; only events are recorded.",
}
SYNC_MODE_HELP = {
    "incremental": "Each run reads only rows whose iterator moved past the last run's value.",
    "full": "Each run reads the whole data model again. Large models make every run slow and costly.",
}
SCHEDULE_TYPE_HELP = {
    "interval": "Runs at the initial date and time, then every hour, day, week or month after it.",
    "once": "Runs one time, at the initial date and time.",
    "on_demand": "Runs only when someone presses Run Sync.",
}


def schedule_problems(
    values: dict[str, Any], columns: list[str], iterator_types: tuple[str, ...], timestamp_field: str
) -> dict[str, str]:
    """Return {field: message} for settings that cannot work together (empty when they can)."""
    problems: dict[str, str] = {}
    if values.get("sync_mode") == "incremental":
        if not values.get("iterator"):
            problems["iterator"] = "Pick the iterator column: the column that grows as rows change."
        elif values["iterator"] not in columns:
            problems["iterator"] = f"The column “{values['iterator']}” is not in the data model's query."
        if not values.get("iterator_type"):
            problems["iterator_type"] = "Pick the iterator data type."
        elif values["iterator_type"] not in iterator_types:
            problems["iterator_type"] = "Pick one of the iterator data types this warehouse supports."
    schedule_type = values.get("schedule_type")
    if schedule_type == "interval" and not values.get("frequency"):
        problems["frequency"] = "Pick how often the sync runs."
    if schedule_type in ("interval", "once") and not values.get("schedule_start"):
        problems["schedule_start"] = "Pick the date and time (UTC) of the initial sync."
    start, end = values.get("schedule_start"), values.get("schedule_end")
    if schedule_type == "interval" and start and end and end <= start:
        problems["schedule_end"] = "The end date must be after the initial sync; leave it empty to run on."
    if values.get("from_time") and not timestamp_field:
        problems["from_time"] = (
            "A Sync Start Date needs the data model's timestamp field: pick one on the data model step."
        )
    until_problem = _until_problem(values)
    if until_problem:
        problems["until_time"] = until_problem
    return problems


def _until_problem(values: dict[str, Any]) -> str:
    """Return why the iterator's end ("Stop at" in the wizard, `sync_mode.until` in the API) cannot apply, or ""."""
    until, start = values.get("until_time"), values.get("from_time")
    if until is None:
        return ""
    if values.get("sync_mode") != "incremental" or not values.get("iterator"):
        return "Stop at (until) needs an incremental sync with an iterator; leave it empty."
    if not is_clock(values.get("iterator_type")):
        return "Stop at (until) needs a date or time iterator, not a number; leave it empty."
    if start is not None and until <= start:
        return "Stop at (until) must be after the Sync Start Date (from)."
    return ""


def is_clock(iterator_type: Any) -> bool:
    """Return True for an iterator data type that is a date or time (a "Stop at" applies to it)."""
    return iterator_kind(str(iterator_type or "")) is not IteratorKind.NUMBER


def until_applies(values: dict[str, Any]) -> bool:
    """Return True when the settings can take a "Stop at": incremental, on a date or time iterator."""
    return (
        values.get("sync_mode") == "incremental"
        and bool(values.get("iterator"))
        and is_clock(values.get("iterator_type"))
    )


def without_unused(values: dict[str, Any]) -> dict[str, Any]:
    """Return the settings with the fields that do not apply cleared (full: no iterator; ...)."""
    data = dict(values)
    if data.get("sync_mode") == "full":
        data["iterator"], data["iterator_type"] = "", ""
    if data.get("schedule_type") != "interval":
        data["frequency"] = ""
    if data.get("schedule_type") == "on_demand":
        data["schedule_start"] = None
    return data


# The iterator data types a column of each of wsync's field types most likely is, best first; the first
# one the warehouse offers is suggested (PostgreSQL's "timestamptz", Snowflake's "timestamp_tz", ...).
_TYPES_FOR_FIELD = {
    "timestamp_tz": ("timestamptz", "timestamp_tz", "timestamp_ltz", "timestamp"),
    "timestamp": ("timestamp", "timestamp_ntz", "datetime"),
    "date": ("date",),
    "integer": ("integer", "bigint", "int", "number", "numeric", "int64"),
}


def suggested_iterator_type(column: dict[str, Any], iterator_types: tuple[str, ...]) -> str:
    """Return the iterator data type that matches the column's type, or "" when none clearly does."""
    declared = str(column.get("warehouse_type") or "").lower().split("(")[0].strip()
    if declared in iterator_types:
        return declared
    for candidate in _TYPES_FOR_FIELD.get(str(column.get("type") or ""), ()):
        if candidate in iterator_types:
            return candidate
    return ""


def suggested_iterator_types(
    columns: list[dict[str, Any]], iterator_types: tuple[str, ...]
) -> dict[str, str]:
    """Return {column name: suggested iterator data type} for the columns that have one."""
    found = {c["name"]: suggested_iterator_type(c, iterator_types) for c in columns}
    return {name: kind for name, kind in found.items() if kind}
