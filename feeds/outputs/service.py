"""Outputs' domain services, shared by the pages and the API: save, connect, pause, resume, disconnect,
redeliver, send a test event, the history of a new connection, the minute tick and each connection's counters.

Callers check access first (feeds.accounts.access.require_member); every change here is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from feeds import audit
from feeds.accounts.models import Workspace
from feeds.models import Feed
from feeds.outputs import delivery, outbox
from feeds.outputs.diff import Change
from feeds.outputs.kinds import kind_class, open_destination
from feeds.outputs.kinds.base import Answer
from feeds.outputs.models import BatchState, FeedOutput, OutboxBatch, Output, OutputKind, OutputState, Sends
from feeds.profiles.models import Event, Profile, unpack
from feeds.tick import ensure_tick
from feeds.warehouses.base import check_setting, keeps_saved, rebound_secrets, with_default

HISTORY_CHUNK = 5000


class Invalid(Exception):
    """Wrong values: `errors` maps each field to how to fix it."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def settings_for(kind: str, values: Mapping[str, Any], saved: Output | None = None) -> tuple[dict, dict]:
    """Return (config, secrets) for an output's typed values; raises Invalid naming each wrong field.

    An empty secret keeps the saved one, but only while every setting that decides where it goes is
    unchanged (docs/warehouse-security.md §2).
    """
    if kind not in OutputKind.values:
        raise Invalid({"kind": f"Choose one of: {', '.join(OutputKind.values)}."})
    destination = kind_class(kind)
    old_secrets = dict(saved.secrets or {}) if saved else {}
    config: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    errors: dict[str, str] = {}
    kept: list[str] = []
    for spec in destination.fields:
        value = values.get(spec.name)
        if saved and keeps_saved(spec, value):
            kept.append(spec.name)
            value = old_secrets.get(spec.name)
        value = with_default(spec, value)
        try:
            if spec.kind == "integer" and value not in (None, ""):
                value = int(value)
            check_setting(spec, value)
        except (TypeError, ValueError) as error:
            errors[spec.name] = (
                str(error)
                if str(error) and "invalid literal" not in str(error)
                else f"{spec.label} must be a whole number."
            )
            continue
        (secrets if spec.secret else config)[spec.name] = value
    errors.update({k: v for k, v in destination.validate_config(config).items() if k not in errors})
    if saved:
        errors.update(rebound_secrets(destination.fields, saved.config, config, kept))
    if errors:
        raise Invalid(errors)
    return config, secrets


def save_output(
    workspace: Workspace,
    kind: str,
    name: str,
    values: Mapping[str, Any],
    actor: Any,
    *,
    output: Output | None = None,
    request: Any = None,
) -> Output:
    """Create or update an output; raises Invalid. A saved output that was faulted is active again."""
    name = (name or "").strip()
    if not name:
        raise Invalid({"name": "Give the output a name."})
    clash = Output.objects.filter(workspace=workspace, name=name).exclude(pk=output.pk if output else 0)
    if clash.exists():
        raise Invalid({"name": f"Another output is called “{name}”; choose another name."})
    config, secrets = settings_for(kind, values, output)
    before = {"name": output.name, **output.config} if output else {}
    if output is None:
        output = Output(workspace=workspace, kind=kind)
    output.name, output.config, output.secrets = name, config, secrets
    output.state, output.fault = OutputState.ACTIVE, ""
    output.save()
    action = "edit output" if before else "create output"
    audit.record(
        workspace,
        actor,
        action,
        output.name,
        changes=audit.diff(before, {"name": name, **config}),
        request=request,
    )
    delivery.kick(output.pk)
    return output


