from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "feeds"
    label = "feeds"
