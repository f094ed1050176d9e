"""The one feed builder of the tests (a feed with its data model and mapping, made with the ORM), and a ready
DuckDB-backed feed for page tests."""

from __future__ import annotations

from typing import Any

import pytest

from feeds.accounts.models import Workspace
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


def build_feed(
    workspace: Workspace,
    connection: Connection,
    *,
    sql: str,
    columns: list[dict[str, Any]] | None = None,
    mappings: list[dict[str, Any]] | None = None,
    slug: str = "users",
    name: str = "Users",
    **fields: Any,
) -> Feed:
    """Return a feed over `sql` on `connection`, its data model and mapping named after it.

    The model's columns are taken as read for `sql`; `fields` are the feed's own (state, sync mode, ...).
    """
    model = DataModel.objects.create(
        workspace=workspace,
        slug=slug,
        name=name,
        connection=connection,
        sql=sql,
        columns_sql=sql,
        columns=columns or [],
    )
    mapping = FieldTransformation.objects.create(
        workspace=workspace, slug=slug, name=name, mappings=mappings or []
    )
    return Feed.objects.create(
        workspace=workspace,
        slug=slug,
        name=name,
        connection=connection,
        data_model=model,
        field_transformation=mapping,
        **fields,
    )


def feed_on_warehouse(
    workspace: Workspace,
    provider: str,
    config: dict[str, Any],
    sql: str,
    *,
    iterator: str = "",
    **fields: Any,
) -> Feed:
    """Return an active user-attributes feed over `sql` on a connection to a warehouse (a stand-in), every
    column mapped by the wizard's automatic mapping; `config` holds settings and secrets together."""
    from feeds.mapping.rules import auto_mappings
    from feeds.warehouses.base import secret_fields
    from feeds.warehouses.registry import open_warehouse, provider_class

    secret = secret_fields(provider_class(provider).fields)
    connection = Connection.objects.create(
        workspace=workspace,
        slug="wh",
        name="Warehouse",
        provider=provider,
        config={k: v for k, v in config.items() if k not in secret},
        secrets={k: v for k, v in config.items() if k in secret},
    )
    columns = open_warehouse(provider, connection.warehouse_config()).describe(sql)
    return build_feed(
        workspace,
        connection,
        sql=sql,
        columns=[{"name": c.name, "type": c.type.value, "warehouse_type": c.warehouse_type} for c in columns],
        mappings=auto_mappings([c.name for c in columns], "user_attributes", iterator),
        state=FeedState.ACTIVE,
        iterator=iterator,
        **fields,
    )


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
    return build_feed(
        workspace,
        connection,
        sql="SELECT * FROM users",
        columns=[{"name": c, "type": "string", "warehouse_type": ""} for c in USER_COLUMNS],
        mappings=USER_MAPPINGS,
        state=FeedState.ACTIVE,
        iterator="updated_at",
        iterator_type="timestamptz",
    )
