"""A profile's attributes move from one row each into one JSON document on the profile."""

from django.db import migrations, models


def rows_to_documents(apps, schema_editor):
    Attribute = apps.get_model("profiles", "Attribute")
    Profile = apps.get_model("profiles", "Profile")
    documents: dict[int, dict] = {}
    for attribute in Attribute.objects.order_by("profile_id").iterator(chunk_size=5000):
        at = attribute.updated_at.isoformat() if attribute.updated_at else None
        documents.setdefault(attribute.profile_id, {})[attribute.name] = [
            attribute.value,
            attribute.feed_id,
            attribute.run_id,
            attribute.source_order,
            at,
        ]
    profiles = [Profile(id=pk, attributes=doc) for pk, doc in documents.items()]
    Profile.objects.bulk_update(profiles, ["attributes"], batch_size=1000)


def documents_to_rows(apps, schema_editor):
    Attribute = apps.get_model("profiles", "Attribute")
    Profile = apps.get_model("profiles", "Profile")
    rows = [
        Attribute(profile_id=p.id, name=name, value=v, feed_id=f, run_id=r, source_order=o or "")
        for p in Profile.objects.exclude(attributes={}).iterator(chunk_size=1000)
        for name, (v, f, r, o, _at) in p.attributes.items()
    ]
    Attribute.objects.bulk_create(rows, batch_size=5000)


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0002_write_path_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="attribute",
            name="profile",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=models.deletion.CASCADE,
                related_name="+",
                to="profiles.profile",
            ),
        ),
        migrations.AddField(
            model_name="profile",
            name="attributes",
            field=models.JSONField(default=dict),
        ),
        migrations.RunPython(rows_to_documents, documents_to_rows),
        migrations.DeleteModel(name="Attribute"),
    ]
