"""The engine's fixtures (a real DuckDB warehouse, a feed over it, a failing read) for the operations tests."""

from tests.sync.conftest import fail_after, feed, warehouse  # noqa: F401
