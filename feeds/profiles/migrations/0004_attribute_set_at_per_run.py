"""Attribute entries lose their own timestamp: when each run wrote its values is kept once per run (`set_at`)."""

from django.db import migrations, models


def split_stamps(apps, schema_editor):
    Profile = apps.get_model("profiles", "Profile")
    changed = []
    for profile in Profile.objects.exclude(attributes={}).iterator(chunk_size=2000):
        set_at: dict[str, str] = {}
        for name, (value, feed_id, run_id, order, at) in list(profile.attributes.items()):
            profile.attributes[name] = [value, feed_id, run_id, order]
            key = "" if run_id is None else str(run_id)
            if at and (key not in set_at or at > set_at[key]):
                set_at[key] = at
        profile.set_at = set_at
        changed.append(profile)
        if len(changed) >= 2000:
            Profile.objects.bulk_update(changed, ["attributes", "set_at"])
            changed = []
    Profile.objects.bulk_update(changed, ["attributes", "set_at"])


def join_stamps(apps, schema_editor):
    Profile = apps.get_model("profiles", "Profile")
    changed = []
    for profile in Profile.objects.exclude(attributes={}).iterator(chunk_size=2000):
        for name, (value, feed_id, run_id, order) in list(profile.attributes.items()):
            at = profile.set_at.get("" if run_id is None else str(run_id))
            profile.attributes[name] = [value, feed_id, run_id, order, at]
        changed.append(profile)
    Profile.objects.bulk_update(changed, ["attributes"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0003_attributes_document"),
    ]

    operations = [
        migrations.AddField(model_name="profile", name="set_at", field=models.JSONField(default=dict)),
        migrations.RunPython(split_stamps, join_stamps),
    ]
