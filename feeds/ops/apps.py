from django.apps import AppConfig


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
        pre_enqueue.connect(beats.scheduler_ticked, dispatch_uid="wsync-ops-scheduler-tick")
        # Every line a worker logs while it runs a sync carries the run, feed and workspace ids.
        pre_execute.connect(runlog.run_starts, dispatch_uid="wsync-ops-run-starts")
        post_execute.connect(runlog.run_ended, dispatch_uid="wsync-ops-run-ended")
