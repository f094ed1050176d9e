"""The engine's fixtures (a real DuckDB warehouse and a feed over it) for the operations tests."""

from tests.sync.conftest import feed, warehouse  # noqa: F401
