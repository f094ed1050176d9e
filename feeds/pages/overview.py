"""Read models for the feed pages: feeds grouped by provider, a feed's summary, rejected rows as CSV."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from feeds.accounts.models import Workspace
from feeds.models import Feed, FeedState, Provider
from feeds.sync.models import ACTIVE_STATES, FeedSchedule, RunKind, RunState, SyncRun

RECENT_RUNS = 20


@dataclass(frozen=True)
class ProviderGroup:
    provider: str
    label: str
    feeds: list[Feed]


def feeds_by_provider(workspace: Workspace) -> list[ProviderGroup]:
    """Return the workspace's feeds grouped by provider, each with its last run attached (two queries)."""
    feeds = list(
        Feed.objects.filter(workspace=workspace)
        .select_related("connection", "sync_schedule")
        .order_by("name")
    )
    last_runs = _last_runs([f.pk for f in feeds])
    groups: dict[str, list[Feed]] = {}
    for feed in feeds:
        feed.last_run = last_runs.get(feed.pk)  # type: ignore[attr-defined]
        provider = feed.connection.provider if feed.connection else "unconnected"
        groups.setdefault(provider, []).append(feed)
    labels = dict(Provider.choices) | {"unconnected": "Not connected yet"}
    # Providers by name; drafts that have no connection yet come last.
    order = sorted(groups, key=lambda p: (p == "unconnected", labels[p]))
    return [ProviderGroup(p, labels[p], groups[p]) for p in order]


def _last_runs(feed_ids: list[int]) -> dict[int, SyncRun]:
    latest: dict[int, SyncRun] = {}
    for run in SyncRun.objects.filter(feed_id__in=feed_ids).order_by("feed_id", "-pk"):
        latest.setdefault(run.feed_id, run)
    return latest


def feed_summary(feed: Feed) -> dict[str, Any]:
    """Return what the summary page shows besides the feed: recent runs, the active one, the checkpoint."""
    runs = list(SyncRun.objects.filter(feed=feed).order_by("-pk")[:RECENT_RUNS])
    active = next((r for r in runs if r.state in ("queued", "running")), None)
    schedule = FeedSchedule.objects.filter(feed=feed).first()
    return {
        "next_run_at": schedule.next_run_at if schedule and feed.state == FeedState.ACTIVE else None,
        "runs": runs,
        "active_run": active,
        "owed_windows": owed_windows(feed),
        "is_draft": feed.state == FeedState.DRAFT,
        "chart": run_chart(list(reversed(runs))),
    }


def owed_windows(feed: Feed) -> list[SyncRun]:
    """Return the historical windows not written yet: failed or cancelled ones, and those queued or running."""
    backfill = SyncRun.objects.filter(feed=feed, kind=RunKind.BACKFILL)
    return list(backfill.filter(Q(owed=True) | Q(state__in=ACTIVE_STATES)).order_by("window_from", "pk"))


def run_detail(run: SyncRun, feed: Feed) -> dict[str, Any]:
    """Return what the run page shows besides the run: its attempts and what happens next, in words."""
    attempts = list(run.attempts.all())
    return {
        "attempts": attempts,
        "outlook": run_outlook(run, feed, attempts),
        # Why a queued run starts again: its last attempt's worker stopped (or an admin stopped it).
        "worker_stopped": attempts[-1].error if run.state == RunState.QUEUED and _stopped(attempts) else "",
    }


def _stopped(attempts: list[Any]) -> bool:
    return bool(attempts) and attempts[-1].outcome == "stopped"


def run_outlook(run: SyncRun, feed: Feed, attempts: list[Any]) -> str:
    """Return what happens next to a queued (retrying) or failed run; one statement, never two that disagree."""
    if run.state == RunState.QUEUED and run.next_retry_at is not None:
        when = run.next_retry_at.strftime("%b %-d, %Y %H:%M")
        return f"Attempt {run.attempt} failed; wsync retries at {when} UTC. Run Sync starts the retry now."
    if run.state != RunState.FAILED:
        return ""
    if run.kind == RunKind.BACKFILL:
        return (
            "This historical window is still owed: the feed's next run (scheduled, Run Sync, or resuming "
            "the feed) reads it again"
            + (", once the problem above is fixed." if run.error_permanent else ".")
        )
    if run.error_permanent:
        return "Fix the problem above, then click Run Sync: the next run starts from the last checkpoint."
    tries = f"wsync tried {len(attempts)} times and stopped retrying. " if len(attempts) > 1 else ""
    return tries + "The next run, scheduled or Run Sync, starts from the last checkpoint."


def run_chart(runs: list[SyncRun], width: int = 600, height: int = 90) -> dict[str, Any]:
    """Return geometry for an inline SVG: bars of rows read per run and a line of run durations.

    Server-rendered, no chart library; each series is scaled to its own maximum.
    """
    finished = [r for r in runs if r.finished_at]
    if not finished:
        return {"bars": [], "width": width, "height": height}
    top_rows = max(r.rows_read or 0 for r in finished) or 1
    seconds = [r.duration.total_seconds() if r.duration else 0.0 for r in finished]
    top_seconds = max(seconds) or 1.0
    step = min(width / len(finished), 36)  # a lone run is a bar, not a wall
    usable = height - 20
    bars, points = [], []
    for i, run in enumerate(finished):
        bar_height = round((run.rows_read or 0) / top_rows * usable, 1)
        bars.append(
            {"x": round(i * step + 2, 1), "w": round(max(step - 4, 2), 1), "h": bar_height, "run": run}
        )
        bars[-1]["y"] = round(height - bar_height, 1)
        points.append(
            f"{round(i * step + step / 2, 1)},{round(height - seconds[i] / top_seconds * usable, 1)}"
        )
    return {
        "bars": bars,
        "line": " ".join(points),
        "width": width,
        "height": height,
        "top": top_rows,
        "top_seconds": round(top_seconds, 1),
    }


def rejected_rows_csv(run: SyncRun) -> Iterator[list[str]]:
    """Yield the header and one CSV row per rejected row of the run."""
    yield ["row_key", "reason", "values"]
    for row in run.rejected_rows.order_by("pk").iterator(chunk_size=2000):
        yield [row.row_key, row.reason, json.dumps(row.values, default=str)]
