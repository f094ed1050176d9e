"""Mapping: model columns → mParticle JSON batches (reserved names, column / static / ignore, $unmapped → *).

A mapping is a list of {"mapping_type", "source", "destination", "value"} dicts (the API's shape, stored in
FieldTransformation.mappings). `auto_mappings` proposes one, `validate_mappings` explains what is wrong with one,
`compile_mappings` + `map_page` turn a page of rows into one batch per row, set-wise and fast.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from feeds.warehouses.base import Page

USER_IDENTITY_TYPES: tuple[str, ...] = (
    "customer_id",
    "email",
    "other",
    *(f"other_id_{n}" for n in range(2, 11)),
    "mobile_number",
    "phone_number_2",
    "phone_number_3",
    "facebook",
    "twitter",
    "google",
    "microsoft",
    "yahoo",
    "facebook_custom_audience_id",
)
DEVICE_IDS: tuple[str, ...] = (
    "android_uuid",
    "ios_advertising_id",
    "ios_idfv",
    "android_advertising_id",
    "push_token",
    "amp_id",
    "roku_advertising_id",
    "roku_publisher_id",
    "microsoft_advertising_id",
    "microsoft_publisher_id",
    "fire_advertising_id",
)
# Identity types in the order rows are matched to profiles (customer_id, the login id, first).
IDENTITY_TYPES: tuple[str, ...] = (*USER_IDENTITY_TYPES, *DEVICE_IDS, "mp_deviceid")

_LABELS = {
    "customer_id": "Customer ID",
    "email": "Email Address",
    "other": "Other",
    "mobile_number": "Mobile Number",
    "phone_number_2": "Phone Number 2",
    "phone_number_3": "Phone Number 3",
    "facebook": "Facebook ID",
    "twitter": "Twitter Handle",
    "google": "Google ID",
    "microsoft": "Microsoft ID",
    "yahoo": "Yahoo ID",
    "facebook_custom_audience_id": "Facebook Custom Audience ID",
    "mp_deviceid": "mParticle Device ID",
}
IDENTITY_CHOICES: list[tuple[str, str]] = [
    (t, _LABELS.get(t) or t.replace("_", " ").title().replace("Id", "ID")) for t in IDENTITY_TYPES
]

RESERVED_IDENTITIES: dict[str, str] = {
    "customerid": "user_identities.customer_id",
    **{t: f"user_identities.{t}" for t in USER_IDENTITY_TYPES},
    **{d: f"device_info.{d}" for d in DEVICE_IDS},
    "mp_deviceid": "mp_deviceid",
    "mpid": "mpid",
}
RESERVED_ATTRIBUTES: tuple[str, ...] = (
    "$firstname",
    "$lastname",
    "$age",
    "$gender",
    "$country",
    "$zip",
    "$city",
    "$state",
    "$address",
    "$mobile",
)

UNMAPPED = "$unmapped"
EVENT_TYPES = ("custom_event", "screen_view", "commerce_event")
CUSTOM_EVENT_TYPES = (
    "navigation",
    "location",
    "search",
    "transaction",
    "user_content",
    "user_preference",
    "social",
    "other",
    "media",
    "attribution",
)
PRODUCT_ACTIONS = (
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "checkout_option",
    "click",
    "view_detail",
    "purchase",
    "refund",
    "add_to_wishlist",
    "remove_from_wish_list",
)
# What each event type needs besides event_type (mParticle's JSON schema).
REQUIRED_EVENT_FIELDS = {
    "custom_event": ("events[].data.event_name", "events[].data.custom_event_type"),
    "screen_view": ("events[].data.screen_name",),
    "commerce_event": ("events[].data.product_action.action",),
}
EVENT_DATA_FIELDS = (
    "event_name",
    "custom_event_type",
    "screen_name",
    "product_action.action",
    "timestamp_unixtime_ms",
    "source_message_id",
    "session_uuid",
)
_IDENTITY_DESTINATIONS = frozenset(RESERVED_IDENTITIES.values())
_EVENT_DESTINATIONS = frozenset({"events[].event_type", *(f"events[].data.{f}" for f in EVENT_DATA_FIELDS)})
_NAME = re.compile(r"^\$?[A-Za-z0-9_][A-Za-z0-9_ .:\-]*$")
_EVENT_NAMESPACE = uuid.UUID("7a0f6c3e-8d7f-4b0e-9a53-5b1c1d2f3e4a")


@dataclass(frozen=True)
class MappingError:
    index: int | None  # the offending mapping; None for whole-tree errors
    field: str
    message: str
    # Where a whole-tree error is shown: the object it concerns, and the node when one is concerned
    # (the event_type node for its required fields). The API names whole-tree errors "mappings".
    section: str | None = None
    node: int | None = None


@dataclass(frozen=True)
class Rejection:
    row_key: str
    reason: str
    values: dict[str, Any]


@dataclass
class MappedPage:
    batches: list[dict[str, Any]]
    row_keys: list[str]
    iterator_values: list[Any]
    rejects: list[Rejection] = field(default_factory=list)


def _column(source: str, destination: str) -> dict[str, Any]:
    return {"mapping_type": "column", "source": source, "destination": destination, "value": None}


def _static(destination: str, value: Any) -> dict[str, Any]:
    return {"mapping_type": "static", "source": None, "destination": destination, "value": value}


def _ignore(source: str) -> dict[str, Any]:
    return {"mapping_type": "ignore", "source": source, "destination": None, "value": None}


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
    for prefix in ("user_attributes.", "events[].data.custom_attributes."):
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
        if destination and mapping.get("mapping_type") != "ignore":
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
    if kind not in ("column", "static", "ignore"):
        return [MappingError(index, "mapping_type", "Choose Column, Static or Ignore.")]
    if kind == "static":
        return _check_static(index, mapping)
    if not source:
        return [MappingError(index, "source", f"Pick a column for “{destination}”.")]
    if source == UNMAPPED:
        if kind == "column" and destination in ("user_attributes.*", "events[].data.custom_attributes.*"):
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
    if kind == "ignore":
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
        if m.get("mapping_type") in ("column", "static")
    }
    errors = []
    if not any(
        m.get("mapping_type") == "column" and m.get("destination") in _IDENTITY_DESTINATIONS for m in mappings
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
    if event_type.get("mapping_type") == "static":
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


# --- compiling and mapping --------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledMapping:
    """Column indexes and parsed destination paths, precomputed once per run."""

    columns: tuple[str, ...]
    targets: tuple[tuple[int, tuple[str, ...]], ...]  # (column index, path)
    statics: tuple[tuple[tuple[str, ...], Any], ...]
    # (column index, name) for a "*" destination other than the user attributes (those join attribute_names)
    unmapped: tuple[tuple[int, str], ...]
    unmapped_into: tuple[str, ...] | None
    message_id_index: int | None
    has_events: bool
    # The targets split by what map_page does with them, so the common ones cost no per-value dispatch:
    # identities (section, type), user attributes (names, one getter), and the rest (events, MPID…).
    identities: tuple[tuple[int, str, str], ...] = ()
    attribute_names: tuple[str, ...] = ()
    attribute_indexes: tuple[int, ...] = ()
    others: tuple[tuple[int, tuple[str, ...]], ...] = ()


def _path(destination: str) -> tuple[str, ...]:
    if destination.startswith("events[]."):
        rest = destination[len("events[].") :]
        if rest.startswith("data.custom_attributes."):
            return ("events", "data", "custom_attributes", rest[len("data.custom_attributes.") :])
        return ("events", *rest.split("."))
    head, _, rest = destination.partition(".")
    return (head, rest) if rest else (head,)


def compile_mappings(mappings: list[dict], columns: list[str]) -> CompiledMapping:
    """Return the mapping with column positions resolved; assumes validate_mappings found nothing."""
    index = {name: i for i, name in enumerate(columns)}
    targets, statics, named, into = [], [], set(), None
    for m in mappings:
        source, destination = m.get("source"), m.get("destination") or ""
        named.add(source)
        if m.get("mapping_type") == "static":
            statics.append((_path(destination), m.get("value")))
        elif m.get("mapping_type") == "column" and source == UNMAPPED:
            into = _path(destination)[:-1]
        elif m.get("mapping_type") == "column" and source in index:
            targets.append((index[source], _path(destination)))
    unmapped = tuple((i, c) for i, c in enumerate(columns) if c not in named) if into else ()
    message_id = next((i for i, p in targets if p == ("events", "data", "source_message_id")), None)
    has_events = any(p[0] == "events" for _, p in targets) or any(p[0] == "events" for p, _ in statics)
    identities = tuple((i, p[0], p[1]) for i, p in targets if p[0] in _IDENTITY_SECTIONS and len(p) == 2)
    attributes = [(i, p[1]) for i, p in targets if p[0] == "user_attributes" and len(p) == 2]
    if into == ("user_attributes",):  # "*" into the user attributes: the same bulk update, after the targets
        attributes += unmapped
        unmapped, into = (), None
    others = tuple(
        (i, p) for i, p in targets if not (p[0] in (*_IDENTITY_SECTIONS, "user_attributes") and len(p) == 2)
    )
    return CompiledMapping(
        tuple(columns),
        tuple(targets),
        tuple(statics),
        unmapped,
        into,
        message_id,
        has_events,
        identities,
        tuple(n for _, n in attributes),
        tuple(i for i, _ in attributes),
        others,
    )


_IDENTITY_SECTIONS = ("user_identities", "device_info")


def json_value(value: Any, tz: ZoneInfo) -> Any:
    """Return a JSON-ready value: ISO-8601 datetimes with zone, Decimals as numbers when exact, lists kept."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [json_value(v, tz) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v, tz) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    return str(value)


