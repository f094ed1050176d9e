"""Turning a page of warehouse rows into mParticle batches, as a feed's mapping says (FieldTransformation.mappings).

`compile_mappings` resolves a mapping against the data model's columns once per run; `map_page` then makes one
batch per row, set-wise and fast, and rejects the rows that have no identity (feeds.mapping.rules checks mappings).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from feeds.mapping import (
    EVENT_DATA_MAPS,
    EVENT_TYPES,
    IDENTITY_SECTIONS,
    REQUIRED_EVENT_FIELDS,
    UNMAPPED,
    MappingType,
)
from feeds.warehouses.base import Page


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


@dataclass(frozen=True)
class CompiledMapping:
    """Column indexes and parsed destination paths, precomputed once per run."""

    columns: tuple[str, ...]
    statics: tuple[tuple[tuple[str, ...], Any], ...]
    # (column index, name) for a "*" destination other than the user attributes (those join attribute_names)
    unmapped: tuple[tuple[int, str], ...]
    unmapped_into: tuple[str, ...] | None
    has_events: bool
    # The column targets split by what map_page does with them, so the common ones cost no per-value dispatch:
    # identities (column index, section, type), user attributes (names and column indexes), and the rest
    # (column index, destination path: events, MPID…).
    identities: tuple[tuple[int, str, str], ...]
    attribute_names: tuple[str, ...]
    attribute_indexes: tuple[int, ...]
    others: tuple[tuple[int, tuple[str, ...]], ...]


def _path(destination: str) -> tuple[str, ...]:
    if destination.startswith("events[]."):
        rest = destination[len("events[].") :]
        for name in EVENT_DATA_MAPS:  # a map's key may hold dots: it is one key, not a path
            if rest.startswith(f"data.{name}."):
                return ("events", "data", name, rest[len(f"data.{name}.") :])
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
        if m.get("mapping_type") == MappingType.STATIC:
            statics.append((_path(destination), m.get("value")))
        elif m.get("mapping_type") == MappingType.COLUMN and source == UNMAPPED:
            into = _path(destination)[:-1]
        elif m.get("mapping_type") == MappingType.COLUMN and source in index:
            targets.append((index[source], _path(destination)))
    unmapped = tuple((i, c) for i, c in enumerate(columns) if c not in named) if into else ()
    has_events = any(p[0] == "events" for _, p in targets) or any(p[0] == "events" for p, _ in statics)
    identities = tuple((i, p[0], p[1]) for i, p in targets if p[0] in IDENTITY_SECTIONS and len(p) == 2)
    attributes = [(i, p[1]) for i, p in targets if p[0] == "user_attributes" and len(p) == 2]
    if into == ("user_attributes",):  # "*" into the user attributes: the same bulk update, after the targets
        attributes += unmapped
        unmapped, into = (), None
    others = tuple(
        (i, p) for i, p in targets if not (p[0] in (*IDENTITY_SECTIONS, "user_attributes") and len(p) == 2)
    )
    return CompiledMapping(
        tuple(columns),
        tuple(statics),
        unmapped,
        into,
        has_events,
        identities,
        tuple(n for _, n in attributes),
        tuple(i for i, _ in attributes),
        others,
    )


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
    for section in IDENTITY_SECTIONS:
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
_EVENT_NAMESPACE = uuid.UUID("7a0f6c3e-8d7f-4b0e-9a53-5b1c1d2f3e4a")  # of event and request ids
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
    if head in IDENTITY_SECTIONS:
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
