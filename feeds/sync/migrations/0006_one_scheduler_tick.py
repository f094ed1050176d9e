"""One django-q2 Schedule (`wsync-tick`, every minute, all feeds) instead of one `wsync-feed-<id>` per feed.

The feeds' anchored clocks (FeedSchedule) are untouched, so due times, catch-up and start-date windows are
the same before and after. Backwards, each active feed gets its per-feed Schedule again.
"""

from django.db import migrations
from django.utils import timezone

TICK = "wsync-tick"


def to_one_tick(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Feed = apps.get_model("feeds", "Feed")
    Schedule.objects.filter(name__startswith="wsync-feed-", func="feeds.sync.tasks.tick_feed").delete()
    if Feed.objects.filter(state="active").exists() and not Schedule.objects.filter(name=TICK).exists():
        Schedule.objects.create(
            name=TICK,
            func="feeds.sync.tasks.tick",
            schedule_type="I",  # Schedule.MINUTES
            minutes=1,
            repeats=-1,
            next_run=timezone.now(),
        )


def to_one_per_feed(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Feed = apps.get_model("feeds", "Feed")
    Schedule.objects.filter(name=TICK).delete()
    for pk in Feed.objects.filter(state="active").values_list("pk", flat=True):
        Schedule.objects.update_or_create(
            name=f"wsync-feed-{pk}",
            defaults={
                "func": "feeds.sync.tasks.tick_feed",
                "args": repr((pk,)),
                "schedule_type": "I",
                "minutes": 1,
                "repeats": -1,
                "next_run": timezone.now(),
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0005_run_attempts_owed_windows_heartbeat"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
        ("feeds", "0001_initial"),
    ]

    operations = [migrations.RunPython(to_one_tick, to_one_per_feed)]
