"""What operations keeps: liveness beats of the worker and scheduler, alert settings, incidents, deliveries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from feeds.accounts.models import Workspace
from feeds.models import Feed


class Beat(models.Model):
    """The last time a part of the cluster showed it is alive (`worker`, `scheduler`)."""

    name = models.CharField(max_length=40, unique=True)
    at = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True)  # which process

    def __str__(self) -> str:
        return f"{self.name} at {self.at}"


class AlertSettings(models.Model):
    """Who a workspace's admins want told, and how, when a feed has an incident."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="alert_settings")
    # Members who get an email; only current members of the workspace are ever sent one.
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    # A Slack-compatible incoming webhook ({"text": ...}); its host must pass the outbound allow-list.
    webhook_url = models.URLField(max_length=500, blank=True)
    # An active interval feed whose last success is older than this many intervals is late.
    late_after_intervals = models.PositiveSmallIntegerField(default=3)

    def __str__(self) -> str:
        return f"alerts of {self.workspace}"


class IncidentKind(models.TextChoices):
    FAULTED = "faulted", "Feed faulted"
    FAILED = "failed", "Run failed"
    LATE = "late", "No successful run in time"


class Incident(models.Model):
    """One stretch of a feed being unwell: opened once (one alert), resolved once (one resolved message)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=IncidentKind.choices)
    summary = models.TextField()
    run_id = models.BigIntegerField(null=True, blank=True)  # the failed run, when one caused it
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            # Two evaluations racing each other cannot open a second incident for the same feed.
            models.UniqueConstraint(
                fields=["feed"], condition=Q(resolved_at__isnull=True), name="ops_one_open_incident_per_feed"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} of feed {self.feed_id} at {self.opened_at}"


class Delivery(models.Model):
    """One message about an incident sent (or not) through one channel."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=16)  # opened, resolved
    channel = models.CharField(max_length=16)  # email, webhook
    to = models.CharField(max_length=500)  # addresses, or the webhook's host (never its full URL: a secret)
    ok = models.BooleanField()
    detail = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.event} via {self.channel}: {'ok' if self.ok else self.detail}"
