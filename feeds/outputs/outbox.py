"""The outbox: a page's outgoing batches, written in the page's own transaction (docs/outputs.md).

`record_page` is the engine's one hook: called inside the transaction that writes the page to the store
and commits the checkpoint, so a batch exists exactly when the change it carries was committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import partial
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

from feeds.models import Feed
from feeds.outputs.batches import Selection, build
from feeds.outputs.diff import Change, page_changes
from feeds.outputs.kinds import kind_class
from feeds.outputs.kinds.base import Limits
from feeds.outputs.models import FeedOutput, OutboxBatch, OutputState
from feeds.rules.runs import apply_for_output, output_version

# A page's requests for connections that receive the same batches (same choices, same request limits,
# no rules of their own): built and serialised once, whatever the number of such connections.
Requests = list[tuple[bytes, int]]  # (payload, changes) per outbox row


def record_page(feed: Feed, run_id: int | None, result: Any) -> int:
    """Write the outbox rows of every connection of the feed for a page's changes; return how many.

    Must run inside the page's transaction. Each connection's row is locked, so its sequence numbers
    follow the order in which pages commit.
    """
    connections = list(
        FeedOutput.objects.select_for_update(of=("self",))
        .select_related("output")
        .filter(feed=feed, disconnected=False)
    )
    if not connections:
        return 0  # a feed without outputs pays one indexed query a page
    changes = page_changes(result)
    shared: dict[tuple[Selection, Limits], Requests] = {}
    written, outputs = 0, set()
    for connection in connections:
        rows = _record(connection, feed, run_id, changes, shared)
        written += rows
        if rows and not connection.paused and connection.output.state == OutputState.ACTIVE:
            outputs.add(connection.output_id)  # a paused or faulted one waits for Resume
    _kick(outputs)
    return written


def record_connection(connection: FeedOutput, feed: Feed, run_id: int | None, changes: list[Change]) -> int:
    """Write one connection's outbox rows for `changes` (its history); inside the caller's transaction."""
    locked = FeedOutput.objects.select_for_update(of=("self",)).select_related("output").get(pk=connection.pk)
    written = _record(locked, feed, run_id, changes, {})
    if written:
        _kick({locked.output_id})
    return written


def _record(
    connection: FeedOutput,
    feed: Feed,
    run_id: int | None,
    changes: list[Change],
    shared: dict[tuple[Selection, Limits], Requests],
) -> int:
    destination = kind_class(connection.output.kind)
    selection = Selection(
        connection.sends, frozenset(connection.attributes or ()), destination.removals, feed.environment
    )
    limits = destination.limits(connection.output.config)
    version = output_version(connection, run_id)  # its own rules (docs/rules.md)
    if version is None:
        key = (selection, limits)
        if key not in shared:
            shared[key] = list(requests(build(selection, changes), limits))
        found = shared[key]
    else:  # rules change batches in place: this connection's are its own
        found = list(
            requests(apply_for_output(connection, run_id, build(selection, changes), version), limits)
        )
    if not found:
        return 0
    rows = list(rows_for(connection, feed.pk, run_id, found))
    OutboxBatch.objects.bulk_create(rows)
    FeedOutput.objects.filter(pk=connection.pk).update(next_seq=connection.next_seq + len(rows))
    return len(rows)


def requests(batches: list[dict], limits: Limits) -> Iterator[tuple[bytes, int]]:
    """Yield (payload, changes) per request within the destination's limits: a JSON array of batches."""
    if limits.bytes is None and limits.events is None and limits.attributes is None:
        # A number of batches is the only limit (webhook, RabbitMQ): a request is a slice, serialised in
        # one call (the same bytes as joining them one by one).
        step = limits.batches or len(batches) or 1
        for start in range(0, len(batches), step):
            part = batches[start : start + step]
            yield orjson.dumps(part), sum(_changes(b) for b in part)
        return
    for parts, count in chunks(batches, limits):
        yield b"[" + b",".join(parts) + b"]", count


def rows_for(
    connection: FeedOutput, feed_id: int, run_id: int | None, found: Requests
) -> Iterator[OutboxBatch]:
    """Yield the connection's outbox rows for its requests, numbered from its next sequence number."""
    now, seq = timezone.now(), connection.next_seq
    for payload, count in found:
        yield OutboxBatch(
            connection=connection,
            seq=seq,
            batch_id=batch_id(feed_id, run_id, connection.pk, seq, payload),
            run_id=run_id,
            changes=count,
            payload=payload.decode(),
            next_attempt_at=now,
            created_at=now,
        )
        seq += 1


def batch_id(feed_id: int, run_id: int | None, connection_id: int, seq: int, payload: bytes) -> str:
    """Return the deterministic id of a batch: the same page committed again gives the same id."""
    digest = hashlib.sha256(f"{feed_id}:{run_id}:{connection_id}:{seq}:".encode() + payload)
    return f"{feed_id}-{run_id or 0}-{seq}-{digest.hexdigest()[:24]}"


def _changes(batch: dict) -> int:
    events = len(batch.get("events") or ())
    attributes = batch.get("user_attributes") or batch.get("deleted_user_attributes")
    return events + (1 if attributes or not events else 0)  # identities alone count as one


def chunks(batches: list[dict], limits: Limits) -> Iterator[tuple[list[bytes], int]]:
    """Yield (serialised batches, changes) per request; a profile with more events than allowed is split."""
    parts: list[bytes] = []
    size = events = attributes = changes = 0
    for batch in _split_events(batches, limits.events):
        part = orjson.dumps(batch)
        n_events = len(batch.get("events") or ())
        n_attributes = 1 if batch.get("user_attributes") or batch.get("deleted_user_attributes") else 0
        if parts and _over(
            limits, len(parts) + 1, size + len(part) + 1, events + n_events, attributes + n_attributes
        ):
            yield parts, changes
            parts, size, events, attributes, changes = [], 0, 0, 0, 0
        parts.append(part)
        size, events, attributes = size + len(part) + 1, events + n_events, attributes + n_attributes
        changes += _changes(batch)
    if parts:
        yield parts, changes


def _over(limits: Limits, batches: int, size: int, events: int, attributes: int) -> bool:
    return (
        (limits.batches is not None and batches > limits.batches)
        or (limits.bytes is not None and size + 2 > limits.bytes)
        or (limits.events is not None and events > limits.events)
        or (limits.attributes is not None and attributes > limits.attributes)
    )


def _split_events(batches: list[dict], most: int | None) -> Iterator[dict]:
    for batch in batches:
        found = batch.get("events") or []
        if most is None or len(found) <= most:
            yield batch
            continue
        for start in range(0, len(found), most):
            part = {**batch, "events": found[start : start + most]}
            if start:
                part.pop("user_attributes", None)
                part.pop("deleted_user_attributes", None)
            yield part


def _kick(output_ids: set[int]) -> None:
    """Queue a drain of each output for the batches this transaction writes.

    With django-q's ORM broker the task row is written in this same transaction, so it exists exactly when
    the batches do; queueing after the commit, outside a transaction, would make django-q close the
    database connection (its broker closes "old" connections first), costing the sync its SQLite page
    cache every page. An output a live drain holds is looked at again after the commit, in case that
    drain finished without seeing these batches. With Redis, after the commit, so that a worker cannot
    look for the batches before they are there.
    """
    from django_q.conf import Conf

    from feeds.outputs import delivery

    for output_id in output_ids:
        if not (Conf.ORM and delivery.kick(output_id)):
            transaction.on_commit(partial(delivery.kick, output_id))
