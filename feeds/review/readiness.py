"""The review step's domain: re-validate every step, preview enriched profiles, save and activate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest

from feeds import audit, wizard
from feeds.connect.providers import check_connection, load_provider
from feeds.mapping.rules import validate_mappings
from feeds.models import Connection, Feed, FeedState
from feeds.schedule.rules import schedule_problems
from feeds.warehouses.base import WarehouseError
from feeds.warehouses.registry import open_warehouse, provider_class
from feeds.warehouses.sqlcheck import check_select
from feeds.wizard.sample import mapped_sample

SAMPLE_ROWS = 10


@dataclass(frozen=True)
class Problem:
    step: str  # a wizard step key, for the Edit link
    message: str


@dataclass(frozen=True)
class DiffRow:
    key: str
    before: Any
    after: Any
    state: str  # new | changed | unchanged | removed


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[DiffRow]:
    """Return one row per key of either side, saying whether the value is new, changed or kept."""
    rows = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            state = "new"
        elif key not in after:
            state = "removed"
        else:
            state = "unchanged" if before[key] == after[key] else "changed"
        rows.append(DiffRow(key, before.get(key), after.get(key), state))
    return rows


@dataclass(frozen=True)
class SampleProfile:
    change: Any  # feeds.profiles ProfileChange
    identities: list[DiffRow]
    attributes: list[DiffRow]
    events: list[dict[str, Any]]  # {"type", "name", "at"} per event the row would write


def event_line(event: dict[str, Any]) -> dict[str, Any]:
    """Return what the review shows of one event: its type, its name (or screen / action), its time."""
    data = event.get("data") or {}
    name = (
        data.get("event_name") or data.get("screen_name") or (data.get("product_action") or {}).get("action")
    )
    return {"type": event.get("event_type", ""), "name": name or "", "at": data.get("timestamp_unixtime_ms")}


@dataclass
class Sample:
    changes: list[Any] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    rejects: list[Any] = field(default_factory=list)  # rows the mapping could not turn into a batch
    error: str = ""


class ActivationRefused(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def connection_of(feed: Feed) -> Connection | None:
    """Return the connection as it will be once saved (a live feed's pending edits included)."""
    return wizard.step_connection(feed)


def review_problems(feed: Feed) -> list[Problem]:
    """Return what stops the feed from running, step by step: connection test, SQL, mapping, settings."""
    conflicts = wizard.pending_conflicts(feed)
    if conflicts:
        return [Problem("connect", message) for message in conflicts]
    connection = connection_of(feed)
    if connection is None or load_provider(connection.provider) is None:
        return [Problem("connect", "Connect a warehouse.")]
    result = check_connection(connection.provider, connection.warehouse_config())
    if not result.ok:
        return [Problem("connect", f"The connection test failed: {result.message}")]
    model = wizard.section_values(feed, "model")
    problems = _model_problems(connection, model)
    if problems:
        return problems
    return _mapping_problems(feed, model) + _schedule_problems(feed, connection, model)


def _model_problems(connection: Connection, model: dict[str, Any]) -> list[Problem]:
    provider = provider_class(connection.provider)
    if provider.has_sql:
        sql_problem = check_select(model["sql"], provider.dialect)
        if sql_problem is not None:
            return [Problem("model", str(sql_problem))]
    if not wizard.model_is_probed(model):
        return [Problem("model", "Run the data model's query in its current form.")]
    try:
        warehouse = open_warehouse(connection.provider, connection.warehouse_config())
        try:
            columns = [c.name for c in warehouse.describe(model["sql"])]
        finally:
            warehouse.close()
    except WarehouseError as error:
        return [Problem("model", f"The query no longer runs: {error.message}")]
    if columns != wizard.column_names(model):
        return [
            Problem("model", "The query's columns changed in the warehouse since it ran. Run Query again.")
        ]
    return []


def _mapping_problems(feed: Feed, model: dict[str, Any]) -> list[Problem]:
    mapping = wizard.section_values(feed, "map")
    errors = validate_mappings(mapping["mappings"], wizard.column_names(model), mapping["pipeline_type"])
    return [Problem("map", e.message) for e in errors]


def _schedule_problems(feed: Feed, connection: Connection, model: dict[str, Any]) -> list[Problem]:
    provider = provider_class(connection.provider)
    values = wizard.section_values(feed, "schedule")
    found = schedule_problems(
        values, wizard.column_names(model), tuple(provider.iterator_types), model.get("timestamp_field") or ""
    )
    return [Problem("schedule", message) for message in found.values()]


def sample_profiles(feed: Feed, limit: int = SAMPLE_ROWS) -> Sample:
    """Return how the model's first rows would change the profile store; nothing is written."""
    model = wizard.section_values(feed, "model")
    problems = _mapping_problems(feed, model)
    if problems:
        return Sample(error=f"Complete the mapping first: {problems[0].message}")
    return _resolve_sample(feed, model, limit)


def _resolve_sample(feed: Feed, model: dict[str, Any], limit: int) -> Sample:
    from feeds.profiles.preview import preview_batches
    from feeds.rules import service as rules

    target = wizard.effective_feed(feed)
    try:
        mapped = mapped_sample(feed, limit)
    except WarehouseError as error:
        return Sample(error=error.message)
    mapped = rules.apply_active(feed, mapped)  # the rules in effect, as runs apply them (docs/rules.md)
    changes = preview_batches(feed=target, batches=mapped.batches, row_keys=mapped.row_keys)
    counts = {"create": 0, "update": 0, "unchanged": 0, "reject": len(mapped.rejects), "skip": 0}
    for change in changes:
        counts[change.outcome] = counts.get(change.outcome, 0) + 1
    profiles = [
        SampleProfile(
            c,
            diff(c.identities_before, c.identities_after),
            diff(c.attributes_before, c.attributes_after),
            [event_line(e) for e in c.events],
        )
        for c in changes
    ]
    return Sample(profiles, counts, list(mapped.rejects))


@dataclass
class MappedRows:
    """The model's first rows as the mapping turns them into batches (the Mapping step's preview)."""

    batches: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Any] = field(default_factory=list)
    error: str = ""


