"""Read models for the feed pages: feeds grouped by provider, a feed's summary, rejected rows as CSV."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Subquery

from feeds.accounts.models import Workspace
from feeds.models import Feed, FeedState, Provider
from feeds.sync.models import ACTIVE_STATES, FeedSchedule, RunKind, RunState, SyncRun
from feeds.sync.service import owed_windows

RECENT_RUNS = 20


@dataclass(frozen=True)
class ProviderGroup:
    provider: str
    label: str
    feeds: list[Feed]


def feeds_by_provider(workspace: Workspace, name_contains: str = "") -> list[ProviderGroup]:
    """Return the workspace's feeds grouped by provider, each with its last run and loading history (3 queries).

    `name_contains` keeps the feeds whose name contains it (any case), for the list's filter.
    """
    feeds = list(
        Feed.objects.filter(workspace=workspace, name__icontains=name_contains)
        .select_related("connection", "sync_schedule", "rule_set")
        .order_by("name")
    )
    ids = [f.pk for f in feeds]
    last_runs = _last_runs(ids)
    loading = _history_loading(ids)
    groups: dict[str, list[Feed]] = {}
    for feed in feeds:
        feed.last_run = last_runs.get(feed.pk)  # type: ignore[attr-defined]
        feed.history_loading = loading.get(feed.pk, 0)  # type: ignore[attr-defined]
        provider = feed.connection.provider if feed.connection else "unconnected"
        groups.setdefault(provider, []).append(feed)
    labels = dict(Provider.choices) | {"unconnected": "Not connected yet"}
    # Providers by name; drafts that have no connection yet come last.
    order = sorted(groups, key=lambda p: (p == "unconnected", labels[p]))
    return [ProviderGroup(p, labels[p], groups[p]) for p in order]


def has_feeds(workspace: Workspace) -> bool:
    """Return whether the workspace has any feed (a filter that matches none is not an empty workspace)."""
    return Feed.objects.filter(workspace=workspace).exists()


def _last_runs(feed_ids: list[int]) -> dict[int, SyncRun]:
    """Return each feed's newest run (one query, one index probe per feed, whatever the number of runs).

    A feed's run numbers grow with its runs (numbered under the feed's lock), so its newest run has the
    highest number, which the unique (feed, number) index finds without reading the feed's other runs.
    """
    newest = SyncRun.objects.filter(feed_id=OuterRef("feed_id")).order_by("-number").values("number")[:1]
    runs = SyncRun.objects.filter(feed_id__in=feed_ids, number=Subquery(newest))
    return {run.feed_id: run for run in runs}


def _history_loading(feed_ids: list[int]) -> dict[int, int]:
    """Return, per feed, how many historical windows are queued or running.

    While they are, the feed's latest main run (which starts where the history ends) says little:
    "Succeeded · 0 rows" would read as an empty warehouse.
    """
    windows = SyncRun.objects.filter(feed_id__in=feed_ids, kind=RunKind.BACKFILL, state__in=ACTIVE_STATES)
    return dict(windows.values("feed_id").annotate(n=Count("pk")).values_list("feed_id", "n"))


def feed_summary(feed: Feed) -> dict[str, Any]:
    """Return what the summary page shows besides the feed: recent runs, the active one, the checkpoint."""
    runs = list(SyncRun.objects.filter(feed=feed).order_by("-pk")[:RECENT_RUNS])
    active = next((r for r in runs if r.state in ("queued", "running")), None)
    try:
        schedule: FeedSchedule | None = feed.sync_schedule
    except FeedSchedule.DoesNotExist:
        schedule = None
    return {
        "next_run_at": schedule.next_run_at if schedule and feed.state == FeedState.ACTIVE else None,
        "runs": runs,
        "active_run": active,
        "owed_windows": owed_windows(feed),
        "is_draft": feed.state == FeedState.DRAFT,
        "chart": run_chart(list(reversed(runs))),
    }


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


def run_chart(runs: list[SyncRun], height: int = 90, slot: int = 36, most: int = 600) -> dict[str, Any]:
    """Return geometry for an inline SVG: bars of rows read per run and a point per run's duration.

    Server-rendered, no chart library; each series is scaled to its own maximum. The drawing is as
    wide as its runs need (`slot` pixels each, `most` at most) and starts at the left edge, so a lone
    bar sits next to the legend; a run's bar and its duration point share one x (the slot's middle).
    """
    finished = [r for r in runs if r.finished_at]
    if not finished:
        return {"bars": [], "points": [], "width": slot, "height": height}
    top_rows = max(r.rows_read or 0 for r in finished) or 1
    seconds = [r.duration.total_seconds() if r.duration else 0.0 for r in finished]
    top_seconds = max(seconds) or 1.0
    step = min(most / len(finished), slot)
    usable = height - 8  # room for a point at the top
    bars, points = [], []
    for i, run in enumerate(finished):
        bar_height = round((run.rows_read or 0) / top_rows * usable, 1)
        middle = round(i * step + step / 2, 1)
        width = round(max(step - 6, 2), 1)
        bars.append(
            {
                "x": round(middle - width / 2, 1),
                "w": width,
                "h": bar_height,
                "y": round(height - bar_height, 1),
                "run": run,
            }
        )
        points.append(
            {"x": middle, "y": round(height - 4 - seconds[i] / top_seconds * usable, 1), "run": run}
        )
    return {
        "bars": bars,
        "points": points,
        "line": " ".join(f"{p['x']},{p['y']}" for p in points),
        "width": round(step * len(finished), 1),
        "height": height,
        "top": top_rows,
        "top_seconds": round(top_seconds, 1),
    }


def rejected_rows_csv(run: SyncRun) -> Iterator[list[str]]:
    """Yield the header and one CSV row per rejected row of the run."""
    yield ["row_key", "reason", "values"]
    for row in run.rejected_rows.order_by("pk").iterator(chunk_size=2000):
        yield [row.row_key, row.reason, json.dumps(row.values, default=str)]
