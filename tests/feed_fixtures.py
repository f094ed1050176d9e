"""A ready DuckDB-backed feed for page tests (created with the ORM, in the state a test needs)."""

from __future__ import annotations

import pytest

from feeds.demo import write_demo_warehouse
from feeds.models import Connection, DataModel, Feed, FeedState, FieldTransformation, Provider

USER_MAPPINGS = [
    {"mapping_type": "column", "source": "customer_id", "destination": "user_identities.customer_id"},
    {"mapping_type": "column", "source": "email", "destination": "user_identities.email"},
    {"mapping_type": "column", "source": "$unmapped", "destination": "user_attributes.*"},
]
USER_COLUMNS = [
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "plan",
    "lifetime_value",
    "country",
    "updated_at",
]


@pytest.fixture
def demo_warehouse(tmp_path, settings):
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path)]
    return write_demo_warehouse(tmp_path / "demo.duckdb", users=300, events=600)


@pytest.fixture
def active_feed(workspace, demo_warehouse):
    connection = Connection.objects.create(
        workspace=workspace,
        slug="demo",
        name="Demo",
        provider=Provider.DUCKDB,
        config={"path": str(demo_warehouse)},
    )
    sql = "SELECT * FROM users"
    model = DataModel.objects.create(
        workspace=workspace,
        slug="users",
        name="Users",
        connection=connection,
        sql=sql,
        columns_sql=sql,
        columns=[{"name": c, "type": "string", "warehouse_type": ""} for c in USER_COLUMNS],
    )
    mapping = FieldTransformation.objects.create(
        workspace=workspace, slug="users", name="Users", mappings=USER_MAPPINGS
    )
    return Feed.objects.create(
        workspace=workspace,
        slug="users",
        name="Users",
        connection=connection,
        data_model=model,
        field_transformation=mapping,
        state=FeedState.ACTIVE,
        iterator="updated_at",
        iterator_type="timestamptz",
    )
