"""How far an incremental run has got through its window: the data interval committed, the rows a resumed
attempt reads again, and the feed's checkpoint (docs/sync.md, "Resuming counts each row once").

Pages are read in iterator order, so the largest value committed is where a stopped attempt resumes; the
rows at that value that were committed before count as re-read, not as read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from feeds.models import Feed
from feeds.sync import windows
from feeds.sync.models import Checkpoint, SyncRun
from feeds.warehouses.base import IteratorKind, Page, Since


@dataclass
class Bounds:
    """A page's iterator values: smallest, largest, how many rows have the largest, and how many are re-read."""

    low: Any
    high: Any
    at_high: int
    reread: int  # rows a resumed attempt read again: below the value it resumes at, and the first ones at it
    reread_at_resume: int = 0  # of those, the ones at the value it resumes at


@dataclass
class Progress:
    """An incremental run's progress, as saved on the run (`data_bounds`) with each page it commits."""

    kind: IteratorKind | None  # None for a full run, which has no progress of this kind
    moves_checkpoint: bool  # main runs move the feed's checkpoint; backfill windows do not
    checkpoint: Any = None  # the feed's checkpoint value as this run leaves it
    since: Since | None = None  # the Sync Start Date filter a main run carries (its first load)
    data_min: Any = None
    data_max: Any = None
    at_max: int = 0  # committed rows whose iterator value is data_max
    # A resumed attempt: the value it resumes at (the last attempt's data_max, read again inclusive)
    # and how many rows at that value were committed before.
    resume_at: Any = None
    reread_left: int = 0

    @classmethod
    def of(cls, sync_run: SyncRun, kind: IteratorKind | None, *, moves_checkpoint: bool) -> Progress:
        """Return the run's progress as its last attempt committed it (a first attempt starts empty)."""
        saved = sync_run.data_bounds or {}
        progress = cls(kind, moves_checkpoint)
        if kind is None:
            return progress
        progress.data_min = windows.decode(saved.get("min"), kind)
        progress.data_max = windows.decode(saved.get("max"), kind)
        progress.at_max = int(saved.get("at_max") or 0)
        if sync_run.attempt > 1 and progress.data_max is not None:
            progress.resume_at, progress.reread_left = progress.data_max, progress.at_max
        return progress

    def bounds(self, page: Page, iterator: str, zone: str) -> Bounds | None:
        """Return the page's iterator bounds, taking the page's re-read rows off those still to come."""
        if self.kind is None:
            return None
        index = page.column_index(iterator)
        kind = self.kind
        seen = [v for v in (windows.normalise(row[index], kind, zone) for row in page.rows) if v is not None]
        if not seen:
            return None
        high = max(seen)
        # The first rows at the value a resumed attempt starts at, as many as were committed before it, and
        # (a main run re-reads its lookback) the rows below that value, which the attempt before committed.
        at_resume = min(self.reread_left, seen.count(self.resume_at)) if self.reread_left else 0
        self.reread_left -= at_resume
        below = sum(1 for v in seen if v < self.resume_at) if self.resume_at is not None else 0
        return Bounds(min(seen), high, seen.count(high), below + at_resume, at_resume)

    def advance(self, feed: Feed, sync_run: SyncRun, bounds: Bounds | None) -> None:
        """Move the data interval seen and (for main runs) the checkpoint to the page's largest value.

        Runs inside the page's transaction: the checkpoint commits with the page's rows.
        """
        if bounds is None:
            return
        low, high = bounds.low, bounds.high
        self.data_min = low if self.data_min is None else min(self.data_min, low)
        if self.data_max is None or high > self.data_max:
            self.data_max, self.at_max = high, bounds.at_high
        elif high == self.data_max:
            # Re-read rows at the resume value were counted in at_max by the attempt that first read them.
            self.at_max += bounds.at_high - (bounds.reread_at_resume if high == self.resume_at else 0)
        if not self.moves_checkpoint or (self.checkpoint is not None and high <= self.checkpoint):
            return
        self.checkpoint = high
        Checkpoint.objects.update_or_create(
            feed=feed,
            defaults={
                "iterator": feed.iterator,
                "iterator_type": feed.iterator_type,
                "value": windows.encode(high),
                "run": sync_run,
                "initial_load": self.since is not None,
            },
        )

    def run_fields(self) -> dict[str, Any]:
        """Return the SyncRun fields that record the progress."""
        return {
            "data_bounds": {
                "min": windows.encode(self.data_min),
                "max": windows.encode(self.data_max),
                "at_max": self.at_max,
            },
            "data_from": windows.display(self.data_min),
            "data_to": windows.display(self.data_max),
        }
