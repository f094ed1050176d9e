"""Benchmark: Connected Outputs' delivery rate, peak memory, and the sync's slowdown with two outputs connected.

    nice -n -10 .venv/bin/python bench/outputs_bench.py [--profiles 1000000] [--sync-rows 200000]
        [--loads attributes,events,both] [--skip-sync]

1. For each load, queue `--profiles` profiles (`attributes`: one changed attribute each, so 1M profiles are
   1,000,000 attribute changes; `events`: one new event each; `both`: one of each, 2 changes a profile)
   for two connections: the local webhook receiver (tests/standins/outputs_http.py, in its own process,
   checking each request's signature and Idempotency-Key, and the shape of one in `--shape-every`) at
   1,000 profiles a request, and RabbitMQ at
   127.0.0.1:5672 at 1,000 a message (publisher confirms). Then drain each: changes delivered per second,
   CPU seconds of wsync and, apart, of the receiver, and peak RSS with the whole backlog queued.
2. Sync `--sync-rows` users from DuckDB into an empty store with no output and with two outputs connected
   (their outbox rows written in each page's transaction, not drained), each sync in a fresh process and
   data folder, `--sync-rounds` times each in the order 0, 2, 2, 0: the slowdown from the sums.
Runs on SQLite in a temporary data folder (DATABASE_URL for PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
DATA = tempfile.mkdtemp(prefix="wsync-outputs-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wsync_site.test_settings")
os.environ.setdefault("WSYNC_DATA_DIR", DATA)
os.environ.setdefault("WSYNC_DUCKDB_ROOTS", os.path.join(DATA, "warehouses"))

import logging  # noqa: E402

import django  # noqa: E402
import psutil  # noqa: E402

logging.getLogger("pika").setLevel(logging.WARNING)

django.setup()

from _measure import measure  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from feeds.accounts.models import Workspace  # noqa: E402
from feeds.outputs import delivery, outbox, service  # noqa: E402
from feeds.outputs.diff import Change  # noqa: E402
from feeds.outputs.models import FeedOutput  # noqa: E402
from tests.standins.outputs_http import SECRET  # noqa: E402

CHUNK = 10_000
QUEUE = "outputs-bench"


LOADS = ("attributes", "events", "both")


def changes(start: int, count: int, load: str = "both") -> list[Change]:
    """Return `count` profiles' changes: one changed attribute, one new event, or both."""
    out = []
    for i in range(start, start + count):
        ids = {"customer_id": f"C{i:08d}", "email": f"user{i}@example.com"}
        event = {
            "event_type": "custom_event",
            "data": {
                "event_name": "plan_changed",
                "custom_event_type": "other",
                "source_message_id": f"e-{i}",
                "timestamp_unixtime_ms": 1767225600000 + i,
                "custom_attributes": {"plan": "pro"},
            },
        }
        attributes = {"plan": "pro", "score": i % 1000} if load != "events" else {}
        events = [event] if load != "attributes" else []
        out.append(Change(i + 1, False, ids, {}, [], attributes, [], events))
    return out


def queue_changes(connection: FeedOutput, profiles: int, load: str) -> int:
    from feeds.sync.models import SyncRun

    run = SyncRun.objects.create(
        feed=connection.feed, state="succeeded"
    )  # the outbox rows' lineage (and output rules') run
    for start in range(0, profiles, CHUNK):
        with transaction.atomic():
            outbox.record_connection(
                connection, connection.feed, run.pk, changes(start, min(CHUNK, profiles - start), load)
            )
    return profiles * (2 if load == "both" else 1)


def drain(output_id: int, total: int) -> int:
    while delivery.drain(output_id).delivered:
        pass
    return total


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def rabbit_queue() -> None:
    import pika

    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
    channel = connection.channel()
    channel.queue_declare(QUEUE)
    channel.queue_purge(QUEUE)
    connection.close()


def delivery_phase(
    workspace: Workspace, feed, profiles: int, receiver: subprocess.Popen, port: int, loads: list[str]
) -> list[dict]:
    hook = service.save_output(
        workspace,
        "webhook",
        "Bench webhook",
        {"url": f"http://127.0.0.1:{port}/webhook", "signing_secret": SECRET, "batch_size": 1000},
        None,
    )
    rabbit_queue()
    rabbit = service.save_output(
        workspace,
        "rabbitmq",
        "Bench RabbitMQ",
        {
            "host": "127.0.0.1",
            "port": 5672,
            "username": "guest",
            "password": "guest",
            "routing_key": QUEUE,
            "batch_size": 1000,
        },
        None,
    )
    results, server = [], psutil.Process(receiver.pid)
    for load in loads:
        total = profiles * (2 if load == "both" else 1)
        for output in (hook, rabbit):
            FeedOutput.objects.filter(feed=feed, output=output).delete()
            connection = service.connect(feed, output, None)
            FeedOutput.objects.filter(pk=connection.pk).update(paused=True)  # queue first, then drain
            results.append(
                measure(
                    f"queue {load} {output.name}", lambda c=connection, k=load: queue_changes(c, profiles, k)
                )
            )
            FeedOutput.objects.filter(pk=connection.pk).update(paused=False)
            before = cpu_seconds(server)
            step = measure(f"deliver {load} to {output.name}", lambda o=output, n=total: drain(o.pk, n))
            # The receiver's own CPU, apart: a receiver that is the bottleneck measures nothing about wsync.
            step["receiver_cpu_seconds"] = cpu_seconds(server) - before if output is hook else None
            results.append(step)
            FeedOutput.objects.filter(pk=connection.pk).delete()  # its outbox goes with it
    return results


