from django.apps import AppConfig


class ScheduleConfig(AppConfig):
    name = "feeds.schedule"
    label = "schedule"
