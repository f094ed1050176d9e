from django.apps import AppConfig
from django.core import checks


class ConnectConfig(AppConfig):
    name = "feeds.connect"
    label = "connect"

    def ready(self) -> None:
        from feeds.connect.checks import duckdb_roots, private_hosts

        checks.register(duckdb_roots)
        checks.register(private_hosts)
