"""System checks for the warehouse settings: `manage.py check`, runserver, migrate and qcluster run them."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error


def duckdb_roots(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Refuse to start while an allowed DuckDB folder would let a data model reach wsync's keys."""
    from feeds.warehouses.duckdb import unsafe_roots

    return [Error(message, id="wsync.E101") for message in unsafe_roots()]
