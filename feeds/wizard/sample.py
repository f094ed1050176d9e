"""The data model's first rows mapped as the wizard's edits say: what the Mapping step's preview, the
review step's sample profiles and the rule editor's preview all start from. Nothing is written."""

from __future__ import annotations

from feeds.mapping.pages import MappedPage, compile_mappings, map_page
from feeds.models import Feed
from feeds.warehouses.base import Page, WarehouseError
from feeds.warehouses.registry import open_warehouse
from feeds.wizard.draft import effective_feed, section_values
from feeds.wizard.staging import step_connection


def mapped_sample(feed: Feed, limit: int) -> MappedPage:
    """Return the model's first `limit` rows mapped (pending edits of a live feed included).

    Raises WarehouseError when there is no connection yet or the warehouse refuses the query.
    """
    connection = step_connection(feed)
    if connection is None:
        raise WarehouseError("Connect a warehouse first.", permanent=True)
    sql = section_values(feed, "model")["sql"]
    warehouse = open_warehouse(connection.provider, connection.warehouse_config())
    try:
        preview = warehouse.preview(sql, limit)
    finally:
        warehouse.close()
    page = Page(preview.columns, preview.rows)
    target = effective_feed(feed)
    compiled = compile_mappings(section_values(feed, "map")["mappings"], [c.name for c in page.columns])
    return map_page(
        page,
        compiled,
        feed_id=feed.pk,
        environment=target.environment,
        iterator=target.iterator or None,
        timezone=target.timezone,
    )
