from __future__ import annotations

from django.apps import AppConfig


class OutputsConfig(AppConfig):
    name = "feeds.outputs"
    label = "outputs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from feeds.outputs.service import take_over_local

        # A worker that starts (also one replacing a killed worker) resumes the drains a dead worker held.
        post_spawn.connect(take_over_local, dispatch_uid="wsync-outputs-take-over")
