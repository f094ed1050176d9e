"""Migration feeds 0005: a live feed's pending Mapping edits move from the key `mapping` to `map` and back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from feeds import wizard
from feeds.models import Feed

BEFORE, AFTER = ("feeds", "0004_deleted_feed_and_live_feed_names"), ("feeds", "0005_pending_changes_map_key")


def migrate(*targets: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(list(targets))


@pytest.mark.django_db(transaction=True)
def test_pending_mapping_edits_move_to_the_map_key_and_back(draft):
    mappings = [{"source": "email", "target": "user_identities.email"}]
    schedule = {"frequency": "daily"}
    try:
        migrate(BEFORE)
        Feed.objects.filter(pk=draft.pk).update(
            pending_changes={"mapping": {"mappings": mappings}, "schedule": schedule}
        )
        migrate(AFTER)
        moved = Feed.objects.get(pk=draft.pk)
        assert moved.pending_changes == {"map": {"mappings": mappings}, "schedule": schedule}
        assert wizard.section_values(moved, "map")["mappings"] == mappings  # the wizard reads them there
        migrate(BEFORE)
        back = Feed.objects.get(pk=draft.pk).pending_changes
        assert back == {"mapping": {"mappings": mappings}, "schedule": schedule}
    finally:
        migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())
