"""The Feed aggregate: connections, data models, field transformations (mappings) and feeds.

A feed is mParticle's "pipeline": one connection, one data model, one mapping and its sync settings.
Run records and checkpoints live in feeds.sync; the profile store in feeds.profiles.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from feeds.accounts.models import Workspace
from feeds.crypto import EncryptedJSONField, Secrets
from feeds.warehouses.registry import PROVIDERS

slug_validator = RegexValidator(
    r"^[A-Za-z0-9_-]+$", "Use only letters, digits, “-” and “_” (no spaces), for example “crm-users”."
)


# The provider table's rows as choices (Provider.POSTGRES == "postgres"). The functional form, because the
# table is the one list of providers; django-stubs types only the class form of TextChoices.
Provider = models.TextChoices(  # type: ignore[call-overload]
    "Provider", [(spec.kind.upper(), (spec.kind, spec.label)) for spec in PROVIDERS.values()]
)


class Health(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    FAULTED = "faulted", "Faulted"


class Audited(models.Model):
    """Who made and last changed an object, and when (the API's created_on / last_modified_on)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    slug = models.SlugField(max_length=100, validators=[slug_validator])
    name = models.CharField(max_length=200)
    created_on = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_modified_on = models.DateTimeField(auto_now=True)
    last_modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Health.choices, default=Health.HEALTHY)
    errors = models.JSONField(default=list, blank=True)  # [{"message": "..."}]

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name


class Connection(Audited):
    """Where a warehouse is and how to reach it. Secrets are encrypted and never shown again."""

    provider = models.CharField(max_length=20, choices=Provider.choices)
    config = models.JSONField(default=dict, blank=True)  # non-secret settings
    secrets = EncryptedJSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    last_checked_on = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "slug"], name="connection_slug_unique"),
            models.UniqueConstraint(fields=["workspace", "name"], name="connection_name_unique"),
        ]

    def warehouse_config(self) -> dict[str, Any]:
        """Return config and decrypted secrets together, for opening the warehouse only."""
        return Secrets({**self.config, **(self.secrets or {})})


class DataModel(Audited):
    """A read-only SELECT (or, for Delta Sharing, a table) in the connection's dialect."""

    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="data_models")
    sql = models.TextField()
    # The columns of the last successful Run Query: [{"name", "type", "warehouse_type"}].
    columns = models.JSONField(default=list, blank=True)
    columns_sql = models.TextField(blank=True)  # the SQL those columns belong to
    timestamp_field = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "slug"], name="data_model_slug_unique")]

    @property
    def is_probed(self) -> bool:
        """Return True when the columns were discovered from the SQL as it is now."""
        return bool(self.columns) and self.columns_sql == self.sql

    def column_names(self) -> list[str]:
        return [c["name"] for c in self.columns]


class PipelineType(models.TextChoices):
    USER_ATTRIBUTES = "user_attributes", "User Attributes & Identities Only"
    EVENTS = "events", "Events"


class FieldTransformation(Audited):
    """A mapping from model columns to mParticle batch fields (see feeds.mapping for the shape)."""

    destination_type = models.CharField(max_length=32, default="event_batch")
    mappings = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "slug"], name="transformation_slug_unique")
        ]


class FeedState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"


class Environment(models.TextChoices):
    PRODUCTION = "production", "Prod"
    DEVELOPMENT = "development", "Dev"


class InputProtection(models.TextChoices):
    CREATE_AND_UPDATE = "create_and_update", "Create & Update"
    UPDATE_ONLY = "update_only", "Update Only"
    READ_ONLY = "read_only", "Read Only"


class SyncMode(models.TextChoices):
    INCREMENTAL = "incremental", "Incremental"
    FULL = "full", "Full"


class ScheduleType(models.TextChoices):
    INTERVAL = "interval", "Interval"
    ONCE = "once", "Once"
    ON_DEMAND = "on_demand", "On Demand"


class Frequency(models.TextChoices):
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


# A feed's sync settings (the wizard's sync-settings step; the API's pipeline fields; the audit log).
SCHEDULE_SETTINGS = (
    "environment",
    "input_protection",
    "sync_mode",
    "iterator",
    "iterator_type",
    "lookback_seconds",
    "timezone",
    "from_time",
    "until_time",
    "schedule_type",
    "frequency",
    "schedule_start",
    "schedule_end",
)


