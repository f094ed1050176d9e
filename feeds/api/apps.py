from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "feeds.api"
    label = "api"
