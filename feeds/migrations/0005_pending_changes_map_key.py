"""A live feed's pending Mapping edits are stored under the map step's key, `map`, not `mapping`.

The mapping step is `map` everywhere else (its app, URL namespace and wizard step), so its section in
Feed.pending_changes takes the same name. Backwards, the key is `mapping` again.
"""

from django.db import migrations


def _rename(apps, old, new):
    Feed = apps.get_model("feeds", "Feed")
    for feed in Feed.objects.filter(pending_changes__has_key=old).only("pk", "pending_changes"):
        pending = feed.pending_changes
        pending[new] = {**pending.get(new, {}), **pending.pop(old)}
        Feed.objects.filter(pk=feed.pk).update(pending_changes=pending)


def to_map(apps, schema_editor):
    _rename(apps, "mapping", "map")


def to_mapping(apps, schema_editor):
    _rename(apps, "map", "mapping")


class Migration(migrations.Migration):
    dependencies = [("feeds", "0004_deleted_feed_and_live_feed_names")]

    operations = [migrations.RunPython(to_map, to_mapping)]
