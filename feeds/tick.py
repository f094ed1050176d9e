"""wsync's one django-q2 Schedule, the minute tick, and what a worker process does when it starts.

ONE Schedule (`TICK`, every minute) calls `run`, which runs each app's minute step in the order of `ORDER`:
sync first (start the runs that are due), then outputs (drain what is due, prune), then ops last (the
worker's beat, then the alerts, which so see this minute's runs). Each step is isolated: one that raises is
logged and the next still runs, so a broken alert rule cannot stop scheduled syncs.

A worker process that starts (django-q2's `post_spawn`) calls `worker_started`: it makes sure the tick
exists and runs every app's start step (take over the runs and drains of a dead process on this host).
django's `Signal.send` lets a receiver's exception end the worker before it takes its first task, and the
cluster would then only replace it with another worker that fails the same way; so `worker_started` is
wsync's only `post_spawn` receiver and isolates every step.

The apps register their steps from their AppConfig.ready (`every_minute`, `on_worker_start`), so this
module imports none of them. See docs/sync.md ("The minute tick").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

log = logging.getLogger(__name__)

TICK = "wsync-tick"
TICK_FUNC = "feeds.tick.run"
ORDER = ("sync", "outputs", "ops")

Step = Callable[[], object]
_minute: dict[str, Step] = {}
_start: dict[str, Step] = {}


def every_minute(name: str, step: Step) -> None:
    """Register `name`'s minute step (again: replaces it, as AppConfig.ready may run twice)."""
    if name not in ORDER:
        raise ImproperlyConfigured(f"Minute step {name!r} has no place in feeds.tick.ORDER; add it there.")
    _minute[name] = step


def on_worker_start(name: str, step: Step) -> None:
    """Register a step every worker process runs when it starts (again: replaces it)."""
    _start[name] = step


def minute_steps() -> list[tuple[str, Step]]:
    """Return the registered minute steps in the order `run` runs them."""
    return [(name, _minute[name]) for name in ORDER if name in _minute]


def run() -> None:
    """The tick's task: every app's minute step, in order, each isolated from the others' failures."""
    _each("minute step", minute_steps())


def worker_started(**_: object) -> None:
    """django-q2's post_spawn: make sure the tick exists, then every app's start step; never raises."""
    _each("worker start step", [("tick schedule", ensure_tick), *_start.items()])


def _each(kind: str, steps: Iterable[tuple[str, Step]]) -> None:
    for name, step in steps:
        try:
            step()
        except Exception:  # the other steps still run; the next tick or worker start tries this one again
            log.exception("the %s %r failed; the others ran", kind, name)


def ensure_tick() -> None:
    """Create the tick's Schedule unless it exists, and never leave two of it.

    Called by every worker that starts, and when a feed is activated or an output connected. django-q2's
    Schedule.name is not unique, and worker processes that start together each check and create: a second
    copy would run the tick twice a minute. The lowest id is kept, so processes racing here all keep the
    same one.
    """
    from django_q.models import Schedule

    same = Schedule.objects.filter(name=TICK)
    if not same.exists():
        Schedule.objects.create(
            name=TICK,
            func=TICK_FUNC,
            schedule_type=Schedule.MINUTES,
            minutes=1,
            repeats=-1,
            next_run=timezone.now(),
        )
    keep = same.order_by("pk").values_list("pk", flat=True).first()
    same.exclude(pk=keep).delete()
