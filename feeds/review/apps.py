from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "feeds.review"
    label = "review"
