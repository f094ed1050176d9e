"""Liveness beats: the scheduler's last tick and the workers' last sign of life, kept in the database.

django-q2 keeps its own cluster statistics in the broker or a per-process cache, which a web process on
another host cannot always read; a row per beat can be read by every process (docs/operations.md).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Any

from django.db.models import Max
from django.utils import timezone

from feeds.ops.models import Beat
from feeds.sync.models import RunState, SyncRun
from feeds.tick import TICK_FUNC

WORKER, SCHEDULER = "worker", "scheduler"


def beat(name: str, at: datetime | None = None) -> None:
    """Record that `name` is alive now (or at `at`)."""
    Beat.objects.update_or_create(
        name=name, defaults={"at": at or timezone.now(), "detail": f"{socket.gethostname()}:{os.getpid()}"}
    )


def scheduler_ticked(task: dict[str, Any] | None = None, **_: object) -> None:
    """django-q2's pre_enqueue: the scheduler enqueueing the minute tick is its beat."""
    if task and task.get("func") == TICK_FUNC:
        beat(SCHEDULER)


def last(name: str) -> datetime | None:
    """Return when `name` last beat; a worker running a sync counts by that run's heartbeat too."""
    at = Beat.objects.filter(name=name).values_list("at", flat=True).first()
    if name == WORKER:
        # Workers busy with long syncs take no new task, but each running run sends its heartbeat.
        running = SyncRun.objects.filter(state=RunState.RUNNING).aggregate(at=Max("heartbeat_at"))["at"]
        at = max((t for t in (at, running) if t is not None), default=None)
    return at
