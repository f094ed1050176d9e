from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "feeds.sync"
    label = "sync"
