"""The profile store: profiles (MPIDs), their identities, attributes (with lineage) and events.

Environments are separate profile spaces: every lookup is scoped to a workspace and an environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone

from feeds.accounts.models import Workspace
from feeds.models import Environment, Feed

# Write-path notes (a sync writes ~18 rows per source row here, so every per-row cost counts):
# - The unique constraints lead with (workspace, environment, …) and serve every scoped lookup, so the
#   workspace foreign keys carry no index of their own (one less index to maintain per insert).
# - A profile's attributes are ONE JSON document on its row ({name: [value, feed id, run id, source order]}),
#   not a row per attribute: a page of new profiles is then one COPY row per profile instead of ~15, and an
#   update merges only the changed keys into the document (PostgreSQL: `(doc - removed) || set`). When each
#   run wrote its values is kept once per run ({run id: time}, `set_at`), not once per attribute: that
#   timestamp was 40% of the document, and the document's size is most of what a load writes and reads.
# - The lineage most values share is kept once: the row that created a profile gives its values one
#   (feed, run, order), stored on the profile as `origin`, and an entry with exactly that lineage is stored as
#   [value] (`pack`). A first load's documents are then ~40% of the size; a 200,000-row load into PostgreSQL
#   wrote with 31% less server CPU and 35% less wall time, and SQLite wrote 45% fewer bytes (docs/store.md).
# - A profile's identities are held twice, as the store needs them: on its row ({type: value}, `identities`),
#   which is what loading a page's profiles reads, and one Identity row each, keyed by (workspace,
#   environment, type, value), which is how a value finds its owner. That primary key is the identity
#   table's only index: no surrogate id and no (profile, type) index, so an identity costs one index entry
#   instead of three (identities were the largest part of a full load's floor, docs/store.md "Floors").
#   The store writes both in the same statements of a page's transaction, so they always agree.
# - Identities and events reference their profile without a database constraint: Django's
#   deferred foreign-key check costs one trigger and one index probe per row at COMMIT (~25% of a full sync).
#   Integrity comes from the store, the only writer: it writes rows only for profiles it inserted or read
#   in the same transaction, and deletes cascade through Django (on_delete=CASCADE is done by Django anyway).


class Profile(models.Model):
    """One customer in one environment of a workspace, addressed by its MPID."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    environment = models.CharField(max_length=16, choices=Environment.choices)
    mpid = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # {name: [value, feed id, run id, source order]}: each value with its lineage; [value] when that
    # lineage is the profile's origin (`unpack` gives the full entries).
    attributes = models.JSONField(default=dict)
    # [feed id, run id, source order] of the row that created the profile; null for profiles whose entries
    # are all written in full (those stored before origins existed).
    origin = models.JSONField(null=True, blank=True)
    # {run id (text; "" for none): when that run wrote the attribute values it set (ISO)}.
    set_at = models.JSONField(default=dict)
    # {identity type: value}: one value per type; the same pairs as the profile's Identity rows.
    identities = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "environment", "mpid"], name="profile_mpid_unique")
        ]
        # The explorer's landing page (newest first): read in index order, not a sort of every profile.
        indexes = [
            models.Index(fields=["workspace", "environment", "-updated_at", "id"], name="profile_landing")
        ]

    def __str__(self) -> str:
        return str(self.mpid)

    def attribute_values(self) -> dict[str, Any]:
        """Return {attribute name: value}."""
        return {name: entry[0] for name, entry in self.attributes.items()}

    def identity_pairs(self) -> list[tuple[str, str]]:
        """Return the profile's (identity type, value) pairs, sorted by type."""
        return sorted(self.identities.items())

    def attribute_facts(self) -> list[AttributeFact]:
        """Return each attribute with its lineage, sorted by name (feed objects not loaded)."""
        return [
            AttributeFact(name, value, feed_id, run_id, order, _parse_stamp(self.set_at.get(run_key(run_id))))
            for name, (value, feed_id, run_id, order) in sorted(unpack(self.attributes, self.origin).items())
        ]


def unpack(document: Mapping[str, Any], origin: Sequence[Any] | None) -> dict[str, Any]:
    """Return the stored attribute document with every entry in full: [value, feed id, run id, order]."""
    if not origin:
        return dict(document)
    feed_id, run_id, order = origin
    return {
        name: [entry[0], feed_id, run_id, order] if len(entry) == 1 else entry
        for name, entry in document.items()
    }


def pack(document: Mapping[str, Sequence[Any]], origin: tuple[Any, Any, Any]) -> dict[str, Sequence[Any]]:
    """Return the document as stored: an entry whose lineage is `origin` becomes [value]."""
    feed_id, run_id, order = origin
    return {
        name: [entry[0]] if entry[1] == feed_id and entry[2] == run_id and entry[3] == order else entry
        for name, entry in document.items()
    }


@dataclass
class AttributeFact:
    """One user attribute and where its value came from (feed, run, iterator value of the source row, when)."""

    name: str
    value: Any
    feed_id: int | None
    run_id: int | None
    source_order: str
    updated_at: datetime | None
    feed: Feed | None = None
    run_number: int | None = None  # the run's number within its feed, which pages show


def run_key(run_id: int | None) -> str:
    """Return the `set_at` key of a run."""
    return "" if run_id is None else str(run_id)


def _parse_stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class Identity(models.Model):
    """An identity value (email, customer_id, device id…) owned by exactly one profile.

    Keyed by what it is: (workspace, environment, identity type, value). A profile's own identities are read
    from its `identities` document, never from here by profile (there is no index for that).
    """

    pk = models.CompositePrimaryKey("workspace_id", "environment", "identity_type", "value")
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    environment = models.CharField(max_length=16, choices=Environment.choices)
    identity_type = models.CharField(max_length=40)
    value = models.CharField(max_length=512)
    # DO_NOTHING: deleting profiles must not look for their identities by profile (a scan of the table).
    # A workspace's deletion removes its identities through the workspace key, which leads the primary key.
    profile = models.ForeignKey(
        Profile, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    # Lineage only: no database constraint, so bulk writes skip one foreign-key check per row.
    feed = models.ForeignKey(
        Feed,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.identity_type}={self.value}"


class Event(models.Model):
    """An event recorded on a profile; event_id makes re-reads idempotent."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    environment = models.CharField(max_length=16, choices=Environment.choices)
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="events", db_index=False, db_constraint=False
    )
    event_id = models.CharField(max_length=200)
    # Lineage only: no database constraint, so bulk writes skip one foreign-key check per row.
    feed = models.ForeignKey(
        Feed,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    run_id = models.BigIntegerField(null=True, blank=True)
    event_type = models.CharField(max_length=40, blank=True)
    event_name = models.CharField(max_length=256, blank=True)
    timestamp = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "environment", "event_id"], name="event_id_unique")
        ]
        indexes = [models.Index(fields=["profile", "timestamp"], name="event_profile_time")]

    def __str__(self) -> str:
        return self.event_id