def _decimal(value: Decimal) -> int | float | str:
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value() and abs(value) < 2**63:
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def _epoch_ms(value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=tz)).timestamp() * 1000)
    if isinstance(value, date):
        return int(datetime.combine(value, time(), tzinfo=tz).timestamp() * 1000)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return int(value)
    return value


def map_page(
    page: Page,
    compiled: CompiledMapping,
    *,
    feed_id: int,
    environment: str,
    iterator: str | None,
    timezone: str,
) -> MappedPage:
    """Return one mParticle batch per row (plus its key and iterator value); rows without identity are rejected."""
    tz = ZoneInfo(timezone or "UTC")
    iterator_index = compiled.columns.index(iterator) if iterator in compiled.columns else None
    result = MappedPage([], [], [])
    for number, row in enumerate(page.rows, start=1):
        batch = _map_row(row, compiled, tz, feed_id, environment)
        iterator_value = row[iterator_index] if iterator_index is not None else None
        key = row_key(batch, number, iterator, iterator_value, tz)
        reason = NO_IDENTITY if not has_identity(batch) else event_problem(batch)
        if reason is not None:
            values = dict(zip(compiled.columns, (json_value(v, tz) for v in row), strict=True))
            result.rejects.append(Rejection(key, reason, values))
            continue
        result.batches.append(batch)
        result.row_keys.append(key)
        result.iterator_values.append(iterator_value)
    return result


