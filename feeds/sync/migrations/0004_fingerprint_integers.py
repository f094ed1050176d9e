"""Row fingerprints become two 64-bit integers (key hash, digest) instead of text.

The old fingerprints are dropped, not converted (the digests are computed differently): fingerprints only
save work, so each full-mode feed's next run writes its rows once more and files new ones.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0002_audit_entry"),
        ("sync", "0003_run_mode_total_estimate_initial_load"),
    ]

    operations = [
        migrations.DeleteModel(name="RowFingerprint"),
        migrations.CreateModel(
            name="RowFingerprint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key_hash", models.BigIntegerField()),
                ("digest", models.BigIntegerField()),
                (
                    "feed",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="feeds.feed",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("feed", "key_hash"), name="sync_fingerprint_key")
                ],
                "indexes": [models.Index(fields=["feed", "digest"], name="sync_fingerprint_digest")],
            },
        ),
    ]
