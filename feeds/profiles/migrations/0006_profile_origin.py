"""Profiles keep the lineage their first values share once (`origin`); such entries are stored as [value].

Forward adds the column only: every stored entry is still written in full, which stays valid with no origin.
Backward writes every entry in full again before the column goes, so no value loses its lineage.
"""

from django.db import migrations, models


def _unpack(document, origin):  # as feeds.profiles.models.unpack, frozen here
    feed_id, run_id, order = origin
    return {name: [e[0], feed_id, run_id, order] if len(e) == 1 else e for name, e in document.items()}


def write_entries_in_full(apps, schema_editor):
    Profile = apps.get_model("profiles", "Profile")
    changed = []
    for profile in Profile.objects.filter(origin__isnull=False).iterator(chunk_size=2000):
        if not profile.origin:  # JSON null: the profile had no values when it was created
            continue
        profile.attributes = _unpack(profile.attributes, profile.origin)
        changed.append(profile)
        if len(changed) >= 2000:
            Profile.objects.bulk_update(changed, ["attributes"])
            changed = []
    Profile.objects.bulk_update(changed, ["attributes"])


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0005_explorer_landing_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="origin",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunPython(migrations.RunPython.noop, write_entries_in_full),
    ]
