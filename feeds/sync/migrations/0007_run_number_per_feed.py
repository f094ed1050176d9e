"""Runs are numbered per feed (#1, #2, ...): existing runs get their numbers in the order they were made."""

from django.db import migrations, models


def number_existing_runs(apps, schema_editor):
    SyncRun = apps.get_model("sync", "SyncRun")
    numbered = []
    last: dict[int, int] = {}
    for run in SyncRun.objects.order_by("feed_id", "pk").only("pk", "feed_id").iterator(chunk_size=2000):
        last[run.feed_id] = last.get(run.feed_id, 0) + 1
        run.number = last[run.feed_id]
        numbered.append(run)
        if len(numbered) >= 2000:
            SyncRun.objects.bulk_update(numbered, ["number"])
            numbered = []
    SyncRun.objects.bulk_update(numbered, ["number"])


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0006_one_scheduler_tick"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncrun",
            name="number",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(number_existing_runs, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="syncrun",
            constraint=models.UniqueConstraint(fields=("feed", "number"), name="sync_run_number_per_feed"),
        ),
    ]
