from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    name = "feeds.profiles"
    label = "profiles"
