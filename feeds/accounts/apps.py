from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "feeds.accounts"
    label = "accounts"
