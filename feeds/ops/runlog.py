"""Log lines for sync runs, from django-q2's signals (no hook in the engine needed).

pre_execute (in the worker): every line logged while a task runs carries its run, feed and workspace ids.
post_execute (in the cluster's monitor): one line for the run's end and one per step with its time.
"""

from __future__ import annotations

import logging
from typing import Any

from feeds.ops.logs import set_context

RUN_TASK = "feeds.sync.tasks.run_feed"
log = logging.getLogger("wsync.run")


def run_starts(task: dict[str, Any] | None = None, **_: object) -> None:
    """Set the log context for the task about to run; log the start of a sync run's attempt."""
    ids = _ids(task or {})
    set_context(**ids)
    if ids and (task or {}).get("func") == RUN_TASK:
        log.info("run %s: a worker takes it up", ids["run_id"])
    _worker_beat()


def run_ended(task: dict[str, Any] | None = None, **_: object) -> None:
    """Log the run's state and counters, then one line per step with the seconds it took."""
    if not task or task.get("func") != RUN_TASK:
        return
    from feeds.sync.models import SyncRun

    ids = _ids(task)
    run = SyncRun.objects.filter(pk=ids["run_id"]).first() if ids else None
    if run is None:
        return
    extra = {**ids, "state": run.state}
    log.info(
        "run %s: %s after attempt %s; rows read %s, rejected %s; profiles created %s, updated %s",
        run.pk, run.state, run.attempt, run.rows_read, run.rows_rejected, run.profiles_created,
        run.profiles_updated, extra=extra,
    )  # fmt: skip
    for step, seconds in (run.timings or {}).items():
        log.info(
            "run %s: step %s took %.3f s",
            run.pk,
            step,
            seconds,
            extra={**ids, "step": step, "seconds": seconds},
        )


def _ids(task: dict[str, Any]) -> dict[str, Any]:
    """Return the run/feed/workspace ids a sync run's task is about; {} for other tasks."""
    from feeds.sync.models import SyncRun

    args = task.get("args") or ()
    if not args or task.get("func") != RUN_TASK:
        return {}
    try:
        run = SyncRun.objects.filter(pk=args[0]).values("feed_id", "feed__workspace_id").first()
    except Exception:  # logging context must never stop a task
        logging.getLogger(__name__).warning("could not read a task's ids for the log", exc_info=True)
        return {}
    if run is None:
        return {}
    return {"run_id": args[0], "feed_id": run["feed_id"], "workspace_id": run["feed__workspace_id"]}


def _worker_beat() -> None:
    from feeds.ops import beats

    try:
        beats.beat(beats.WORKER)
    except Exception:  # a busy database must not stop the task; the next task beats again
        logging.getLogger(__name__).warning("could not record the worker's beat", exc_info=True)
