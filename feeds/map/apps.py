from django.apps import AppConfig


class MapConfig(AppConfig):
    name = "feeds.map"
    label = "map"
