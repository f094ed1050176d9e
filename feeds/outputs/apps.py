from __future__ import annotations

from django.apps import AppConfig


class OutputsConfig(AppConfig):
    name = "feeds.outputs"
    label = "outputs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from feeds import tick
        from feeds.outputs import service, tasks

        tick.every_minute("outputs", tasks.tick)
        # A worker that starts (also one replacing a killed worker) resumes the drains a dead worker held.
        tick.on_worker_start("outputs", service.take_over_local)