def mapped_rows(feed: Feed, limit: int = 3) -> MappedRows:
    """Return the first `limit` rows of the data model mapped with the mapping as edited; nothing resolved."""
    try:
        mapped = mapped_sample(feed, limit)
    except WarehouseError as error:
        return MappedRows(error=error.message)
    return MappedRows(list(mapped.batches), list(mapped.rejects))


def save_and_activate(feed: Feed, user: Any, request: HttpRequest | None = None) -> str:
    """Re-validate, apply the wizard's edits and start the schedule; returns what happened, in words.

    Raises ActivationRefused with the problems found, or feeds.sync.service.RunRefused. The service
    records the activation; a later edit is recorded here as "edit", with the settings it changed.
    """
    from feeds.sync import service

    problems = review_problems(feed)
    if problems:
        raise ActivationRefused(problems)
    was_draft = feed.state == FeedState.DRAFT
    before = audit.feed_settings(feed)
    try:
        wizard.apply_pending(feed, user, request)
        feed.refresh_from_db()
        changes = audit.diff(before, audit.feed_settings(feed))
        if was_draft:
            service.activate(feed, user, request, changes=changes)
    except IntegrityError:
        # Another feed took the name between the check above and this save: the unique constraint
        # (feed_name_unique_live) refused it, and the same words as the check say what to do.
        feed.refresh_from_db()
        conflicts = wizard.pending_conflicts(feed)
        if not conflicts:
            raise
        raise ActivationRefused([Problem("connect", message) for message in conflicts]) from None
    if was_draft:
        feed.refresh_from_db()
        return _activated_message(feed)
    service.apply_settings(feed, user)
    audit.record(feed.workspace, user, "edit", feed.name, feed=feed, changes=changes, request=request)
    return "Your changes are saved; the next run uses them."


def _activated_message(feed: Feed) -> str:
    if feed.schedule_type == "on_demand":
        return "The feed is active. It runs when you press Run Sync."
    return "The feed is active. Its initial sync runs at the chosen time (at once if that time has passed)."
