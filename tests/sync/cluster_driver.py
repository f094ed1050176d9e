"""The qcluster test's hands in its own database: `python -m tests.sync.cluster_driver <command> ...`.

Runs with DJANGO_SETTINGS_MODULE=tests.sync.cluster_settings against the same database file (or
PostgreSQL database) as the cluster under test, and prints JSON.
"""

from __future__ import annotations

import json
import sys

import django

django.setup()

from feeds.accounts.models import Workspace  # noqa: E402
from feeds.sync import service  # noqa: E402
from feeds.sync.models import SyncRun  # noqa: E402
from tests.sync.conftest import Warehouse, make_feed, profile_count, store_users  # noqa: E402

USERS = """
INSERT INTO users SELECT 'C' || lpad(i::VARCHAR, 7, '0'), 'user' || i || '@example.com',
    ['free', 'pro', 'team'][1 + i % 3], i % 100, TIMESTAMPTZ '2025-06-01 00:00:00+00' + to_seconds((i % 5000) * 60)
FROM range(?) AS t(i)
"""


def setup(path: str, rows: str, mode: str = "incremental") -> dict:
    from pathlib import Path

    warehouse = Warehouse(Path(path))
    warehouse.sql(USERS, [int(rows)])
    workspace = Workspace.objects.create(slug="cluster", name="Cluster")
    full = {"sync_mode": "full", "iterator": "", "iterator_type": ""} if mode == "full" else {}
    feed = make_feed(workspace, warehouse.path, **full)
    return {"feed": feed.pk}


def run(feed_id: str) -> dict:
    from feeds.models import Feed

    return {"run": service.request_run(Feed.objects.get(pk=feed_id), None).pk}


def status(run_id: str) -> dict:
    run = SyncRun.objects.get(pk=run_id)
    return {
        "state": run.state,
        "rows_read": run.rows_read,
        "attempt": run.attempt,
        "error": run.error,
        "created": run.profiles_created,
        "unchanged": run.profiles_unchanged,
        "reread": run.rows_reread,
        "read_ahead": (run.timings or {}).get("map ahead", 0) > 0,  # the attempt prepared pages in the thread
        "attempts": [[a.outcome, a.error] for a in run.attempts.all()],
    }


def page(run_id: str) -> dict:
    """Return what the run's page says about errors, as a viewer of its workspace sees it."""
    from django.test import Client

    from feeds.accounts.models import Membership, Role
    from feeds.accounts.people import ensure_user

    run = SyncRun.objects.select_related("feed__workspace").get(pk=run_id)
    user, _ = ensure_user("viewer@cluster.example", "viewer password")
    Membership.objects.get_or_create(workspace=run.feed.workspace, user=user, defaults={"role": Role.VIEWER})
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    response = client.get(f"/w/{run.feed.workspace.slug}/feeds/{run.feed_id}/runs/{run.pk}/")
    html = response.content.decode()
    return {
        "status": response.status_code,
        "what_went_wrong": "What went wrong" in html,
        "alerts": html.count('class="alert '),
        "worker_stopped": html.count("The worker stopped; resuming from the last checkpoint."),
    }


def tick(feed_id: str) -> dict:
    service.tick(int(feed_id))
    return {}


def ticks() -> dict:
    """Return whether each minute tick task the cluster ran succeeded (django-q2 keeps its results)."""
    from django_q.models import Task

    from feeds.tick import TICK_FUNC

    return {"ticks": list(Task.objects.filter(func=TICK_FUNC).values_list("success", flat=True))}


def verify(path: str) -> dict:
    from pathlib import Path

    from feeds.profiles.models import Identity

    workspace = Workspace.objects.get(slug="cluster")
    warehouse = Warehouse.__new__(Warehouse)
    warehouse.path = Path(path)
    expected, stored = warehouse.users(), store_users(workspace)
    identities = Identity.objects.filter(workspace=workspace).count()
    wrong = sum(1 for key, value in expected.items() if stored.get(key) != value)
    return {
        "profiles": profile_count(workspace),
        "identities": identities,
        "expected": len(expected),
        "wrong": wrong,
        "extra": len(set(stored) - set(expected)),
    }


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    commands = {"setup": setup, "run": run, "status": status, "page": page, "tick": tick, "ticks": ticks}
    print(json.dumps({**commands, "verify": verify}[command](*args)))
