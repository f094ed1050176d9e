from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "feeds.api"
    label = "api"

    def ready(self) -> None:
        # Connects the receiver that revokes a deleted user's credentials (wherever the user is deleted).
        from feeds.api import credentials  # noqa: F401
