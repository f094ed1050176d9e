from __future__ import annotations

from django.apps import AppConfig


class OutputsConfig(AppConfig):
    name = "feeds.outputs"
    label = "outputs"
    default_auto_field = "django.db.models.BigAutoField"