class Feed(Audited):
    """A warehouse sync (mParticle's pipeline). A draft is a feed the wizard has not activated yet."""

    pipeline_type = models.CharField(
        max_length=20, choices=PipelineType.choices, default=PipelineType.USER_ATTRIBUTES
    )
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.PROTECT, related_name="feeds"
    )
    data_model = models.ForeignKey(
        DataModel, null=True, blank=True, on_delete=models.PROTECT, related_name="feeds"
    )
    field_transformation = models.ForeignKey(
        FieldTransformation, null=True, blank=True, on_delete=models.PROTECT, related_name="feeds"
    )
    state = models.CharField(max_length=16, choices=FeedState.choices, default=FeedState.DRAFT)
    environment = models.CharField(max_length=16, choices=Environment.choices, default=Environment.PRODUCTION)
    input_protection = models.CharField(
        max_length=20, choices=InputProtection.choices, default=InputProtection.CREATE_AND_UPDATE
    )
    sync_mode = models.CharField(max_length=16, choices=SyncMode.choices, default=SyncMode.INCREMENTAL)
    iterator = models.CharField(max_length=200, blank=True)
    iterator_type = models.CharField(max_length=40, blank=True)
    lookback_seconds = models.PositiveIntegerField(default=0)
    # Wall-clock zone for iterator / timestamp columns without zone; never guessed.
    timezone = models.CharField(max_length=64, default="UTC")
    from_time = models.DateTimeField(null=True, blank=True)  # Sync Start Date for historical data
    # mParticle's `sync_mode.until` (set through the API): rows whose iterator is at or past it are never read.
    until_time = models.DateTimeField(null=True, blank=True)
    schedule_type = models.CharField(
        max_length=16, choices=ScheduleType.choices, default=ScheduleType.ON_DEMAND
    )
    frequency = models.CharField(max_length=16, choices=Frequency.choices, blank=True)
    schedule_start = models.DateTimeField(null=True, blank=True)  # initial sync date and time, UTC
    schedule_end = models.DateTimeField(null=True, blank=True)
    activated_on = models.DateTimeField(null=True, blank=True)
    # Wizard edits of an activated feed wait here until the review step is saved again.
    pending_changes = models.JSONField(default=dict, blank=True)
    wizard_step = models.CharField(max_length=16, default="connect")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "slug"], name="feed_slug_unique"),
            # Only activated feeds hold their name: an abandoned wizard's draft must not keep it from others. Activating a draft whose name was taken meanwhile is refused (docs/pages.md).
            models.UniqueConstraint(
                fields=["workspace", "name"], condition=~Q(state="draft"), name="feed_name_unique_live"
            ),
        ]
        ordering = ["name"]

    @property
    def is_faulted(self) -> bool:
        return self.status == Health.FAULTED

    @classmethod
    def holding_name(cls, workspace_id: int, name: str) -> models.QuerySet[Feed]:
        """Return the workspace's feeds that hold `name`: every feed but drafts (feed_name_unique_live)."""
        return cls.objects.filter(workspace_id=workspace_id, name=name).exclude(state=FeedState.DRAFT)


class DeletedFeed(models.Model):
    """What is left of a deleted feed: its name, for the profile store's lineage, which keeps only feed ids.

    Written by feeds.sync.service.delete_feed; the id is the deleted feed's (ids are never reused).
    """

    id = models.BigIntegerField(primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    deleted_at = models.DateTimeField()
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.name} (deleted)"

    @classmethod
    def names(cls, workspace_id: int, ids: set[int]) -> dict[int, str]:
        """Return {feed id: name} of the workspace's deleted feeds among `ids`."""
        if not ids:
            return {}
        found = cls.objects.filter(workspace_id=workspace_id, pk__in=ids).values_list("pk", "name")
        return dict(found)


class AuditEntry(models.Model):
    """One change a person (or an API credential) made: who, when, from where, and before → after."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_entries")
    feed = models.ForeignKey(
        Feed, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=200, blank=True)  # kept when the user is deleted
    action = models.CharField(max_length=40)  # create, edit, activate, pause, resume, run, delete, member...
    target = models.CharField(max_length=200, blank=True)  # what was changed, in words
    changes = models.JSONField(default=dict, blank=True)  # {"field": [before, after]}
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_on = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target}"
