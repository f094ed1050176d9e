"""Outputs, the feed-to-output connections and the outbox (docs/outputs.md)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from feeds.accounts.models import Workspace
from feeds.crypto import EncryptedJSONField
from feeds.models import Feed


class OutputKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    RABBITMQ = "rabbitmq", "RabbitMQ"
    MPARTICLE = "mparticle", "mParticle"
    BRAZE = "braze", "Braze"
    AMPLITUDE = "amplitude", "Amplitude"


class OutputState(models.TextChoices):
    ACTIVE = "active", "Active"
    # The destination refused wsync's credentials (401): nothing is sent until the output is fixed.
    FAULTED = "faulted", "Faulted"


class Output(models.Model):
    """A destination of a workspace: its kind, settings and encrypted secrets."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="outputs")
    kind = models.CharField(max_length=16, choices=OutputKind.choices)
    name = models.CharField(max_length=200)
    config = models.JSONField(default=dict, blank=True)
    secrets = EncryptedJSONField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=OutputState.choices, default=OutputState.ACTIVE)
    fault = models.TextField(blank=True)  # why it is faulted, in plain words
    # The delivery worker that drains this output (host:pid:start) and until when its claim holds.
    lease_holder = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="output_name_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Sends(models.TextChoices):
    ATTRIBUTES = "attributes", "User attributes and identities"
    EVENTS = "events", "Events"
    BOTH = "both", "User attributes, identities and events"


class FeedOutput(models.Model):
    """A feed connected to an output: what it sends, and its own Pause/Resume."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="output_connections")
    output = models.ForeignKey(Output, on_delete=models.CASCADE, related_name="connections")
    sends = models.CharField(max_length=16, choices=Sends.choices, default=Sends.BOTH)
    attributes = models.JSONField(default=list, blank=True)  # allow-list; empty: every attribute
    history = models.BooleanField(default=False)  # send what the store holds from the feed at connection time
    paused = models.BooleanField(default=False)
    # Disconnected, its backlog still being delivered: takes no new changes, removed once drained.
    disconnected = models.BooleanField(default=False)
    next_seq = models.BigIntegerField(default=1)  # the outbox's next sequence number
    delivered = models.BigIntegerField(default=0)  # batches delivered (outlives the outbox's pruning)
    delivered_changes = models.BigIntegerField(default=0)
    last_delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feed", "output"], name="feed_output_unique")]

    def __str__(self) -> str:
        return f"{self.feed} → {self.output}"


class BatchState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Dead letter"


class OutboxBatch(models.Model):
    """One request's worth of changes for one connection, written with the page that made them."""

    connection = models.ForeignKey(FeedOutput, on_delete=models.CASCADE, related_name="outbox")
    seq = models.BigIntegerField()  # delivery order within the connection
    batch_id = models.CharField(max_length=64)  # deterministic: feed, run, position and content
    run_id = models.BigIntegerField(null=True, blank=True)  # lineage; a plain number
    changes = models.IntegerField(default=0)  # profiles and events in the batch
    payload = models.TextField()  # a JSON array of mParticle batches (the interchange shape)
    state = models.CharField(max_length=16, choices=BatchState.choices, default=BatchState.PENDING)
    attempts = models.IntegerField(default=0)  # failed tries (rate-limit waits do not count)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "seq"], name="outbox_seq_unique"),
        ]
        indexes = [
            models.Index(fields=["connection", "state", "seq"], name="outbox_queue"),
            models.Index(fields=["state", "delivered_at"], name="outbox_pruning"),
        ]

    def __str__(self) -> str:
        return self.batch_id
