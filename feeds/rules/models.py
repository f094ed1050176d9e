"""A feed's rule set: the draft the editor changes, numbered versions, and the version each run used."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from feeds.accounts.models import Workspace
from feeds.models import Feed
from feeds.outputs.models import FeedOutput
from feeds.sync.models import SyncRun


class RuleSet(models.Model):
    """The ordered steps of one feed, or of one feed→output connection (only what that output receives).

    Exactly one of `feed` and `connection` is set. `draft` is what the editor shows; `version` is what runs use.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    feed = models.OneToOneField(
        Feed, null=True, blank=True, on_delete=models.CASCADE, related_name="rule_set"
    )
    connection = models.OneToOneField(
        FeedOutput, null=True, blank=True, on_delete=models.CASCADE, related_name="rule_set"
    )
    # The steps as the editor left them (docs/rules.md#steps); activating copies them into a new version.
    draft = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=0)  # the active version's number; 0: none yet
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(feed__isnull=False, connection__isnull=True)
                | models.Q(feed__isnull=True, connection__isnull=False),
                name="rules_one_owner",
            )
        ]

    def __str__(self) -> str:
        owner = f"feed {self.feed_id}" if self.feed_id else f"connection {self.connection_id}"
        return f"rules of {owner} v{self.version}"

    def active(self) -> RuleVersion | None:
        """Return the version runs use now, or None."""
        return self.versions.filter(number=self.version).first() if self.version else None


class RuleVersion(models.Model):
    """One activated set of steps, never changed afterwards: a run that used it can always be explained."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    steps = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["rule_set", "number"], name="rules_version_number")]

    def __str__(self) -> str:
        return f"v{self.number}"


class RunOutputRules(models.Model):
    """Which rules a run applied to what one connected output receives (fixed at the run's first page for it)."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="output_rules_used")
    connection = models.ForeignKey(FeedOutput, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(RuleVersion, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "connection"], name="rules_run_output")]

    def __str__(self) -> str:
        return f"run {self.run_id} → connection {self.connection_id}: {self.version}"


class RunRules(models.Model):
    """Which rules a run applied: fixed at its first page, so a retried attempt applies the same ones."""

    run = models.OneToOneField(SyncRun, on_delete=models.CASCADE, primary_key=True, related_name="rules_used")
    version = models.ForeignKey(RuleVersion, null=True, on_delete=models.SET_NULL, related_name="runs")

    def __str__(self) -> str:
        return f"run {self.run_id}: {self.version}"
