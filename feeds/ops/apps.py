from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running wsync: health, metrics, alerts and logs (docs/operations.md)."""

    name = "feeds.ops"
    label = "ops"

    def ready(self) -> None:
        from django_q.signals import post_execute, post_spawn, pre_enqueue, pre_execute

        from feeds.ops import beats, runlog

        # A worker that starts makes sure the minute Schedule exists (created once, by name).
        post_spawn.connect(beats.ensure_schedule, dispatch_uid="wsync-ops-minute-schedule")
        # The scheduler enqueues the minute task: that is its tick. A worker executing it is its heartbeat.
        pre_enqueue.connect(beats.scheduler_ticked, dispatch_uid="wsync-ops-scheduler-tick")
        # Every line a worker logs while it runs a sync carries the run, feed and workspace ids.
        pre_execute.connect(runlog.run_starts, dispatch_uid="wsync-ops-run-starts")
        post_execute.connect(runlog.run_ended, dispatch_uid="wsync-ops-run-ended")
