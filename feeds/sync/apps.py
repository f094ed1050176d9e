from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "feeds.sync"
    label = "sync"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from feeds.sync.queue import take_over_local

        # A worker that starts (a restarted cluster, a worker the cluster replaced after it died) takes
        # over at once the runs whose owner process on this host is gone, instead of waiting for the
        # heartbeat to go stale.
        post_spawn.connect(take_over_local, dispatch_uid="wsync-take-over-local")