def send_test(output: Output) -> Answer:
    """Send one test event to the output now and return its answer (nothing is stored)."""
    now = timezone.now()
    batch = {
        "environment": "development",
        "user_identities": {"customer_id": "wsync-test", "email": "test@wsync.invalid"},
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "wsync test event",
                    "custom_event_type": "other",
                    "timestamp_unixtime_ms": int(now.timestamp() * 1000),
                    "source_message_id": f"wsync-test-{now.timestamp():.0f}",
                },
            }
        ],
    }
    destination = open_destination(output.kind, output.config, output.secrets)
    try:
        return destination.send(f"test-{output.pk}-{now.timestamp():.0f}", orjson.dumps([batch]))
    finally:
        destination.close()


def connect(
    feed: Feed,
    output: Output,
    actor: Any,
    *,
    sends: str = Sends.BOTH,
    attributes: list[str] | None = None,
    history: bool = False,
    request: Any = None,
) -> FeedOutput:
    """Connect a feed to an output of its workspace; raises Invalid."""
    errors = {}
    if output.workspace_id != feed.workspace_id:
        errors["output"] = "Choose an output of this workspace."
    if sends not in Sends.values:
        errors["sends"] = f"Choose one of: {', '.join(Sends.values)}."
    if FeedOutput.objects.filter(feed=feed, output=output, disconnected=False).exists():
        errors["output"] = f"This feed already sends to {output.name}."
    cleaned = sorted({a.strip() for a in attributes or [] if a and a.strip()})
    if errors:
        raise Invalid(errors)
    # Reconnecting a connection still delivering its backlog (disconnected with "deliver first") takes
    # that row back, so its undelivered batches go first, in order, instead of being dropped.
    connection, _ = FeedOutput.objects.update_or_create(
        feed=feed,
        output=output,
        defaults={
            "sends": sends,
            "attributes": cleaned,
            "history": history,
            "paused": False,
            "disconnected": False,
        },
    )
    audit.record(
        feed.workspace,
        actor,
        "connect output",
        output.name,
        feed=feed,
        changes={"sends": (None, sends), "attributes": (None, cleaned), "history": (None, history)},
        request=request,
    )
    ensure_tick()
    if history:
        from django_q.tasks import async_task

        transaction.on_commit(lambda: async_task("feeds.outputs.tasks.send_history", connection.pk))
    return connection


def set_paused(connection: FeedOutput, paused: bool, actor: Any, *, request: Any = None) -> None:
    """Pause (keeps the backlog) or resume (drains it) a connection."""
    FeedOutput.objects.filter(pk=connection.pk).update(paused=paused)
    audit.record(
        connection.feed.workspace,
        actor,
        "pause output" if paused else "resume output",
        connection.output.name,
        feed=connection.feed,
        changes={"paused": (connection.paused, paused)},
        request=request,
    )
    connection.paused = paused
    if not paused:
        delivery.kick(connection.output_id)


def disconnect(connection: FeedOutput, actor: Any, *, drop_backlog: bool, request: Any = None) -> int:
    """Disconnect; the backlog is dropped now or delivered first. Returns the pending batches dropped."""
    pending = connection.outbox.filter(state=BatchState.PENDING).count()
    audit.record(
        connection.feed.workspace,
        actor,
        "disconnect output",
        connection.output.name,
        feed=connection.feed,
        changes={"drop backlog": (None, drop_backlog), "pending": (pending, 0 if drop_backlog else pending)},
        request=request,
    )
    if drop_backlog or not pending:
        connection.delete()
        return pending
    FeedOutput.objects.filter(pk=connection.pk).update(disconnected=True, paused=False)
    delivery.kick(connection.output_id)
    return 0


@dataclass(frozen=True)
class Removal:
    """What deleting an output takes with it (the confirmation page says it before; the API answers it)."""

    connections: list[FeedOutput]
    pending: int  # batches not delivered yet
    dead: int  # dead letters


