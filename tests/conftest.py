"""Shared fixtures: personas, and the warehouse stand-ins (each a plugin module in tests/standins)."""

pytest_plugins = [
    "tests.personas",
    "tests.feed_fixtures",
    "tests.browser.chromium",
    "tests.standins.snowflake",
    "tests.standins.bigquery",
    "tests.standins.redshift",
    "tests.standins.delta_sharing",
    "tests.standins.fake_postgres",
    "tests.standins.outputs_http",
]


def pytest_collection_modifyitems(config, items):
    """Leave out the tests of PostgreSQL's concurrency (marked postgres_store) when the store is SQLite.

    They are deselected, not skipped: scripts/test.sh runs them in its PostgreSQL pass, where they apply.
    SQLite has one writer at a time, so there is no race of that kind to test.
    """
    from django.conf import settings

    if "postgresql" in settings.DATABASES["default"]["ENGINE"]:
        return
    kept = [item for item in items if item.get_closest_marker("postgres_store") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
