"""Attribute entries lose their own timestamp: when each run wrote its values is kept once per run (`set_at`)."""

from django.db import migrations, models


def _rewrite(apps, convert, fields):
    """Apply convert(profile) to every profile with attributes, saving `fields` 2,000 profiles at a time."""
    Profile = apps.get_model("profiles", "Profile")
    changed = []
    for profile in Profile.objects.exclude(attributes={}).iterator(chunk_size=2000):
        convert(profile)
        changed.append(profile)
        if len(changed) >= 2000:
            Profile.objects.bulk_update(changed, fields)
            changed = []
    Profile.objects.bulk_update(changed, fields)


def _run_key(run_id):
    return "" if run_id is None else str(run_id)  # as feeds.profiles.models.run_key, frozen here


def _split(profile):
    set_at: dict[str, str] = {}
    for name, (value, feed_id, run_id, order, at) in list(profile.attributes.items()):
        profile.attributes[name] = [value, feed_id, run_id, order]
        key = _run_key(run_id)
        if at and (key not in set_at or at > set_at[key]):
            set_at[key] = at
    profile.set_at = set_at


def _join(profile):
    for name, (value, feed_id, run_id, order) in list(profile.attributes.items()):
        profile.attributes[name] = [value, feed_id, run_id, order, profile.set_at.get(_run_key(run_id))]


def split_stamps(apps, schema_editor):
    _rewrite(apps, _split, ["attributes", "set_at"])


def join_stamps(apps, schema_editor):
    _rewrite(apps, _join, ["attributes"])


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0003_attributes_document"),
    ]

    operations = [
        migrations.AddField(model_name="profile", name="set_at", field=models.JSONField(default=dict)),
        migrations.RunPython(split_stamps, join_stamps),
    ]