def has_identity(batch: dict) -> bool:
    """Return True when a batch carries an MPID or at least one identity value."""
    return bool(
        batch.get("user_identities") or batch.get("device_info") or "mpid" in batch or "mp_deviceid" in batch
    )


NO_IDENTITY = "The row has no identity: every mapped identity column (customer_id, email, …) is empty."


def event_problem(batch: dict) -> str | None:
    """Return why the batch's event cannot be written (unknown event type, required field empty), else None.

    An event type read from a column is only known row by row, so this is where it is checked.
    """
    for event in batch.get("events") or []:
        kind = event.get("event_type")
        if kind not in EVENT_TYPES:
            return f"The event type “{kind}” is not one of {', '.join(EVENT_TYPES)}."
        for required in REQUIRED_EVENT_FIELDS[kind]:
            value: Any = event.get("data") or {}
            for part in required.removeprefix("events[].data.").split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value in (None, ""):
                return f"A {kind} needs “{required}”, and this row's value is empty."
    return None


def row_key(batch: dict, number: int, iterator: str | None, iterator_value: Any, tz: ZoneInfo) -> str:
    """Return a short human key for a row: its first identity, else its position and iterator value."""
    if "mpid" in batch:
        return f"mpid={batch['mpid']}"
    for section in ("user_identities", "device_info"):
        for key, value in (batch.get(section) or {}).items():
            return f"{key}={value}"
    if iterator and iterator_value is not None:
        return f"row {number} ({iterator}={json_value(iterator_value, tz)})"
    return f"row {number}"


