"""CPU milliseconds and queries per page for each page in bench/load_bench.py's mix, with no load around.

    .venv/bin/python bench/page_cost.py [--rows 100000] [--repeat 40] [--data-dir FOLDER]

Without --data-dir it makes a fresh data folder (SQLite, or DATABASE_URL's database) with the load bench's
setup and one synced feed of --rows users; with it, it reuses a folder bench/load_bench.py left behind
(its "loaded" feed). Each page is requested --repeat times in this process through Django's test client
(middleware, sessions, templates: everything but the HTTP server); the figures are this process's CPU time,
so they hold on a busy machine where wall times do not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--data-dir", type=Path, help="a data folder bench/load_bench.py left (…/data)")
    args = parser.parse_args()
    if args.data_dir is None:
        folder = Path(tempfile.mkdtemp(prefix="wsync-pages-"))
        args.data_dir = folder / "data"
        _prepare(folder, args.rows)
    os.environ.update(WSYNC_DEV="1", WSYNC_DATA_DIR=str(args.data_dir), WSYNC_LOG_LEVEL="WARNING")
    os.environ.setdefault("WSYNC_DUCKDB_ROOTS", str(args.data_dir.parent / "warehouses"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "wsync_site.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    _measure(args.repeat)


def _prepare(folder: Path, rows: int) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "WSYNC_REDIS_URL")}
    env.update(
        WSYNC_DEV="1",
        WSYNC_DATA_DIR=str(folder / "data"),
        WSYNC_DUCKDB_ROOTS=str(folder / "warehouses"),
        WSYNC_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    (folder / "warehouses").mkdir(parents=True)
    run = [sys.executable, str(ROOT / "manage.py"), "demo", "--setup-only"]
    subprocess.run(run, env=env, cwd=ROOT, check=True, capture_output=True)
    setup = [
        sys.executable,
        str(ROOT / "bench" / "_load_setup.py"),
        "setup",
        str(rows),
        "1",
        "page-cost-pw-1",
    ]
    feeds = json.loads(
        subprocess.run(setup, env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    )
    sync = [sys.executable, str(ROOT / "bench" / "_load_setup.py"), "here", str(feeds["feeds"]["loaded"])]
    subprocess.run(sync, env=env, cwd=ROOT, check=True, capture_output=True)


def _measure(repeat: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from feeds.accounts.models import Membership
    from feeds.models import Feed
    from feeds.sync.models import SyncRun

    feed = Feed.objects.get(workspace__slug="demo", slug="loaded")
    run = SyncRun.objects.filter(feed=feed).order_by("-pk").first()
    assert run is not None, "the loaded feed has no run: run bench/load_bench.py or drop --data-dir"
    client = Client(HTTP_HOST="127.0.0.1")
    member = Membership.objects.filter(workspace=feed.workspace).order_by("pk").last()
    client.force_login(member.user)  # type: ignore[union-attr]
    htmx = {"HTTP_HX_REQUEST": "true"}
    base = f"/w/demo/feeds/{feed.pk}/"
    pages = [
        ("feed list", "/w/demo/feeds/", {}),
        ("feed summary", base, {}),
        ("feed summary poll", base, htmx),
        ("run page", f"{base}runs/{run.pk}/", {}),
        ("run page poll", f"{base}runs/{run.pk}/", htmx),
        ("profile search", "/w/demo/profiles/?q=C000042", htmx),
        ("profile search, email", "/w/demo/profiles/?q=Ada.Lovelace42@example.com", htmx),
        ("explorer landing", "/w/demo/profiles/", {}),
    ]
    print(f"{'page':<24}{'queries':>8}{'CPU ms (median)':>17}{'wall ms (median)':>18}")
    results = {}
    for name, path, headers in pages:
        assert client.get(path, **headers).status_code == 200, path  # warm: templates, connections
        with CaptureQueriesContext(connection) as queries:
            client.get(path, **headers)
        # Read now: the captured list is a slice of the connection's log, which the next request clears.
        count = len(queries)
        cpu, wall = [], []
        for _ in range(repeat):
            started, cpu_started = time.perf_counter(), time.process_time()
            client.get(path, **headers)
            cpu.append((time.process_time() - cpu_started) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
        results[name] = {"queries": count, "cpu_ms": statistics.median(cpu), "ms": statistics.median(wall)}
        print(f"{name:<24}{count:>8}{statistics.median(cpu):>17.1f}{statistics.median(wall):>18.1f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
