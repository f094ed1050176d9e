"""Row fingerprints are filed in blocks (one row per page, two packed int8 arrays) instead of one row each.

Forward, each feed's fingerprints become blocks of up to 65,536, sorted by key hash; backward, each feed's
blocks become one row per key again (the newest block's digest of a key). Either way no full-mode feed has
to write its rows again. Both directions work through a feed's fingerprints in bounded slices.
"""

import django.db.models.deletion
import numpy as np
from django.db import migrations, models

INT8 = np.dtype("<i8")  # the blocks' byte order (feeds.sync.fingerprints.INT8), fixed here as it was
BLOCK = 65_536


def rows_to_blocks(apps, schema_editor):
    rows, blocks = apps.get_model("sync", "RowFingerprint"), apps.get_model("sync", "FingerprintBlock")
    for feed_id in rows.objects.values_list("feed_id", flat=True).distinct().order_by("feed_id"):
        last = None
        while True:
            chunk = rows.objects.filter(feed_id=feed_id).order_by("key_hash")
            if last is not None:
                chunk = chunk.filter(key_hash__gt=last)
            pairs = list(chunk.values_list("key_hash", "digest")[:BLOCK])
            if not pairs:
                break
            keys, digests = np.array(pairs, dtype=np.int64).T
            blocks.objects.create(
                feed_id=feed_id,
                keys=keys.astype(INT8).tobytes(),
                digests=digests.astype(INT8).tobytes(),
                count=len(pairs),
            )
            last = pairs[-1][0]


def blocks_to_rows(apps, schema_editor):
    rows, blocks = apps.get_model("sync", "RowFingerprint"), apps.get_model("sync", "FingerprintBlock")
    for feed_id in blocks.objects.values_list("feed_id", flat=True).distinct().order_by("feed_id"):
        filed: dict[int, int] = {}
        # Oldest block first, so a key's later digest replaces its earlier one. A feed's fingerprints fit in
        # memory by design (WSYNC_FINGERPRINTS_IN_MEMORY); the rows are written in slices.
        for block in blocks.objects.filter(feed_id=feed_id).order_by("id").iterator(chunk_size=16):
            keys = np.frombuffer(bytes(block.keys), dtype=INT8).tolist()
            digests = np.frombuffer(bytes(block.digests), dtype=INT8).tolist()
            filed.update(zip(keys, digests, strict=True))
        items = sorted(filed.items())
        for start in range(0, len(items), BLOCK):
            rows.objects.bulk_create(
                [rows(feed_id=feed_id, key_hash=k, digest=d) for k, d in items[start : start + BLOCK]],
                batch_size=5000,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0003_feed_until_time"),
        ("sync", "0008_one_tick_for_every_minute_step"),
    ]

    operations = [
        migrations.CreateModel(
            name="FingerprintBlock",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("keys", models.BinaryField()),
                ("digests", models.BinaryField()),
                ("count", models.IntegerField()),
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
                "indexes": [models.Index(fields=["feed", "id"], name="sync_fingerprint_block_feed")],
            },
        ),
        migrations.RunPython(rows_to_blocks, blocks_to_rows),
        migrations.DeleteModel(name="RowFingerprint"),
    ]