def removal(output: Output) -> Removal:
    """Return what deleting the output would remove: its connections (with their feeds) and backlog."""
    connections = list(output.connections.select_related("feed").order_by("feed__name"))
    states = dict(
        OutboxBatch.objects.filter(connection__output=output)
        .exclude(state=BatchState.DELIVERED)
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    return Removal(connections, states.get(BatchState.PENDING, 0), states.get(BatchState.DEAD, 0))


def delete_output(output: Output, actor: Any, *, with_connections: bool, request: Any = None) -> Removal:
    """Delete an output with its connections and their outbox (pending batches and dead letters); audited.

    Raises Invalid on "disconnect" when feeds are connected and the caller did not say to take them too.
    """
    with transaction.atomic():
        gone = removal(output)
        if gone.connections and not with_connections:
            names = ", ".join(c.feed.name for c in gone.connections)
            raise Invalid(
                {
                    "disconnect": f"{len(gone.connections)} feed(s) send to {output.name} ({names}), with "
                    f"{gone.pending} pending batch(es). Disconnect them first, or say to delete the "
                    "output with its connections and their backlog."
                }
            )
        audit.record(
            output.workspace,
            actor,
            "delete output",
            output.name,
            changes={
                "connected feeds": ([c.feed.name for c in gone.connections], []),
                "pending batches": (gone.pending, 0),
                "dead letters": (gone.dead, 0),
            },
            request=request,
        )
        output.delete()
    return gone


def redeliver(connection: FeedOutput, batch_ids: list[int] | None, actor: Any, *, request: Any = None) -> int:
    """Put dead letters (all, or those ids) back in line with a fresh retry budget; return how many."""
    dead = connection.outbox.filter(state=BatchState.DEAD)
    if batch_ids is not None:
        dead = dead.filter(pk__in=batch_ids)
    count = dead.update(state=BatchState.PENDING, attempts=0, next_attempt_at=timezone.now())
    audit.record(
        connection.feed.workspace,
        actor,
        "redeliver",
        connection.output.name,
        feed=connection.feed,
        changes={"dead letters": (count, 0)},
        request=request,
    )
    delivery.kick(connection.output_id)
    return count


def reactivate(output: Output, actor: Any, *, request: Any = None) -> None:
    """Clear a Faulted output (after its credentials were fixed elsewhere) and drain its backlog."""
    Output.objects.filter(pk=output.pk).update(state=OutputState.ACTIVE, fault="")
    audit.record(
        output.workspace,
        actor,
        "reactivate output",
        output.name,
        changes={"state": (output.state, "active")},
        request=request,
    )
    delivery.kick(output.pk)


@dataclass(frozen=True)
class Counters:
    delivered: int
    delivered_changes: int
    pending: int
    failed: int  # dead letters
    lag_seconds: float | None  # the oldest pending batch's age
    last_error: str


def counters(connections: list[FeedOutput], now: datetime | None = None) -> dict[int, Counters]:
    """Return each connection's counters in one query."""
    now = now or timezone.now()
    rows = (
        OutboxBatch.objects.filter(connection__in=connections)
        .values("connection_id")
        .annotate(
            pending=Count("pk", filter=Q(state=BatchState.PENDING)),
            dead=Count("pk", filter=Q(state=BatchState.DEAD)),
            oldest=Min("created_at", filter=Q(state=BatchState.PENDING)),
        )
    )
    found = {r["connection_id"]: r for r in rows}
    errors = dict(
        OutboxBatch.objects.filter(connection__in=connections)
        .exclude(last_error="")
        .exclude(state=BatchState.DELIVERED)
        .order_by("connection_id", "-seq")
        .values_list("connection_id", "last_error")
    )
    result = {}
    for c in connections:
        r = found.get(c.pk, {})
        oldest = r.get("oldest")
        result[c.pk] = Counters(
            c.delivered,
            c.delivered_changes,
            r.get("pending", 0),
            r.get("dead", 0),
            (now - oldest).total_seconds() if oldest else None,
            c.output.fault or errors.get(c.pk, ""),
        )
    return result


def tick(now: datetime | None = None) -> None:
    """Kick every active output with a due batch; prune; remove drained disconnected connections."""
    now = now or timezone.now()
    tick_outputs(now)
    prune(now)
    FeedOutput.objects.filter(disconnected=True).exclude(outbox__state=BatchState.PENDING).delete()


def take_over_local() -> None:
    """On a worker's start: kick every active output with a due batch (kick takes over a dead worker's drain)."""
    tick_outputs(timezone.now())


def tick_outputs(now: datetime) -> None:
    """Kick every active output that has a due batch on a running connection."""
    due = (
        OutboxBatch.objects.filter(
            state=BatchState.PENDING,
            next_attempt_at__lte=now,
            connection__paused=False,
            connection__output__state=OutputState.ACTIVE,
        )
        .values_list("connection__output_id", flat=True)
        .distinct()
    )
    for output_id in set(due):
        delivery.kick(output_id)


def prune(now: datetime | None = None) -> int:
    """Delete delivered batches older than WSYNC_OUTBOX_RETENTION_HOURS (default 24); return how many."""
    hours = float(getattr(settings, "WSYNC_OUTBOX_RETENTION_HOURS", 24))
    cutoff = (now or timezone.now()) - timedelta(hours=hours)
    deleted, _ = OutboxBatch.objects.filter(state=BatchState.DELIVERED, delivered_at__lt=cutoff).delete()
    return deleted


def send_history(connection_id: int) -> int:
    """Queue what the store holds from the connection's feed (its attributes, all identities, its events).

    Profiles are read in chunks; each chunk's outbox rows commit in their own transaction, ahead of
    pages that commit later. Returns the batches written.
    """
    connection = FeedOutput.objects.select_related("feed", "output").get(pk=connection_id)
    feed, written, last = connection.feed, 0, 0
    profiles = Profile.objects.filter(workspace_id=feed.workspace_id, environment=feed.environment)
    while True:
        chunk = list(profiles.filter(pk__gt=last).order_by("pk")[:HISTORY_CHUNK])
        if not chunk:
            return written
        last = chunk[-1].pk
        events: dict[int, list[dict]] = {}
        for profile_id, event_id, event_type, data in Event.objects.filter(
            feed_id=feed.pk, profile_id__in=[p.pk for p in chunk]
        ).values_list("profile_id", "event_id", "event_type", "data"):
            events.setdefault(profile_id, []).append(
                {"event_type": event_type, "data": {"source_message_id": event_id, **(data or {})}}
            )
        changes = [c for p in chunk if (c := _history_change(p, feed.pk, events.get(p.pk, [])))]
        with transaction.atomic():
            written += outbox.record_connection(connection, feed, None, changes)


def _history_change(profile: Profile, feed_id: int, events: list[dict]) -> Change | None:
    document = (
        profile.attributes
        if isinstance(profile.attributes, dict)
        else orjson.loads(profile.attributes or "{}")
    )
    attributes = {k: v[0] for k, v in unpack(document, profile.origin).items() if v[1] == feed_id}
    identities = dict(profile.identities)
    if not attributes and not events:
        return None
    return Change(profile.mpid, False, identities, identities, [], attributes, [], events)


@dataclass(frozen=True)
class ConnectedOutput:
    """A row of the feed summary's Connected Outputs card."""

    connection: FeedOutput
    counters: Counters


def connected_outputs(feed: Feed) -> list[ConnectedOutput]:
    """Return the feed's connections with their counters (a constant number of queries)."""
    connections = list(FeedOutput.objects.filter(feed=feed).select_related("output").order_by("output__name"))
    found = counters(connections)
    return [ConnectedOutput(c, found[c.pk]) for c in connections]


def attach_connections(feeds: list[Feed]) -> None:
    """Set `connected_outputs` (the connections, with their output) on each feed, in one query."""
    by_feed: dict[int, list[FeedOutput]] = {}
    for c in FeedOutput.objects.filter(feed__in=feeds).select_related("output").order_by("output__name"):
        by_feed.setdefault(c.feed_id, []).append(c)
    for feed in feeds:
        feed.connected_outputs = by_feed.get(feed.pk, [])  # type: ignore[attr-defined]
