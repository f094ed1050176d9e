"""The kill test's hands in the cluster's database: `python -m tests.outputs.kill_driver <command> ...`.

Runs with DJANGO_SETTINGS_MODULE=tests.sync.cluster_settings against the same database as the cluster
under test, and prints JSON.
"""

from __future__ import annotations

import json
import sys

import django

django.setup()

from feeds.accounts.models import Workspace  # noqa: E402
from feeds.outputs import service  # noqa: E402
from feeds.outputs.models import BatchState, OutboxBatch  # noqa: E402
from feeds.sync.models import SyncRun  # noqa: E402
from tests.standins.outputs_http import SECRET  # noqa: E402
from tests.sync.cluster_driver import USERS  # noqa: E402
from tests.sync.conftest import Warehouse, make_feed  # noqa: E402


def setup(path: str, rows: str, url: str) -> dict:
    from pathlib import Path

    warehouse = Warehouse(Path(path))
    warehouse.sql(USERS, [int(rows)])
    workspace = Workspace.objects.create(slug="kill", name="Kill")
    feed = make_feed(workspace, warehouse.path)
    output = service.save_output(
        workspace, "webhook", "Receiver", {"url": url, "signing_secret": SECRET, "batch_size": 1000}, None
    )
    service.connect(feed, output, None)
    return {"feed": feed.pk, "output": output.pk}


def run(feed_id: str) -> dict:
    from feeds.models import Feed
    from feeds.sync import service as sync

    return {"run": sync.request_run(Feed.objects.get(pk=feed_id), None).pk}


def status(run_id: str) -> dict:
    run = SyncRun.objects.get(pk=run_id)
    states = dict.fromkeys(BatchState.values, 0)
    for state in OutboxBatch.objects.values_list("state", flat=True):
        states[state] += 1
    return {"state": run.state, "rows_read": run.rows_read, "batches": states}


def batches() -> dict:
    rows = OutboxBatch.objects.order_by("seq").values_list("batch_id", "changes")
    return {"ids": [i for i, _ in rows], "changes": sum(c for _, c in rows)}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print(json.dumps({"setup": setup, "run": run, "status": status, "batches": batches}[command](*args)))
