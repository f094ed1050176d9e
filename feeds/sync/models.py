"""Run records, rejected rows, identity conflicts, checkpoints and per-feed schedule state.

The database enforces "one run per feed at a time": at most one main (non-backfill) run per feed
is running and at most one waits queued behind it (partial unique constraints), so two workers or
two web requests racing each other cannot start a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from feeds.models import Feed, SyncMode


class RunKind(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    MANUAL = "manual", "Manual"
    CATCH_UP = "catch_up", "Catch-up"
    BACKFILL = "backfill", "Historical backfill"
    ONCE = "once", "Once"


class RunState(models.TextChoices):
    """A run's state; each means one thing (docs/sync.md).

    QUEUED also covers a run whose next attempt is planned (next_retry_at); FAILED means no retry will come.
    """

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class AttemptOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    STOPPED = "stopped", "Worker stopped"


ACTIVE_STATES = (RunState.QUEUED, RunState.RUNNING)


class SyncRunManager(models.Manager["SyncRun"]):
    def bulk_create(self, objs: Iterable[SyncRun], *args: Any, **kwargs: Any) -> list[SyncRun]:
        """Number the new runs of each feed before inserting them (bulk_create skips save())."""
        objs = list(objs)
        for feed_id in {run.feed_id for run in objs if not run.number}:
            new = [run for run in objs if run.feed_id == feed_id and not run.number]
            for run, number in zip(new, _next_numbers(feed_id, len(new)), strict=True):
                run.number = number
        return super().bulk_create(objs, *args, **kwargs)


def _next_numbers(feed_id: int, count: int) -> range:
    """Return the next `count` run numbers of the feed; call inside the transaction that inserts them.

    The feed's row is locked first (PostgreSQL; SQLite's writes are serialised already), so two
    requests numbering runs of one feed at once wait for each other instead of taking the same number.
    """
    list(Feed.objects.select_for_update().filter(pk=feed_id).values_list("pk"))
    last = SyncRun.objects.filter(feed_id=feed_id).aggregate(last=models.Max("number"))["last"] or 0
    return range(last + 1, last + 1 + count)


def run_numbers(run_ids: set[int]) -> dict[int, int]:
    """Return {run id: its number within its feed} for the runs that still exist."""
    return dict(SyncRun.objects.filter(pk__in=run_ids).values_list("pk", "number"))


class SyncRun(models.Model):
    """One execution of a feed: its data interval, counters, progress and outcome."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="runs")
    # The run's number within its feed (#1, #2, ...), which pages show; the id stays in URLs and the API.
    number = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=RunKind.choices, default=RunKind.MANUAL)
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED)
    logical_date = models.DateTimeField(null=True, blank=True)  # the schedule slot this run stands for
    # The data interval asked for (display text) and its typed bounds (the engine's, see windows.py).
    window_from = models.CharField(max_length=64, blank=True)
    window_to = models.CharField(max_length=64, blank=True)
    window = models.JSONField(default=dict, blank=True)  # {"lower": ..., "upper": ...} encoded
    # The iterator values actually seen (display text and typed).
    data_from = models.CharField(max_length=64, blank=True)
    data_to = models.CharField(max_length=64, blank=True)
    data_bounds = models.JSONField(default=dict, blank=True)
    rows_read = models.BigIntegerField(default=0)
    # Rows a resumed attempt read again at the point where the attempt before it stopped: counted here
    # only, so the other counters count each row once (docs/sync.md).
    rows_reread = models.BigIntegerField(default=0)
    rows_mapped = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    profiles_created = models.BigIntegerField(default=0)
    profiles_updated = models.BigIntegerField(default=0)
    profiles_unchanged = models.BigIntegerField(default=0)
    events_written = models.BigIntegerField(default=0)
    identity_conflicts = models.BigIntegerField(default=0)
    # How many rows the run should read, when known at its start; an estimate when total_rows_estimated
    # (a full run expects what the feed's last full run read).
    total_rows = models.BigIntegerField(null=True, blank=True)
    total_rows_estimated = models.BooleanField(default=False)
    sync_mode = models.CharField(max_length=16, choices=SyncMode.choices, blank=True)  # set at run start
    # Seconds spent in read / fingerprint / map / resolve / write / commit.
    timings = models.JSONField(default=dict, blank=True)
    # Why a Failed or Cancelled run ended, in plain words, never credentials; empty otherwise (each
    # attempt keeps its own error).
    error = models.TextField(blank=True)
    error_permanent = models.BooleanField(default=False)
    attempt = models.PositiveIntegerField(default=0)  # the number of the latest attempt
    next_retry_at = models.DateTimeField(null=True, blank=True)  # a queued run's planned next attempt
    # A historical window that ended Failed or Cancelled: the feed's next run queues it again.
    owed = models.BooleanField(default=False)
    # Which worker owns the run: every page commit checks it, so a run taken over after a worker
    # was presumed dead can never be written by two workers.
    claim = models.CharField(max_length=32, blank=True)
    worker = models.CharField(max_length=200, blank=True)  # the owner process (feeds.sync.workers)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = SyncRunManager()

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(fields=["feed", "number"], name="sync_run_number_per_feed"),
            models.UniqueConstraint(
                fields=["feed"],
                condition=Q(state="running") & ~Q(kind="backfill"),
                name="sync_one_running_run_per_feed",
            ),
            models.UniqueConstraint(
                fields=["feed"],
                condition=Q(state="queued") & ~Q(kind="backfill"),
                name="sync_one_queued_run_per_feed",
            ),
        ]
        indexes = [models.Index(fields=["feed", "state"])]

    def __str__(self) -> str:
        return f"Run #{self.number} of {self.feed_id} ({self.state})"

    def save(self, *args, **kwargs):
        if self._state.adding and not self.number:
            with transaction.atomic():
                self.number = _next_numbers(self.feed_id, 1)[0]
                return super().save(*args, **kwargs)
        return super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    @property
    def duration_display(self) -> str:
        """Return the duration as “1 h 2 min”, “3 min 4 s” or “5.2 s”; “—” before the start."""
        duration = self.duration
        return "—" if duration is None else seconds_display(duration.total_seconds())

    @property
    def rows_per_second(self) -> float | None:
        duration = self.duration
        if duration is None or duration.total_seconds() <= 0 or not self.rows_read:
            return None
        return self.rows_read / duration.total_seconds()

    @property
    def percent_done(self) -> int | None:
        """Return progress in percent when the total is known (capped below 100 while running)."""
        if not self.total_rows:
            return None
        if self.state == RunState.SUCCEEDED:
            return 100
        return min(99, int(self.rows_read * 100 / self.total_rows))

    @property
    def eta_seconds(self) -> float | None:
        """Return the seconds a running run still needs at its speed so far; None when that is unknown.

        Unknown without a row count, before the first rows, and once an estimated count is passed.
        """
        rate = self.rows_per_second
        if self.state != RunState.RUNNING or not self.total_rows or rate is None:
            return None
        left = self.total_rows - self.rows_read
        return left / rate if left > 0 else None

    @property
    def time_left_display(self) -> str:
        """Return `eta_seconds` as “3 min 4 s”; “—” when unknown."""
        seconds = self.eta_seconds
        return "—" if seconds is None else seconds_display(seconds)

    @property
    def count_items(self) -> list[tuple[str, int | None]]:
        """Return the counters as (label, value) pairs for the run pages."""
        return [
            ("Rows read", self.rows_read),
            ("Rows mapped", self.rows_mapped),
            ("Rows rejected", self.rows_rejected),
            ("Profiles created", self.profiles_created),
            ("Profiles updated", self.profiles_updated),
            ("Profiles unchanged", self.profiles_unchanged),
            ("Events written", self.events_written),
            ("Identity conflicts", self.identity_conflicts),
        ]


