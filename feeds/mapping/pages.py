"""Turning a page of warehouse rows into mParticle batches, as a feed's mapping says (FieldTransformation.mappings).

`compile_mappings` resolves a mapping against the data model's columns once per run; `map_page` then makes one
batch per row, column by column (feeds.mapping.columns), and rejects the rows that have no identity
(feeds.mapping.rules checks mappings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from feeds.mapping import (
    EVENT_DATA_MAPS,
    EVENT_TYPES,
    IDENTITY_SECTIONS,
    REQUIRED_EVENT_FIELDS,
    UNMAPPED,
    MappingType,
    columns,
)
from feeds.mapping.columns import json_value
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


def map_page(
    page: Page,
    compiled: CompiledMapping,
    *,
    feed_id: int,
    environment: str,
    iterator: str | None,
    timezone: str,
) -> MappedPage:
    """Return one mParticle batch per row (plus its key and iterator value); rows without identity are rejected.

    The page is mapped column by column (feeds.mapping.columns): each column's values are made JSON-ready,
    its identity texts and epoch milliseconds taken, and each row's content id digested, in one pass per
    column; only the batches themselves are assembled row by row.
    """
    tz = ZoneInfo(timezone or "UTC")
    rows = page.rows
    raw = columns.of(rows, len(compiled.columns))
    values = [columns.json_ready(column, tz) for column in raw]
    digests = columns.content_ids(feed_id, values, len(rows))
    identities = [columns.identity_texts(values[i]) for i, _, _ in compiled.identities]
    others = [
        columns.epoch_ms(raw[i], tz) if path[-1] == "timestamp_unixtime_ms" else values[i]
        for i, path in compiled.others
    ]
    iterator_index = compiled.columns.index(iterator) if iterator in compiled.columns else None
    iterator_values = raw[iterator_index] if iterator_index is not None else [None] * len(rows)
    result = MappedPage([], [], [])
    per_row = zip(
        columns.rows_of(identities, len(rows)),
        columns.rows_of([values[i] for i in compiled.attribute_indexes], len(rows)),
        columns.rows_of(others, len(rows)),
        columns.rows_of([values[i] for i, _ in compiled.unmapped], len(rows)),
        digests,
        iterator_values,
        strict=True,
    )
    for number, (texts, attributes, other, unmapped, digest, iterator_value) in enumerate(per_row, start=1):
        batch = _batch(compiled, environment, texts, attributes, other, unmapped, digest)
        key = row_key(batch, number, iterator, iterator_value, tz)
        reason = NO_IDENTITY if not has_identity(batch) else event_problem(batch)
        if reason is not None:
            row_values = dict(zip(compiled.columns, (column[number - 1] for column in values), strict=True))
            result.rejects.append(Rejection(key, reason, row_values))
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


def _batch(
    compiled: CompiledMapping,
    environment: str,
    texts: tuple[str | None, ...],
    attributes: tuple[Any, ...],
    others: tuple[Any, ...],
    unmapped: tuple[Any, ...],
    digest: str,
) -> dict[str, Any]:
    """Assemble one row's batch from its column values, in the order the mapping sets them."""
    batch: dict[str, Any] = {
        "environment": environment,
        "user_identities": {},
        "user_attributes": {},
        "events": [],
    }
    event: dict[str, Any] = {"data": {}}
    for path, value in compiled.statics:
        _put(batch, event, path, value)
    for (_, section, name), text in zip(compiled.identities, texts, strict=True):
        if text is not None:
            batch.setdefault(section, {})[name] = text
    if attributes:
        batch["user_attributes"].update(zip(compiled.attribute_names, attributes, strict=True))
    for (_, path), value in zip(compiled.others, others, strict=True):
        _put(batch, event, path, value)
    if compiled.unmapped_into:
        for (_, name), value in zip(compiled.unmapped, unmapped, strict=True):
            _put(batch, event, (*compiled.unmapped_into, name), value)
    if compiled.has_events:
        if event["data"].get("source_message_id") in (None, ""):
            event["data"]["source_message_id"] = digest
        else:
            event["data"]["source_message_id"] = str(event["data"]["source_message_id"])
        batch["events"].append({"event_type": event.get("event_type"), "data": event["data"]})
    batch["source_request_id"] = digest
    return batch


def content_id(feed_id: int, values: list[Any]) -> str:
    """Return str(uuid5(namespace, f"{feed_id}:{JSON of the row's values}")) for one row's JSON-ready values."""
    return columns.content_ids(feed_id, [[v] for v in values], 1)[0]


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
