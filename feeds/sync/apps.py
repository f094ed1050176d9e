from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "feeds.sync"
    label = "sync"

    def ready(self) -> None:
        from feeds import tick
        from feeds.sync import queue, tasks

        tick.every_minute("sync", tasks.tick)
        # A worker that starts (a restarted cluster, a worker the cluster replaced after it died) takes
        # over at once the runs whose owner process on this host is gone, instead of waiting for the
        # heartbeat to go stale.
        tick.on_worker_start("sync", queue.take_over_local)
