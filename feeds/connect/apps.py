from django.apps import AppConfig


class ConnectConfig(AppConfig):
    name = "feeds.connect"
    label = "connect"
