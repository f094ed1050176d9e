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
