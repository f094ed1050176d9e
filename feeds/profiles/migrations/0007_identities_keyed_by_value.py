"""Identities keyed by what they are, and held on the profile row (docs/store.md, "Floors").

The identity table's primary key becomes (workspace, environment, identity type, value): no surrogate id and
no (profile, type) index. Each profile gains `identities`, its {type: value} document, filled from its rows.
Django cannot alter a primary key into a composite one in place, so the rows move to a new table, the old one
is dropped and the new one takes its name. Backward, the rows move into the old shape again (new ids).
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

COLUMNS = "workspace_id, environment, identity_type, value, profile_id, feed_id, created_at"


def fill_documents(apps, schema_editor):
    """Give each profile its identities document, from its identity rows (one statement)."""
    if schema_editor.connection.vendor == "postgresql":
        sql = (
            "UPDATE profiles_profile AS p SET identities = d.doc FROM (SELECT profile_id, "
            "jsonb_object_agg(identity_type, value) AS doc FROM profiles_identity GROUP BY profile_id) AS d "
            "WHERE p.id = d.profile_id"
        )
    else:
        sql = (
            "UPDATE profiles_profile SET identities = (SELECT json_group_object(identity_type, value) "
            "FROM profiles_identity WHERE profile_id = profiles_profile.id) "
            "WHERE id IN (SELECT profile_id FROM profiles_identity)"
        )
    schema_editor.execute(sql)


def copy_rows(source: str, target: str):
    def copy(apps, schema_editor):
        # In the new key's order: each leaf page of the target's index is written once.
        schema_editor.execute(
            f"INSERT INTO {target} ({COLUMNS}) SELECT {COLUMNS} FROM {source} "
            "ORDER BY workspace_id, environment, identity_type, value"
        )

    return copy


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("feeds", "0003_feed_until_time"),
        ("profiles", "0006_profile_origin"),
    ]

    operations = [
        # The profile's `identities` is now its document: the rows' reverse accessor gives the name up.
        migrations.AlterField(
            model_name="identity",
            name="profile",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="profiles.profile",
            ),
        ),
        migrations.AddField(model_name="profile", name="identities", field=models.JSONField(default=dict)),
        migrations.RunPython(fill_documents, migrations.RunPython.noop),
        migrations.CreateModel(
            name="IdentityKeyed",
            fields=[
                ("pk", models.CompositePrimaryKey("workspace_id", "environment", "identity_type", "value", blank=True, editable=False, primary_key=True, serialize=False)),
                ("environment", models.CharField(choices=[("production", "Prod"), ("development", "Dev")], max_length=16)),
                ("identity_type", models.CharField(max_length=40)),
                ("value", models.CharField(max_length=512)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("feed", models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="feeds.feed")),
                ("profile", models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="profiles.profile")),
                ("workspace", models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.workspace")),
            ],
        ),
        migrations.RunPython(
            copy_rows("profiles_identity", "profiles_identitykeyed"),
            copy_rows("profiles_identitykeyed", "profiles_identity"),
        ),
        migrations.DeleteModel(name="Identity"),
        migrations.RenameModel(old_name="IdentityKeyed", new_name="Identity"),
    ]