def sync_one(rows: int, outputs: int) -> dict:
    """Sync `rows` new users into this process's empty store with `outputs` webhook outputs connected."""
    from feeds.models import Feed
    from feeds.sync import engine
    from feeds.sync import service as sync
    from tests.sync.cluster_driver import USERS
    from tests.sync.conftest import Warehouse, make_feed

    folder = Path(os.environ["WSYNC_DUCKDB_ROOTS"])
    folder.mkdir(parents=True, exist_ok=True)
    warehouse = Warehouse(folder / "users.duckdb")
    warehouse.sql(USERS, [rows])
    workspace = Workspace.objects.create(slug="sync", name="Sync")
    feed = make_feed(workspace, warehouse.path)
    for n in range(outputs):
        output = service.save_output(
            workspace,
            "webhook",
            f"Hook {n}",
            {"url": "http://127.0.0.1:9/none", "signing_secret": "x"},
            None,
        )
        connection = service.connect(feed, output, None)
        FeedOutput.objects.filter(pk=connection.pk).update(paused=True)  # measure the sync, not delivery

    def run(feed: Feed = feed) -> int:
        engine.run(sync.request_run(feed, None).pk)
        return rows

    return measure(f"sync with {outputs} outputs", run)


def sync_phase(rows: int, rounds: int) -> list[dict]:
    """Each sync in a process and data folder of its own (a second sync into the same store would meet a
    bigger database), in the order 0, 2, 2, 0... so a change in the machine's load hits both alike."""
    results = []
    for outputs in [n for _ in range(rounds) for n in (0, 2, 2, 0)][: 2 * rounds]:
        data = tempfile.mkdtemp(prefix="wsync-outputs-bench-sync-")
        env = {**os.environ, "WSYNC_DATA_DIR": data, "WSYNC_DUCKDB_ROOTS": os.path.join(data, "warehouses")}
        done = subprocess.run(
            [sys.executable, __file__, "--sync-rows", str(rows), "--sync-only", str(outputs)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def slowdown(results: list[dict]) -> str:
    """Return the sync's slowdown with two outputs, from the sums of each side's rounds."""
    plain = [r for r in results if r["name"] == "sync with 0 outputs"]
    two = [r for r in results if r["name"] == "sync with 2 outputs"]

    def ratio(key: str) -> float:
        return 100 * (sum(r[key] for r in two) / sum(r[key] for r in plain) - 1)

    return f"sync slowdown with two outputs connected: {ratio('seconds'):+.1f}% wall, {ratio('cpu_seconds'):+.1f}% CPU"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--sync-rows", type=int, default=200_000)
    parser.add_argument(
        "--loads", default="attributes,events", help=f"comma-separated, of {', '.join(LOADS)}"
    )
    parser.add_argument("--skip-sync", action="store_true", help="measure delivery only")
    parser.add_argument(
        "--shape-every", type=int, default=10, help="the receiver checks the shape of one request in N"
    )
    parser.add_argument("--sync-rounds", type=int, default=2, help="pairs of syncs (0 and 2 outputs)")
    parser.add_argument("--sync-only", type=int, help=argparse.SUPPRESS)  # one sync, in a child process
    args = parser.parse_args()
    if args.sync_only is not None:
        call_command("migrate", verbosity=0)
        print(json.dumps(sync_one(args.sync_rows, args.sync_only)))
        return
    loads = [load for load in args.loads.split(",") if load]
    if set(loads) - set(LOADS):
        parser.error(f"--loads takes {', '.join(LOADS)}")
    call_command("migrate", verbosity=0)
    from feeds.sync.models import SyncRun  # noqa: F401 - models loaded
    from tests.sync.conftest import Warehouse, make_feed

    receiver = subprocess.Popen(
        [sys.executable, "-m", "tests.standins.outputs_http", "0", str(args.shape_every)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(receiver.stdout.readline().strip().rsplit(":", 1)[1])
    try:
        folder = Path(os.environ["WSYNC_DUCKDB_ROOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        workspace = Workspace.objects.create(slug="bench", name="Bench")
        feed = make_feed(workspace, Warehouse(folder / "empty.duckdb").path)
        results = delivery_phase(workspace, feed, args.profiles, receiver, port, loads)
        if not args.skip_sync:
            results += sync_phase(args.sync_rows, args.sync_rounds)
    finally:
        receiver.terminate()
    for r in results:
        receiver_cpu = r.get("receiver_cpu_seconds")
        print(
            f"{r['name']:<40} {r['rows']:>10,} changes {r['seconds']:>8.1f} s {r['rows_per_s']:>10,.0f}/s "
            f"CPU {r['cpu_seconds']:>7.1f} s"
            + (f" (receiver {receiver_cpu:.1f} s)" if receiver_cpu is not None else "")
            + f" peak RSS {r['peak_rss_mb']:>6.0f} MB"
        )
    if not args.skip_sync:
        print(slowdown(results))
    print(f"load average {os.getloadavg()}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
