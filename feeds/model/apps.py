from django.apps import AppConfig


class ModelConfig(AppConfig):
    name = "feeds.model"
    label = "model"
