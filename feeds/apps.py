from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "feeds"
    label = "feeds"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from feeds import tick

        # wsync's only post_spawn receiver: it runs every app's start step, each isolated (feeds/tick.py).
        post_spawn.connect(tick.worker_started, dispatch_uid="wsync-worker-started")
