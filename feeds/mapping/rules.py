"""Mapping rules: propose a mapping (reserved names, column / static / ignore, $unmapped → *) and check one.

`auto_mappings` proposes one, `validate_mappings` explains what is wrong with one; feeds.mapping.pages turns a
page of rows into one batch per row with it. The vocabulary (identity types, event types, ...) is
feeds.mapping's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from feeds.mapping import (
    CUSTOM_EVENT_TYPES,
    EVENT_DATA_FIELDS,
    EVENT_DATA_MAPS,
    EVENT_TYPES,
    PRODUCT_ACTIONS,
    REQUIRED_EVENT_FIELDS,
    RESERVED_ATTRIBUTES,
    RESERVED_IDENTITIES,
    UNMAPPED,
    MappingType,
)

_IDENTITY_DESTINATIONS = frozenset(RESERVED_IDENTITIES.values())
_EVENT_DESTINATIONS = frozenset({"events[].event_type", *(f"events[].data.{f}" for f in EVENT_DATA_FIELDS)})
_NAME = re.compile(r"^\$?[A-Za-z0-9_][A-Za-z0-9_ .:\-]*$")


@dataclass(frozen=True)
class MappingError:
    index: int | None  # the offending mapping; None for whole-tree errors
    field: str
    message: str
    # Where a whole-tree error is shown: the object it concerns, and the node when one is concerned
    # (the event_type node for its required fields). The API names whole-tree errors "mappings".
    section: str | None = None
    node: int | None = None


def _column(source: str, destination: str) -> dict[str, Any]:
    return {"mapping_type": MappingType.COLUMN, "source": source, "destination": destination, "value": None}


def _static(destination: str, value: Any) -> dict[str, Any]:
    return {"mapping_type": MappingType.STATIC, "source": None, "destination": destination, "value": value}


def _ignore(source: str) -> dict[str, Any]:
    return {"mapping_type": MappingType.IGNORE, "source": source, "destination": None, "value": None}


def auto_mappings(
    columns: list[str], pipeline_type: str, iterator: str | None = None, *, timestamp: str | None = None
) -> list[dict]:
    """Return the mapping mParticle would apply: reserved names mapped, everything else under $unmapped.

    For events, the timestamp field (else the iterator) fills timestamp_unixtime_ms; for user data
    the iterator column is ignored.
    """
    events = pipeline_type == "events"
    result: list[dict[str, Any]] = []
    taken: set[str] = set()
    for name in columns:
        destination = _reserved_destination(name, events, timestamp or iterator)
        if destination and destination not in taken:
            taken.add(destination)
            result.append(_column(name, destination))
        elif name == iterator and not events:
            result.append(_ignore(name))
    if events:
        result.append(_static("events[].event_type", "custom_event"))
        if "events[].data.event_name" not in taken:
            result.append({**_column("", "events[].data.event_name"), "source": None})
        result.append(_static("events[].data.custom_event_type", "other"))
        result.append(_column(UNMAPPED, "events[].data.custom_attributes.*"))
    else:
        result.append(_column(UNMAPPED, "user_attributes.*"))
    return result


def _reserved_destination(name: str, events: bool, timestamp: str | None) -> str | None:
    lower = name.lower()
    if lower in RESERVED_IDENTITIES:
        return RESERVED_IDENTITIES[lower]
    if lower in RESERVED_ATTRIBUTES:
        return f"user_attributes.{lower}"
    if events and name == timestamp:
        return "events[].data.timestamp_unixtime_ms"
    if events and lower in ("event_name", "screen_name", "source_message_id"):
        return f"events[].data.{lower}"
    return None


# --- validation -------------------------------------------------------------------------------------


def valid_destination(destination: str) -> bool:
    """Return True when `destination` is a path wsync knows how to fill."""
    if destination in _IDENTITY_DESTINATIONS or destination in _EVENT_DESTINATIONS:
        return True
    for prefix in ("user_attributes.", *(f"events[].data.{m}." for m in EVENT_DATA_MAPS)):
        if destination.startswith(prefix):
            rest = destination[len(prefix) :]
            return rest == "*" or bool(_NAME.match(rest))
    return False


def validate_mappings(mappings: list[dict], columns: list[str], pipeline_type: str) -> list[MappingError]:
    """Return every problem of a mapping, in words; an empty list means it can be saved and run."""
    errors: list[MappingError] = []
    seen: dict[str, int] = {}
    for index, mapping in enumerate(mappings):
        errors.extend(_check_one(index, mapping, columns))
        destination = mapping.get("destination")
        if destination and mapping.get("mapping_type") != MappingType.IGNORE:
            if destination in seen:
                errors.append(
                    MappingError(index, "destination", f"“{destination}” is mapped twice. Keep one of them.")
                )
            seen.setdefault(destination, index)
    errors.extend(_check_coverage(mappings, columns, pipeline_type))
    errors.extend(_check_tree(mappings, pipeline_type))
    return errors


def _check_one(index: int, mapping: dict, columns: list[str]) -> list[MappingError]:
    kind, source = mapping.get("mapping_type"), mapping.get("source")
    destination = mapping.get("destination")
    if kind not in MappingType.values:
        return [MappingError(index, "mapping_type", "Choose Column, Static or Ignore.")]
    if kind == MappingType.STATIC:
        return _check_static(index, mapping)
    if not source:
        return [MappingError(index, "source", f"Pick a column for “{destination}”.")]
    if source == UNMAPPED:
        if kind == MappingType.COLUMN and destination in (
            "user_attributes.*",
            "events[].data.custom_attributes.*",
        ):
            return []
        return [
            MappingError(
                index, "destination", "“$unmapped” can only go to user attributes or custom attributes (“*”)."
            )
        ]
    if source not in columns:
        return [
            MappingError(
                index,
                "source",
                f"The column “{source}” is not in the data model's query. Run the query again or pick another column.",
            )
        ]
    if kind == MappingType.IGNORE:
        return []
    if not destination or not valid_destination(destination) or destination.endswith(".*"):
        return [MappingError(index, "destination", f"“{destination or ''}” is not a field wsync can fill.")]
    return []


def _check_static(index: int, mapping: dict) -> list[MappingError]:
    destination, value = mapping.get("destination") or "", mapping.get("value")
    if mapping.get("source"):
        return [MappingError(index, "source", "A static value has no source column.")]
    if not valid_destination(destination) or destination.endswith(".*"):
        return [MappingError(index, "destination", f"“{destination}” is not a field wsync can fill.")]
    if destination in _IDENTITY_DESTINATIONS:
        return [
            MappingError(index, "mapping_type", "An identity must come from a column, not a static value.")
        ]
    if value is None or isinstance(value, (dict, list)):
        return [MappingError(index, "value", "A static value is a text, a number or true/false.")]
    allowed = {
        "events[].event_type": EVENT_TYPES,
        "events[].data.custom_event_type": CUSTOM_EVENT_TYPES,
        "events[].data.product_action.action": PRODUCT_ACTIONS,
    }.get(destination)
    if allowed and value not in allowed:
        return [MappingError(index, "value", f"Choose one of: {', '.join(allowed)}.")]
    if destination == "events[].data.timestamp_unixtime_ms" and (
        isinstance(value, bool) or not isinstance(value, int)
    ):
        return [MappingError(index, "value", "The timestamp is a number of milliseconds since 1970.")]
    return []


def _check_coverage(mappings: list[dict], columns: list[str], pipeline_type: str) -> list[MappingError]:
    if any(m.get("source") == UNMAPPED for m in mappings):
        return []
    covered = {m.get("source") for m in mappings}
    # Shown in the pipeline's main object, where "$unmapped" would take the column.
    section = "events" if pipeline_type == "events" else "user_attributes"
    return [
        MappingError(
            None,
            "mappings",
            f"The column “{c}” is not mapped. Map it, ignore it, or map “$unmapped”.",
            section=section,
        )
        for c in columns
        if c not in covered
    ]


def _check_tree(mappings: list[dict], pipeline_type: str) -> list[MappingError]:
    active = {
        m.get("destination"): i
        for i, m in reversed(list(enumerate(mappings)))
        if m.get("mapping_type") in (MappingType.COLUMN, MappingType.STATIC)
    }
    errors = []
    if not any(
        m.get("mapping_type") == MappingType.COLUMN and m.get("destination") in _IDENTITY_DESTINATIONS
        for m in mappings
    ):
        message = "Map at least one identity (for example customer_id or email) from a column."
        errors.append(MappingError(None, "identities", message, section="user_identities"))
    if pipeline_type != "events":
        return errors
    at = active.get("events[].event_type")
    if at is None:
        message = "Map the event type (events[].event_type)."
        return [*errors, MappingError(None, "events", message, section="events")]
    for required, message in _required_event_fields(mappings[at]):
        if required not in active:
            errors.append(MappingError(None, "events", message, section="events", node=at))
    return errors


def _required_event_fields(event_type: dict) -> list[tuple[str, str]]:
    """Return (field, message) for each field the event type needs.

    A static type needs its own fields. A type read from a column may differ per row, so every type's
    fields are needed (a row whose type is not one of EVENT_TYPES is rejected when mapped).
    """
    if event_type.get("mapping_type") == MappingType.STATIC:
        value = str(event_type.get("value"))
        return [(f, f"A {value} needs “{f}”.") for f in REQUIRED_EVENT_FIELDS.get(value, ())]
    source = event_type.get("source")
    return [
        (
            f,
            f"The event type comes from the column “{source}”, so its rows may be any event type: "
            f"map “{f}” (a {kind} needs it).",
        )
        for kind, fields in REQUIRED_EVENT_FIELDS.items()
        for f in fields
    ]