def _map_row(
    row: tuple, compiled: CompiledMapping, tz: ZoneInfo, feed_id: int, environment: str
) -> dict[str, Any]:
    values = [v if type(v) in _PLAIN else json_value(v, tz) for v in row]
    batch: dict[str, Any] = {
        "environment": environment,
        "user_identities": {},
        "user_attributes": {},
        "events": [],
    }
    event: dict[str, Any] = {"data": {}}
    for path, value in compiled.statics:
        _put(batch, event, path, value)
    for i, section, name in compiled.identities:
        value = values[i]
        if value is not None and (text := str(value)).strip() != "":
            batch.setdefault(section, {})[name] = text
    if compiled.attribute_names:
        batch["user_attributes"].update(
            zip(compiled.attribute_names, [values[i] for i in compiled.attribute_indexes], strict=True)
        )
    for i, path in compiled.others:
        value = _epoch_ms(row[i], tz) if path[-1] == "timestamp_unixtime_ms" else values[i]
        _put(batch, event, path, value)
    if compiled.unmapped_into:
        for i, name in compiled.unmapped:
            _put(batch, event, (*compiled.unmapped_into, name), values[i])
    digest = content_id(feed_id, values)
    if compiled.has_events:
        if event["data"].get("source_message_id") in (None, ""):
            event["data"]["source_message_id"] = digest
        else:
            event["data"]["source_message_id"] = str(event["data"]["source_message_id"])
        batch["events"].append({"event_type": event.get("event_type"), "data": event["data"]})
    batch["source_request_id"] = digest
    return batch


_PLAIN = frozenset({str, int, bool, type(None)})  # values json_value returns unchanged
_CONTENT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
_NAMESPACE_BYTES = _EVENT_NAMESPACE.bytes


def content_id(feed_id: int, values: list[Any]) -> str:
    """Return str(uuid5(namespace, f"{feed_id}:{JSON of the row's values}")), without uuid's per-call overhead."""
    name = f"{feed_id}:{_CONTENT.encode(values)}".encode()
    raw = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _put(batch: dict, event: dict, path: tuple[str, ...], value: Any) -> None:
    head = path[0]
    if head in ("user_identities", "device_info"):
        if value is not None and str(value).strip() != "":
            batch.setdefault(head, {})[path[1]] = str(value)
    elif head == "mpid":
        if value is not None and str(value).strip() != "":
            batch["mpid"] = int(value)
    elif head == "mp_deviceid":
        if value is not None and str(value).strip() != "":
            batch["mp_deviceid"] = str(value)
    elif head == "user_attributes":
        batch["user_attributes"][path[1]] = value
    elif head == "events" and path[1] == "event_type":
        event["event_type"] = value
    else:
        target = event
        for part in path[1:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
