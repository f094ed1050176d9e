"""System checks for the warehouse settings: `manage.py check`, runserver, migrate and qcluster run them."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error


def duckdb_roots(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Refuse to start while an allowed DuckDB folder would let a data model reach wsync's keys."""
    from feeds.warehouses.duckdb import unsafe_roots

    return [Error(message, id="wsync.E101") for message in unsafe_roots()]


def private_hosts(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Refuse a WSYNC_ALLOW_PRIVATE_HOSTS list entry that is not a network, rather than fail on first use."""
    import ipaddress

    from django.conf import settings

    allowed = settings.WSYNC_ALLOW_PRIVATE_HOSTS
    errors = []
    for network in allowed if isinstance(allowed, list) else []:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"WSYNC_ALLOW_PRIVATE_HOSTS lists “{network}”, which is not a network. Give addresses or "
                    "networks such as 10.20.0.0/16, separated by commas, or 1 to allow every address.",
                    id="wsync.E102",
                )
            )
    return errors
