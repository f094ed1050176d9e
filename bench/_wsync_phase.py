"""One wsync store under benchmark (run by sync_bench.py with DATABASE_URL set or not): prints JSON results."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wsync_site.settings")
import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from _measure import measure  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from feeds.accounts.models import Workspace  # noqa: E402
from feeds.models import Connection, DataModel, Feed, FeedState, FieldTransformation, SyncMode  # noqa: E402
from feeds.sync import engine, service, windows  # noqa: E402
from feeds.sync.models import Checkpoint  # noqa: E402
from feeds.warehouses.base import IteratorKind  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_bench import MODEL, PG, SOURCE  # noqa: E402

STORE = "postgres" if connection.vendor == "postgresql" else "sqlite"
CHANGED = 10_000


def make_feed() -> Feed:
    from feeds.mapping import auto_mappings

    workspace = Workspace.objects.create(slug="bench", name="Bench")
    source = Connection.objects.create(
        workspace=workspace,
        slug="pg",
        name="PG",
        provider="postgres",
        config={
            "host": "127.0.0.1",
            "port": 5432,
            "database": SOURCE,
            "user": "postgres",
            "sslmode": "disable",
        },
        secrets={"password": ""},
    )
    columns = [c.strip() for c in MODEL.split("SELECT")[1].split("FROM")[0].split(",")]
    model = DataModel.objects.create(
        workspace=workspace, slug="users", name="Users", connection=source, sql=MODEL
    )
    mapping = FieldTransformation.objects.create(
        workspace=workspace,
        slug="map",
        name="Map",
        mappings=auto_mappings(columns, "user_attributes", "updated_at"),
    )
    return Feed.objects.create(
        workspace=workspace,
        slug="bench",
        name="Bench",
        connection=source,
        data_model=model,
        field_transformation=mapping,
        sync_mode=SyncMode.FULL,
        state=FeedState.ACTIVE,
        iterator="updated_at",
        iterator_type="timestamptz",
    )


def sync(feed: Feed, name: str) -> dict:
    run = service.request_run(feed, None)

    def step() -> int:
        engine.run(run.pk)
        run.refresh_from_db()
        if run.state != "succeeded":
            raise SystemExit(f"{name}: {run.state}: {run.error}")
        return run.rows_read

    result = measure(f"wsync {name} → {STORE} store", step)
    result["timings"] = run.timings
    result["counts"] = {k: v for k, v in run.count_items}
    return result


def change_rows() -> None:
    with psycopg.connect(PG + SOURCE, autocommit=True) as source:
        source.execute(
            "UPDATE users SET plan = 'changed', updated_at = now() WHERE customer_id IN "
            "(SELECT customer_id FROM users ORDER BY customer_id LIMIT %s)",
            [CHANGED],
        )


def main() -> None:
    call_command("migrate", verbosity=0)
    feed = make_feed()
    results = [sync(feed, "full sync, empty store"), sync(feed, "full re-sync, unchanged")]
    with psycopg.connect(PG + SOURCE) as source:
        high = source.execute("SELECT max(updated_at) FROM users").fetchone()[0]
    Feed.objects.filter(pk=feed.pk).update(sync_mode=SyncMode.INCREMENTAL)
    feed.refresh_from_db()
    Checkpoint.objects.update_or_create(
        feed=feed,
        defaults={
            "iterator": "updated_at",
            "iterator_type": "timestamptz",
            "value": windows.encode(windows.normalise(high, IteratorKind.TIMESTAMP, "UTC")),
        },
    )
    change_rows()
    results.append(sync(feed, f"incremental after {CHANGED} changed rows"))
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
