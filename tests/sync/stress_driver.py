"""The stress test's hands: `python -m tests.sync.stress_driver <command> <folder> [port]`, prints JSON.

Runs against the same database as the `qcluster` and `runserver` under test. Workspace “stress-a” has a
feed (scheduled once, next month) whose activation queues twelve historical backfill windows; workspace “stress-b” has a feed that is
run by hand from its page again and again while its pipeline is renamed through the API and the pages of
both feeds are read, all at the same time.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import django

django.setup()

import httpx  # noqa: E402
from django.db import connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from feeds.accounts.models import Membership, Role, Workspace  # noqa: E402
from feeds.accounts.people import ensure_user  # noqa: E402
from feeds.api.credentials import create_credential  # noqa: E402
from feeds.models import Feed, FeedState, ScheduleType  # noqa: E402
from feeds.sync import service  # noqa: E402
from feeds.sync.models import ACTIVE_STATES, SyncRun  # noqa: E402
from tests.sync.cluster import wait_for  # noqa: E402
from tests.sync.conftest import Warehouse, make_feed, profile_count, store_users, user_rows  # noqa: E402

WINDOWS = 12
WINDOW_ROWS = 400  # rows a backfill window reads (four pages of the cluster's 100)
MANUAL_RUNS = 6
MANUAL_ROWS = 300
PASSWORD = "stress test password"
EMAIL = "stress@example.com"


def setup(folder: str) -> dict:
    now = timezone.now()
    start = now - timedelta(days=30 * WINDOWS - 1)  # twelve windows of 30 days up to now
    a = Warehouse(Path(folder) / "a.duckdb")
    step = (now - timedelta(hours=1) - start) / (WINDOWS * WINDOW_ROWS)
    a.upsert(
        [
            (f"A{i:07d}", f"a{i}@example.com", "pro", i % 50, start + i * step)
            for i in range(WINDOWS * WINDOW_ROWS)
        ]
    )
    b = Warehouse(Path(folder) / "b.duckdb")
    b.upsert(user_rows(0, MANUAL_ROWS, now - timedelta(days=3)))
    user, _ = ensure_user(EMAIL, PASSWORD)
    feeds = {}
    draft, later = {"state": FeedState.DRAFT, "activated_on": None}, now + timedelta(days=30)
    for slug, warehouse, extra in (
        # Scheduled once, next month: its activation splits the history (an on-demand feed's first run reads it).
        (
            "stress-a",
            a,
            {**draft, "from_time": start, "schedule_type": ScheduleType.ONCE, "schedule_start": later},
        ),
        ("stress-b", b, {}),
    ):
        workspace = Workspace.objects.create(slug=slug, name=slug)
        Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
        feeds[slug] = make_feed(workspace, warehouse.path, **extra).pk
    return feeds


def load(folder: str, port: str) -> dict:
    """Activate feed A (its windows run on the cluster) and, meanwhile, run feed B by hand from its page."""
    started = time.monotonic()
    feed_a = Feed.objects.get(workspace__slug="stress-a")
    feed_b = Feed.objects.get(workspace__slug="stress-b")
    web = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    statuses: Counter[int] = Counter()
    failures: list[str] = []

    def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = web.request(method, url, **kwargs)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(f"{method} {url}: {response.status_code} {response.text[:300]}")
        return response

    web.get("/accounts/login/")
    login = call(
        "POST",
        "/accounts/login/",
        data={"username": EMAIL, "password": PASSWORD, "csrfmiddlewaretoken": web.cookies["csrftoken"]},
    )
    assert login.status_code == 302, login.text[:500]
    api = _api_token(web, feed_b.workspace)
    service.activate(feed_a, None)
    done = threading.Event()

    def manual_runs() -> None:
        try:
            b = Warehouse.__new__(Warehouse)
            b.path = Path(folder) / "b.duckdb"
            base = timezone.now() - timedelta(days=2)
            for k in range(MANUAL_RUNS):
                b.upsert(user_rows((k + 1) * MANUAL_ROWS, MANUAL_ROWS, base + k * timedelta(hours=1)))
                before = SyncRun.objects.filter(feed=feed_b).count()
                url = f"/w/stress-b/feeds/{feed_b.pk}/run/"
                call("POST", url, data={"csrfmiddlewaretoken": web.cookies["csrftoken"]})
                assert SyncRun.objects.filter(feed=feed_b).count() == before + 1, "Run Sync made no run"
                wait_for(
                    lambda: not SyncRun.objects.filter(feed=feed_b, state__in=ACTIVE_STATES).exists(),
                    240,
                    "the second feed's run to end",
                )
        finally:
            done.set()
            connections.close_all()

    runner = threading.Thread(target=manual_runs)
    runner.start()
    pipeline = f"/platform/v2/workspaces/stress-b/pipelines/{feed_b.slug}"
    headers = {"Authorization": f"Bearer {api}"}
    renames = 0
    while not done.is_set() or SyncRun.objects.filter(feed=feed_a, state__in=ACTIVE_STATES).exists():
        if time.monotonic() - started > 300:
            break
        renames += 1
        call("PUT", pipeline, json={"name": f"Stress feed {renames}"}, headers=headers)
        call("GET", f"{pipeline}/runs", headers=headers)
        call("GET", f"/w/stress-a/feeds/{feed_a.pk}/")
        call("GET", f"/w/stress-b/feeds/{feed_b.pk}/")
    runner.join()
    runs = list(SyncRun.objects.filter(feed__in=[feed_a, feed_b]).order_by("pk"))
    return {
        "runs": len(runs),
        "backfill_windows": sum(1 for r in runs if r.kind == "backfill"),
        "states": dict(Counter(r.state for r in runs)),
        "attempts": sum(r.attempt for r in runs),
        "errors": [r.error for r in runs if r.error],
        "requests": sum(statuses.values()),
        "statuses": {str(k): v for k, v in statuses.items()},
        "5xx": failures,
        "renames": renames,
        "seconds": round(time.monotonic() - started, 1),
    }


def _api_token(web: httpx.Client, workspace: Workspace) -> str:
    issued = create_credential(workspace, name="stress", role=Role.ADMIN)
    body = {
        "client_id": issued.credential.client_id,
        "client_secret": issued.client_secret,
        "grant_type": "client_credentials",
    }
    response = web.post("/oauth/token", json=body)
    assert response.status_code == 200, response.text[:500]
    return str(response.json()["access_token"])


def verify(folder: str) -> dict:
    result = {}
    for slug, name in (("stress-a", "a.duckdb"), ("stress-b", "b.duckdb")):
        workspace = Workspace.objects.get(slug=slug)
        warehouse = Warehouse.__new__(Warehouse)
        warehouse.path = Path(folder) / name
        expected = warehouse.users()
        result[slug] = {
            "exact": store_users(workspace) == expected,
            "profiles": profile_count(workspace),
            "expected": len(expected),
        }
    return result


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print(json.dumps({"setup": setup, "load": load, "verify": verify}[command](*args)))
