"""One django-q2 Schedule, `wsync-tick` → `feeds.tick.run`, instead of three minute Schedules.

Before: `wsync-tick` (the sync step, created when a feed was activated), `wsync-outputs-tick` (created when
an output was connected) and `wsync-ops-minute` (created by every worker that started). After: one tick
that runs the three steps in order, each isolated (feeds/tick.py); it always exists, because the ops step
(the worker's beat, alerts) has work every minute. Backwards, the three come back as the old code made them.
"""

from django.db import migrations
from django.utils import timezone

TICK = "wsync-tick"
OUTPUTS_TICK = "wsync-outputs-tick"
OPS_MINUTE = "wsync-ops-minute"


def _minute(Schedule, name, func):
    Schedule.objects.create(
        name=name, func=func, schedule_type="I", minutes=1, repeats=-1, next_run=timezone.now()
    )


def to_one_tick(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=[TICK, OUTPUTS_TICK, OPS_MINUTE]).delete()
    _minute(Schedule, TICK, "feeds.tick.run")


def to_three_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=[TICK, OUTPUTS_TICK, OPS_MINUTE]).delete()
    if apps.get_model("feeds", "Feed").objects.filter(state="active").exists():
        _minute(Schedule, TICK, "feeds.sync.tasks.tick")
    if apps.get_model("outputs", "FeedOutput").objects.exists():
        _minute(Schedule, OUTPUTS_TICK, "feeds.outputs.tasks.tick")
    _minute(Schedule, OPS_MINUTE, "feeds.ops.tasks.minute")


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0007_run_number_per_feed"),
        ("outputs", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(to_one_tick, to_three_schedules)]
