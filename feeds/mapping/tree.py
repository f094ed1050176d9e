"""The mapping tree as the wizard shows it: the flat mapping list grouped under its objects.

The stored shape stays the flat list of the interface (mapping_type, source, destination, value);
the object a node sits in is read from its destination, so the tree needs no state of its own.
A node the user has just added carries only its object's prefix (e.g. "user_identities.") until a
field is picked; rules.validate_mappings reports it at that node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from feeds.mapping import (
    EVENT_DATA_FIELDS,
    EVENT_TYPES,
    IDENTITY_SECTIONS,
    REQUIRED_EVENT_FIELDS,
    TOP_LEVEL_IDENTITIES,
    MappingType,
)

OBJECTS: dict[str, str] = {
    "user_identities": "user_identities.",
    "user_attributes": "user_attributes.",
    "events": "events[].",
}
# Shown after the object's key in the tree's header, so they do not repeat the key.
OBJECT_LABELS = {
    "user_identities": "who the row is about",
    "user_attributes": "what you know about them",
    "events": "what they did",
}
IDENTITY_PREFIXES = tuple(f"{section}." for section in IDENTITY_SECTIONS)


def _listed(words: list[str], last: str) -> str:
    return ", ".join(words[:-1]) + f" {last} " + words[-1]


# Said at an event_type node mapped from a column (the rule feeds.mapping.pages applies).
EVENT_TYPE_COLUMN_NOTE = (
    f"Each row's value in this column must be {_listed(list(EVENT_TYPES), 'or')}; rows with "
    "another value, or without the fields their type needs, are rejected with that reason. As any row "
    "may be any type, map every type's required fields: "
    + ", ".join(
        " and ".join(f.removeprefix("events[].data.") for f in fields)
        for fields in REQUIRED_EVENT_FIELDS.values()
    )
    + "."
)
# The event fields the tree offers (session_uuid, which the API accepts, is not offered).
EVENT_FIELDS = (
    "event_type",
    *(f"data.{f}" for f in EVENT_DATA_FIELDS if f != "session_uuid"),
    "data.custom_attributes.*",
)


@dataclass
class Node:
    index: int
    mapping: dict[str, Any]
    target: str  # the part of the destination the user edits inside the object
    errors: list[str] = field(default_factory=list)

    @property
    def value_type(self) -> str:
        value = self.mapping.get("value")
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int | float):
            return "number"
        return "string"


@dataclass
class ObjectGroup:
    key: str
    label: str
    nodes: list[Node]
    errors: list[str] = field(default_factory=list)  # whole-tree errors about this object


def default_objects(pipeline_type: str) -> list[str]:
    return (
        ["user_identities", "events"] if pipeline_type == "events" else ["user_identities", "user_attributes"]
    )


def object_of(mapping: dict[str, Any], pipeline_type: str) -> str:
    """Return the object a mapping sits in; ignored columns sit in the pipeline's main object."""
    destination = mapping.get("destination") or ""
    if destination.startswith(IDENTITY_PREFIXES) or destination in TOP_LEVEL_IDENTITIES:
        return "user_identities"
    for key, prefix in OBJECTS.items():
        if destination.startswith(prefix):
            return key
    return "events" if pipeline_type == "events" else "user_attributes"


def field_of(mapping: dict[str, Any], obj: str) -> str:
    """Return the editable part of the destination: the whole path for identities, else the suffix."""
    destination = mapping.get("destination") or ""
    if obj == "user_identities":
        return "" if destination == OBJECTS[obj] else destination
    prefix = OBJECTS[obj]
    return destination[len(prefix) :] if destination.startswith(prefix) else ""


def destination_for(obj: str, field_value: str) -> str:
    if obj == "user_identities":
        return field_value or OBJECTS[obj]
    return OBJECTS[obj] + field_value.strip()


def grouped(mappings: list[dict[str, Any]], pipeline_type: str, errors: list[Any]) -> list[ObjectGroup]:
    """Return the tree: objects in a fixed order, each with its nodes, and every error where it belongs.

    A node's own errors, and whole-tree errors about a node (the event type's required fields), sit
    at the node; other whole-tree errors (no identity, a column not mapped) at their object.
    """
    by_index: dict[int, list[str]] = {}
    by_object: dict[str, list[str]] = {}
    for error in errors:
        at = error.index if error.index is not None else error.node
        if at is not None:
            by_index.setdefault(at, []).append(error.message)
        elif error.section:
            by_object.setdefault(error.section, []).append(error.message)
    groups: dict[str, list[Node]] = {key: [] for key in default_objects(pipeline_type)}
    for index, mapping in enumerate(mappings):
        obj = object_of(mapping, pipeline_type)
        groups.setdefault(obj, []).append(
            Node(index, mapping, field_of(mapping, obj), by_index.get(index, []))
        )
    for key in by_object:
        groups.setdefault(key, [])
    order = list(OBJECTS)
    return [
        ObjectGroup(k, OBJECT_LABELS[k], groups[k], by_object.get(k, []))
        for k in sorted(groups, key=order.index)
    ]


def new_node(obj: str, kind: str, pipeline_type: str) -> dict[str, Any]:
    """Return a fresh child for an object: a column, a static value or an ignored column."""
    if obj not in OBJECTS:
        raise ValueError(f"Unknown object {obj!r}")
    if kind == MappingType.IGNORE:
        return {"mapping_type": MappingType.IGNORE, "source": "", "destination": None, "value": None}
    if kind == MappingType.STATIC:
        return {"mapping_type": MappingType.STATIC, "source": None, "destination": OBJECTS[obj], "value": ""}
    return {"mapping_type": MappingType.COLUMN, "source": "", "destination": OBJECTS[obj], "value": None}


def add_node(mappings: list[dict[str, Any]], node: dict[str, Any]) -> list[dict[str, Any]]:
    return [*mappings, node]


def replace_node(mappings: list[dict[str, Any]], index: int, node: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the list with one node replaced; raises IndexError for a node that is not there."""
    if not 0 <= index < len(mappings):
        raise IndexError(index)
    return [node if i == index else m for i, m in enumerate(mappings)]


def remove_node(mappings: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
    if not 0 <= index < len(mappings):
        raise IndexError(index)
    return [m for i, m in enumerate(mappings) if i != index]


def static_value(raw: str, value_type: str) -> Any:
    """Return the typed static value; raises ValueError with a message that says what to type."""
    text = raw.strip()
    if value_type == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"“{raw}” is not a number. Type digits, for example 42 or 9.99.") from None
        return int(number) if number.is_integer() and "." not in text else number
    if value_type == "boolean":
        if text.lower() not in {"true", "false"}:
            raise ValueError("Pick true or false.")
        return text.lower() == "true"
    return raw


def unmapped_columns(mappings: list[dict[str, Any]], columns: list[str]) -> list[str]:
    """Return the columns `$unmapped` stands for: those no other mapping names as its source."""
    named = {
        m.get("source") for m in mappings if m.get("mapping_type") in (MappingType.COLUMN, MappingType.IGNORE)
    }
    return [c for c in columns if c not in named]