class RunAttempt(models.Model):
    """One execution of a run by one worker, with its own outcome and error."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, default=AttemptOutcome.RUNNING)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="sync_attempt_number")]

    def __str__(self) -> str:
        return f"Attempt {self.number} of run {self.run_id} ({self.outcome})"


def seconds_display(seconds: float) -> str:
    """Return a span of seconds as “1 h 2 min”, “3 min 4 s” or “5.2 s”."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


class RejectedRow(models.Model):
    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="rejected_rows")
    row_key = models.CharField(max_length=512)
    reason = models.TextField()
    values = models.JSONField(default=dict, blank=True)

    class Meta:
        # A resumed run re-reads the rows at its checkpoint: record each rejected row once.
        constraints = [models.UniqueConstraint(fields=["run", "row_key"], name="sync_rejected_once")]

    def __str__(self) -> str:
        return f"{self.row_key}: {self.reason}"


class IdentityConflictRecord(models.Model):
    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="identity_conflicts_list")
    row_key = models.CharField(max_length=512)
    identity_type = models.CharField(max_length=64)
    value = models.TextField()
    owner_mpid = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.identity_type} {self.value} belongs to {self.owner_mpid}"


class Checkpoint(models.Model):
    """The incremental watermark of a feed's main runs: the largest iterator value committed."""

    feed = models.OneToOneField(Feed, on_delete=models.CASCADE, related_name="checkpoint")
    iterator = models.CharField(max_length=200)
    iterator_type = models.CharField(max_length=40)
    value = models.JSONField(null=True, blank=True)  # encoded per the iterator kind (windows.py)
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # True while the first load, filtered by the Sync Start Date on the timestamp field, has not finished:
    # the runs that finish it keep the filter, so an interrupted first load ends as an uninterrupted one.
    initial_load = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.iterator} >= {self.value}"


class FeedSchedule(models.Model):
    """When the feed's next scheduled run is due (our own anchored clock; django-q only polls)."""

    feed = models.OneToOneField(Feed, on_delete=models.CASCADE, related_name="sync_schedule")
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_due_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"feed {self.feed_id} next at {self.next_run_at}"


class FingerprintBlock(models.Model):
    """Full mode: the digests of the rows one page wrote, filed under their keys, so unchanged rows are skipped.

    A digest covers the raw source row and the feed's mapping; a row whose digest is on file is neither
    mapped nor written. One row per page, not per source row: `keys` and `digests` are the page's 64-bit key
    hashes (sorted) and their digests, as little-endian int8 arrays (see feeds.sync.fingerprints). A run
    loads every block of its feed at once; of a key filed in several blocks the newest block's digest holds.
    """

    # Blocks are read by feed, newest last, through this index; the foreign key has no database check of
    # its own (deletes cascade through Django).
    feed = models.ForeignKey(
        Feed, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    keys = models.BinaryField()
    digests = models.BinaryField()
    count = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["feed", "id"], name="sync_fingerprint_block_feed")]

    def __str__(self) -> str:
        return f"feed {self.feed_id}: {self.count} fingerprints"
