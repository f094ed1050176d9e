from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The feed pages (list, summary, runs, actions); no models, templates stay under templates/feeds/."""

    name = "feeds.pages"
    label = "pages"
