"""The Django side of load_bench.py, run in its own process: set up users and feeds, run a sync and time it.

python bench/_load_setup.py setup ROWS USERS PASSWORD   → {"feeds": {...}, "run": id}
python bench/_load_setup.py run FEED_ID                 → {"run": id, "seconds": s, "rows": n}
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wsync_site.settings")
import django  # noqa: E402

django.setup()

import duckdb  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from feeds.accounts.models import Membership, Role, Workspace  # noqa: E402
from feeds.accounts.people import ensure_user  # noqa: E402
from feeds.demo import USERS_SQL  # noqa: E402
from feeds.mapping.rules import auto_mappings  # noqa: E402
from feeds.models import Connection, DataModel, Feed, FeedState, FieldTransformation, SyncMode  # noqa: E402
from feeds.sync import engine, service  # noqa: E402
from feeds.sync.models import RunState, SyncRun  # noqa: E402
from feeds.warehouses.registry import open_warehouse  # noqa: E402

# Three feeds over disjoint customers (C…, B…, A…): the same first sync alone before the load, under it, and
# alone after it (the machine is shared; two runs alone bracket what its other work did meanwhile).
TABLES = {"baseline": "users_b", "loaded": "users", "after": "users_a"}


def setup(rows: int, users: int, password: str) -> dict:
    """Write the warehouse, sign-in users and two feeds over disjoint customers; sync `baseline` once."""
    path = os.path.join(settings.WSYNC_DUCKDB_ROOTS[0], "load.duckdb")
    with duckdb.connect(path) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(USERS_SQL.replace("$users", str(rows)))
        for letter in "ab":
            con.execute(
                f"CREATE TABLE users_{letter} AS SELECT * REPLACE ('{letter.upper()}' || substr(customer_id, 2) "
                f"AS customer_id, replace(email, '@', '.{letter}@') AS email) FROM users"
            )
    workspace = Workspace.objects.get(slug="demo")
    sessions = []
    for i in range(users):
        user, _ = ensure_user(f"load{i}@wsync.local", password)
        Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": Role.EDITOR})
        # Signed in here, once: password hashing (deliberately slow) is not what the benchmark measures.
        client = Client()
        client.force_login(user)
        sessions.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    connection = Connection.objects.create(
        workspace=workspace, slug="load", name="Load warehouse", provider="duckdb", config={"path": path}
    )
    feeds = {name: _feed(workspace, connection, name, table).pk for name, table in TABLES.items()}
    return {"feeds": feeds, "sessions": sessions}


def _feed(workspace: Workspace, connection: Connection, name: str, table: str) -> Feed:
    sql = f"SELECT * FROM {table}"
    columns = open_warehouse("duckdb", connection.warehouse_config()).describe(sql)
    names = [c.name for c in columns]
    model = DataModel.objects.create(
        workspace=workspace, slug=name, name=name, connection=connection, sql=sql, columns_sql=sql,
        columns=[{"name": c.name, "type": c.type.value, "warehouse_type": c.warehouse_type} for c in columns],
    )  # fmt: skip
    mapping = FieldTransformation.objects.create(
        workspace=workspace,
        slug=name,
        name=name,
        mappings=auto_mappings(names, "user_attributes", "updated_at"),
    )
    return Feed.objects.create(
        workspace=workspace, slug=name, name=name.title(), connection=connection, data_model=model,
        field_transformation=mapping, state=FeedState.ACTIVE, sync_mode=SyncMode.INCREMENTAL,
        iterator="updated_at", iterator_type="timestamptz",
    )  # fmt: skip


def run(feed_id: int) -> dict:
    """Queue a run for the cluster, wait for its end, and return its own start-to-end seconds."""
    queued = service.request_run(Feed.objects.get(pk=feed_id), None)
    print(json.dumps({"queued": queued.pk}), flush=True)
    while True:
        run = SyncRun.objects.get(pk=queued.pk)
        if run.state not in (RunState.QUEUED, RunState.RUNNING):
            break
        time.sleep(0.5)
    assert run.state == RunState.SUCCEEDED, run.error
    return {
        "run": run.pk,
        "seconds": run.duration.total_seconds(),
        "rows": run.rows_read,
        "timings": run.timings,
    }


def run_here(feed_id: int) -> dict:
    """Run a sync in this process (no cluster): for a feed whose runs should exist before the load starts."""
    queued = service.request_run(Feed.objects.get(pk=feed_id), None)
    engine.run(queued.pk)
    queued.refresh_from_db()
    return {"run": queued.pk, "state": queued.state}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "setup":
        result = setup(int(args[0]), int(args[1]), args[2])
    elif command == "run":
        result = run(int(args[0]))
    else:
        result = run_here(int(args[0]))
    print(json.dumps(result), flush=True)
