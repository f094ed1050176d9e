import functools
import logging
from collections.abc import Callable

from django.apps import AppConfig

log = logging.getLogger(__name__)


def never_raising(receiver: Callable[..., object]) -> Callable[..., None]:
    """Wrap a django-q2 signal receiver so its exception is logged, not raised.

    django-q2 sends its signals with Signal.send: a receiver that raises would stop the scheduler from
    enqueueing the tick (pre_enqueue), end a worker before its task (pre_execute) or end the monitor
    that saves results (post_execute). A log line is never worth that.
    """

    @functools.wraps(receiver)
    def safe(**kwargs: object) -> None:
        try:
            receiver(**kwargs)
        except Exception:
            log.exception("the %s signal receiver failed", receiver.__name__)

    return safe


class OpsConfig(AppConfig):
    """Running wsync: health, metrics, alerts and logs (docs/operations.md)."""

    name = "feeds.ops"
    label = "ops"

    def ready(self) -> None:
        from django_q.signals import post_execute, pre_enqueue, pre_execute

        from feeds import tick
        from feeds.ops import beats, runlog, tasks

        # Last in the minute tick: the worker's beat, then the alert rules (over this minute's runs).
        tick.every_minute("ops", tasks.minute)
        # The scheduler enqueues the minute tick: that is its beat. A worker running the tick is its beat.
        # (Each wrapped receiver is held strongly: nothing else refers to the wrapper.)
        pre_enqueue.connect(
            never_raising(beats.scheduler_ticked), weak=False, dispatch_uid="wsync-ops-scheduler-tick"
        )
        # Every line a worker logs while it runs a sync carries the run, feed and workspace ids.
        pre_execute.connect(never_raising(runlog.run_starts), weak=False, dispatch_uid="wsync-ops-run-starts")
        post_execute.connect(never_raising(runlog.run_ended), weak=False, dispatch_uid="wsync-ops-run-ended")
