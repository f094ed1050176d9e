"""A feed on each SQL warehouse, through its real client and stand-in, syncs exactly and incrementally.

(DuckDB is covered by the rest of tests/sync.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from feeds.models import Feed
from feeds.profiles.models import Identity, Profile
from feeds.sync import service
from feeds.sync.models import RunState
from feeds.sync.tasks import run_feed
from tests.feed_fixtures import feed_on_warehouse

ROWS = [
    ("C1", "ada@example.com", "pro", "2026-03-01 10:00:00+00"),
    ("C2", "alan@example.com", "free", "2026-03-02 10:00:00+00"),
    ("C3", "grace@example.com", "free", "2026-03-02 10:00:00+00"),  # shares the boundary value
]


@dataclass
class Warehouse:
    provider: str
    config: dict[str, Any]
    run: Any  # runs setup SQL in the warehouse
    iterator: str
    iterator_type: str
    timestamp_type: str


@pytest.fixture(params=["snowflake", "bigquery", "postgres", "redshift"])
def warehouse(request) -> Warehouse:
    return request.getfixturevalue(f"_{request.param}_warehouse")


@pytest.fixture
def _snowflake_warehouse(snowflake_config, snowflake_sql):
    return Warehouse(
        "snowflake", snowflake_config, snowflake_sql, "UPDATED_AT", "timestamp_tz", "TIMESTAMP_TZ"
    )


@pytest.fixture
def _bigquery_warehouse(bigquery_config, bigquery_sql):
    return Warehouse("bigquery", bigquery_config, bigquery_sql, "updated_at", "timestamp", "TIMESTAMP")


def _psql(database):
    def run(sql: str) -> None:
        with database.admin() as connection:
            connection.execute(sql)
            connection.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {database.user}")

    return run


@pytest.fixture
def _postgres_warehouse(pg_database):
    config = pg_database.config()
    return Warehouse("postgres", config, _psql(pg_database), "updated_at", "timestamptz", "TIMESTAMPTZ")


@pytest.fixture
def _redshift_warehouse(redshift_database):
    return Warehouse(
        "redshift",
        redshift_database.config(),
        _psql(redshift_database.db),
        "updated_at",
        "timestamptz",
        "TIMESTAMPTZ",
    )


def _values(rows) -> str:
    return ", ".join(f"('{c}', '{e}', '{p}', TIMESTAMP '{t}')" for c, e, p, t in rows)


def _feed(workspace, warehouse: Warehouse) -> Feed:
    return _feed_on(workspace, warehouse, "SELECT customer_id, email, plan, updated_at FROM users")


def _feed_on(workspace, warehouse: Warehouse, sql: str) -> Feed:
    return feed_on_warehouse(
        workspace,
        warehouse.provider,
        warehouse.config,
        sql,
        iterator=warehouse.iterator,
        iterator_type=warehouse.iterator_type,
    )


def _sync(feed: Feed):
    run = service.request_run(feed, None)
    run_feed(run.pk)
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED, run.error
    return run


def _plans() -> dict[str, Any]:
    owners = dict(Identity.objects.filter(identity_type="customer_id").values_list("profile_id", "value"))
    plans = {}
    for profile in Profile.objects.all():
        for name, value in profile.attribute_values().items():
            if name.lower() == "plan":
                plans[owners[profile.pk]] = value
    return plans


@pytest.mark.django_db
def test_it_syncs_a_feed_from_each_warehouse_exactly_and_incrementally(workspace, warehouse):
    warehouse.run(
        f"CREATE TABLE users (customer_id VARCHAR(20), email VARCHAR(100), plan VARCHAR(20), "
        f"updated_at {warehouse.timestamp_type})"
    )
    warehouse.run(f"INSERT INTO users VALUES {_values(ROWS)}")
    feed = _feed(workspace, warehouse)

    first = _sync(feed)
    assert (first.rows_read, first.profiles_created) == (3, 3)
    assert _plans() == {"C1": "pro", "C2": "free", "C3": "free"}

    warehouse.run(
        f"INSERT INTO users VALUES {_values([('C4', 'ken@example.com', 'pro', '2026-03-03 09:00:00+00')])}"
    )
    warehouse.run(
        "UPDATE users SET plan = 'enterprise', updated_at = TIMESTAMP '2026-03-04 09:00:00+00' WHERE customer_id = 'C2'"
    )
    second = _sync(feed)
    # The closed start re-reads the boundary rows (C2 and C3 at the old watermark): nothing lost, no change twice.
    assert second.profiles_created == 1
    assert _plans() == {"C1": "pro", "C2": "enterprise", "C3": "free", "C4": "pro"}
    assert Identity.objects.filter(identity_type="email").count() == 4


@pytest.mark.django_db
def test_it_syncs_a_delta_sharing_table_from_the_historical_start(workspace, delta_sharing):
    from datetime import timedelta

    from tests.standins.delta_tables import BASE, USERS_ROWS

    warehouse = Warehouse("databricks", delta_sharing.config(), None, "updated_at", "timestamp", "")
    feed = _feed_on(workspace, warehouse, "crm.users")
    feed.from_time = BASE + timedelta(seconds=USERS_ROWS - 10)  # the last 11 users
    feed.save()
    first = _sync(feed)
    assert (first.rows_read, first.profiles_created) == (11, 11)
    emails = set(Identity.objects.filter(identity_type="email").values_list("value", flat=True))
    assert emails == {f"user{i}@example.com" for i in range(USERS_ROWS - 10, USERS_ROWS + 1)}
    second = _sync(feed)
    assert second.profiles_created == 0 and second.profiles_updated == 0


@pytest.mark.django_db
def test_it_reads_the_sync_start_date_on_the_timestamp_field_of_each_warehouse(workspace, warehouse):
    from datetime import UTC, datetime

    warehouse.run(
        f"CREATE TABLE users (customer_id VARCHAR(20), email VARCHAR(100), plan VARCHAR(20), "
        f"updated_at {warehouse.timestamp_type}, created_at {warehouse.timestamp_type})"
    )
    # C1 signed up before the start date but changed after it; C2 and C3 signed up after it.
    created = {"C1": "2026-01-05 10:00:00+00", "C2": "2026-02-10 10:00:00+00", "C3": "2026-02-11 10:00:00+00"}
    values = ", ".join(
        f"('{c}', '{e}', '{p}', TIMESTAMP '{t}', TIMESTAMP '{created[c]}')" for c, e, p, t in ROWS
    )
    warehouse.run(f"INSERT INTO users VALUES {values}")
    created_at = "CREATED_AT" if warehouse.provider == "snowflake" else "created_at"
    feed = _feed_on(
        workspace, warehouse, "SELECT customer_id, email, plan, updated_at, created_at FROM users"
    )
    feed.data_model.timestamp_field = created_at
    feed.data_model.save()
    feed.from_time = datetime(2026, 2, 1, tzinfo=UTC)  # before every updated_at: the iterator cannot tell
    feed.save()

    first = _sync(feed)
    assert first.rows_read == 2 and _plans() == {"C2": "free", "C3": "free"}


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_it_reads_the_sync_start_date_of_a_delta_sharing_table_on_its_timestamp_field(
    workspace, delta_sharing, mode
):
    from datetime import timedelta

    from tests.standins.delta_tables import BASE, USERS_ROWS

    # An integer iterator has no clock: only the timestamp field can carry the start date.
    warehouse = Warehouse("databricks", delta_sharing.config(), None, "id", "integer", "")
    feed = _feed_on(workspace, warehouse, "crm.users")
    feed.data_model.timestamp_field = "updated_at"
    feed.data_model.save()
    feed.from_time = BASE + timedelta(seconds=USERS_ROWS - 10)  # the last 11 users
    if mode == "full":
        feed.sync_mode, feed.iterator, feed.iterator_type = "full", "", ""
    feed.save()
    first = _sync(feed)
    assert (first.rows_read, first.profiles_created) == (11, 11)
