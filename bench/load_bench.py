"""Load benchmark: 50 signed-in users on the production server (gunicorn) while a sync runs.

    .venv/bin/python bench/load_bench.py [--users 50] [--rows 100000] [--web-workers 2] [--web-threads 4]

Starts `manage.py demo` (gunicorn + a worker) on a fresh data folder (SQLite, or DATABASE_URL's database), makes
a DuckDB table of --rows users twice over (disjoint customers), then:

1. baseline: one feed's first sync with no web load (its start-to-end seconds);
2. load: --users people (locust, headless), each opening a page every 2–5 s: the feed list, the summary of
   the feed being synced and its 2-second poll, the run page's poll, a profile search, while the other feed's
   first sync (same size) runs: p50/p95/p99, requests/s, errors, the sync's slowdown and the web processes'
   CPU milliseconds per request;
3. capacity: users with no wait time, in steps, for the most requests/s with p95 under 1 s.

Prints a table and one JSON line. The machine may be shared: the figures say what this run saw.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import gevent  # locust runs on gevent; imported before anything opens sockets
import psutil
from locust import HttpUser, between, constant, events, task  # noqa: F401
from locust.env import Environment

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "load-bench-password-1"
STATE: dict[str, int] = {}
SESSIONS: list[str] = []


class Marketer(HttpUser):
    """A signed-in person looking at wsync's pages."""

    wait_time = between(2, 5)

    def on_start(self) -> None:
        # A session signed in by the setup (signing in 50 people would measure password hashing instead).
        self.client.cookies.set("sessionid", random.choice(SESSIONS))

    @task(2)
    def feed_list(self) -> None:
        self.client.get("/w/demo/feeds/", name="feed list")

    @task(2)
    def feed_summary(self) -> None:
        self.client.get(f"/w/demo/feeds/{STATE['feed']}/", name="feed summary")

    @task(4)
    def feed_summary_poll(self) -> None:
        self.client.get(
            f"/w/demo/feeds/{STATE['feed']}/", headers={"HX-Request": "true"}, name="feed summary poll"
        )

    @task(2)
    def run_page(self) -> None:
        if STATE.get("run"):
            headers = {"HX-Request": "true"} if random.random() < 0.5 else {}
            self.client.get(
                f"/w/demo/feeds/{STATE['feed']}/runs/{STATE['run']}/", headers=headers, name="run page"
            )

    @task(2)
    def profile_search(self) -> None:
        # What people type: a customer id, an email (any case), an MPID-like number that matches nothing.
        i = random.randrange(1, STATE["rows"] + 1)
        query = random.choice([f"C{i:06d}", f"B{i:06d}", f"ada.lovelace{i}@example.com", f"{i}{i}"])
        self.client.get(f"/w/demo/profiles/?q={query}", headers={"HX-Request": "true"}, name="profile search")


class Hammer(Marketer):
    wait_time = constant(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--capacity-steps", default="2,4,8,16")
    parser.add_argument("--step-seconds", type=int, default=20)
    args = parser.parse_args()
    STATE["users"], STATE["rows"] = args.users, args.rows
    folder = Path(tempfile.mkdtemp(prefix="wsync-load-"))
    env = _environment(folder, args)
    port = _free_port()
    host = f"http://127.0.0.1:{port}"
    _manage(env, "demo", "--setup-only")
    setup = _driver(env, "setup", args.rows, args.users, PASSWORD)
    SESSIONS.extend(setup["sessions"])
    demo = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "demo", "--addr", f"127.0.0.1:{port}"],
        env=env, cwd=ROOT, stdout=(folder / "demo.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_until_up(host)
        baseline = _driver(env, "run", setup["feeds"]["baseline"])
        window = [datetime.now(UTC)]
        loaded, stats, cpu_ms = _under_load(env, host, setup["feeds"]["loaded"], args.users, demo.pid, window)
        after = _driver(env, "run", setup["feeds"]["after"])
        capacity = _capacity(host, [int(n) for n in args.capacity_steps.split(",")], args.step_seconds)
    finally:
        demo.send_signal(2)
        demo.wait(timeout=60)
    stats["server"] = _server_side(folder / "demo.log", window)
    _report(args, [baseline, after], loaded, stats, cpu_ms, capacity)


def _environment(folder: Path, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "WSYNC_REDIS_URL")}
    env.update(
        WSYNC_DEV="1",
        WSYNC_DATA_DIR=str(folder / "data"),
        WSYNC_DUCKDB_ROOTS=str(folder / "warehouses"),
        WSYNC_DEMO_PASSWORD=PASSWORD,
        WSYNC_WEB_WORKERS=str(args.web_workers),
        WSYNC_WEB_THREADS=str(args.web_threads),
        # One JSON line per request (a fraction of a millisecond each): the server's own time and CPU per request.
        WSYNC_LOG_LEVEL="INFO",
        WSYNC_LOG_JSON="1",
        PYTHONPATH=str(ROOT),
    )
    (folder / "warehouses").mkdir(parents=True)
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True, capture_output=True
    )


def _driver(env: dict[str, str], *args: object, on_line: object = None) -> dict:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "_load_setup.py"), *map(str, args)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    last = {}
    for line in process.stdout:  # type: ignore[union-attr]
        last = json.loads(line)
        if callable(on_line):
            on_line(last)
    assert process.wait() == 0, "the bench driver failed"
    return last


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(host: str) -> None:
    for _ in range(600):
        try:
            with urllib.request.urlopen(host + "/accounts/login/", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the demo did not come up; see its log")


def _web_processes(demo_pid: int) -> list[psutil.Process]:
    return [
        p for p in psutil.Process(demo_pid).children(recursive=True) if "gunicorn" in " ".join(p.cmdline())
    ]


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _run_queue_wait(processes: list[psutil.Process]) -> float:
    """Seconds the processes' threads were ready to run but waited for a core (Linux /proc/…/task/*/schedstat).

    What this machine's other work takes from the web server: a request's time in the server beyond its CPU
    time and this wait is spent on a lock, the database or the GIL.
    """
    total = 0
    for process in processes:
        for stat in Path(f"/proc/{process.pid}/task").glob("*/schedstat"):
            with contextlib.suppress(OSError, IndexError, ValueError):  # a thread that ended meanwhile
                total += int(stat.read_text().split()[1])
    return total / 1e9


def _under_load(
    env: dict[str, str], host: str, feed_id: int, users: int, demo_pid: int, window: list[datetime]
) -> tuple[dict, dict, float]:
    STATE["feed"] = feed_id
    environment = Environment(user_classes=[Marketer], host=host, events=events)
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=10)
    gevent.sleep(users / 10 + 3)  # everyone is there
    environment.stats.reset_all()
    window[:] = [datetime.now(UTC)]
    web = _web_processes(demo_pid)
    cpu_before, wait_before = _cpu_seconds(web), _run_queue_wait(web)
    result: dict = {}

    def sync() -> None:
        result.update(
            _driver(env, "run", feed_id, on_line=lambda line: STATE.update(run=line.get("queued", 0)))
        )

    syncing = threading.Thread(target=sync)
    syncing.start()
    while syncing.is_alive():
        gevent.sleep(0.5)
    cpu = _cpu_seconds(web) - cpu_before
    STATE["run_queue_wait_ms"] = round((_run_queue_wait(web) - wait_before) * 1000)
    window.append(datetime.now(UTC))
    stats = _summary(environment)
    runner.quit()
    return result, stats, cpu * 1000 / max(1, stats["requests"])


PAGES = [  # the server's request lines by path (a page and its poll share a path)
    (re.compile(r"^/w/demo/feeds/$"), "feed list"),
    (re.compile(r"^/w/demo/feeds/\d+/$"), "feed summary + poll"),
    (re.compile(r"^/w/demo/feeds/\d+/runs/\d+/$"), "run page + poll"),
    (re.compile(r"^/w/demo/profiles/$"), "profile search"),
]


def _server_side(log: Path, window: list[datetime]) -> dict:
    """The web server's own view of the load window from its request lines: time in the server and thread CPU.

    Time in the server minus CPU is waiting: for a core (other processes, other threads' GIL), or the database.
    """
    start, end = (moment.isoformat(timespec="milliseconds") for moment in window)
    by_page: dict[str, list[dict]] = {}
    for text in log.read_text(errors="replace").splitlines():
        if not text.startswith("{"):
            continue
        line = json.loads(text)
        if line.get("logger") != "wsync.request" or not start <= line["time"] <= end:
            continue
        name = next((n for pattern, n in PAGES if pattern.match(line["path"])), "other")
        by_page.setdefault(name, []).append(line)
    every = [line for lines in by_page.values() for line in lines]
    return {
        "all": _percentiles(every),
        **{name: _percentiles(lines) for name, lines in sorted(by_page.items())},
    }


def _percentiles(lines: list[dict]) -> dict:
    if not lines:
        return {"requests": 0}
    ms = sorted(line["duration_ms"] for line in lines)
    cpu = sorted(line.get("cpu_ms", 0) for line in lines)
    at = lambda values, q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return {"requests": len(ms), "p50": at(ms, 0.5), "p95": at(ms, 0.95), "p99": at(ms, 0.99),
            "cpu_p50": at(cpu, 0.5), "cpu_mean": round(sum(cpu) / len(cpu), 1), "cpu_p95": at(cpu, 0.95)}  # fmt: skip


def _capacity(host: str, steps: list[int], seconds: int) -> list[dict]:
    """Users that never wait, in steps: requests/s and p95 at each."""
    found = []
    for users in steps:
        environment = Environment(user_classes=[Hammer], host=host, events=events)
        runner = environment.create_local_runner()
        runner.start(users, spawn_rate=users)
        gevent.sleep(2)
        environment.stats.reset_all()
        gevent.sleep(seconds)
        found.append({"users": users, **_summary(environment)})
        runner.quit()
    return found


def _summary(environment: Environment) -> dict:
    total = environment.stats.total
    pages = {
        name: {"p50": entry.get_response_time_percentile(0.5), "p95": entry.get_response_time_percentile(0.95),
               "requests": entry.num_requests, "errors": entry.num_failures}
        for (name, _), entry in environment.stats.entries.items()
    }  # fmt: skip
    return {
        "requests": total.num_requests,
        "errors": total.num_failures,
        "rps": total.total_rps,
        "p50": total.get_response_time_percentile(0.5),
        "p95": total.get_response_time_percentile(0.95),
        "p99": total.get_response_time_percentile(0.99),
        "pages": pages,
        "error_list": [
            f"{e.method} {e.name}: {e.error} ×{e.occurrences}" for e in environment.stats.errors.values()
        ],
    }


def _report(args, alone: list[dict], loaded: dict, stats: dict, cpu_ms: float, capacity: list[dict]) -> None:
    alone_s = sum(run["seconds"] for run in alone) / len(alone)
    slowdown = loaded["seconds"] / alone_s - 1
    held = [c for c in capacity if c["requests"] and c["p95"] < 1000]
    best = max(held, key=lambda c: c["rps"], default=None)
    print(
        f"\nwsync load benchmark on {socket.gethostname()} ({os.cpu_count()} cores, shared with other work)"
    )
    print(f"gunicorn {args.web_workers} processes × {args.web_threads} threads; {args.rows:,} rows a sync")
    print(f"{args.users} users, a page every 2–5 s, during the sync:")
    print(f"  requests {stats['requests']}, errors {stats['errors']}, {stats['rps']:.1f} req/s")
    print(
        f"  p50 {stats['p50']:.0f} ms, p95 {stats['p95']:.0f} ms, p99 {stats['p99']:.0f} ms; CPU {cpu_ms:.1f} ms a request"
    )
    wait_ms = STATE.get("run_queue_wait_ms", 0) / max(1, stats["requests"])
    print(f"  web threads waiting for a core (run queue): {wait_ms:.1f} ms a request")
    for name, page in sorted(stats["pages"].items()):
        print(
            f"    {name:<20} n={page['requests']:<6} p50 {page['p50']:>5.0f} ms  p95 {page['p95']:>5.0f} ms  errors {page['errors']}"
        )
    for error in stats["error_list"]:
        print(f"    error: {error}")
    print("  in the server (its request lines: wall time, and the thread's CPU time):")
    for name, page in stats["server"].items():
        if page["requests"]:
            print(
                f"    {name:<20} n={page['requests']:<6} p50 {page['p50']:>5.0f} ms  p95 {page['p95']:>5.0f} ms"
                f"  p99 {page['p99']:>5.0f} ms  CPU p50 {page['cpu_p50']:>4.0f} ms, mean {page['cpu_mean']:>5.1f} ms"
            )
    before, after = (f"{run['seconds']:.1f}" for run in alone)
    print(
        f"  sync: {before} s alone before, {after} s alone after, {loaded['seconds']:.1f} s under load ({slowdown:+.0%})"
    )
    print("capacity (no wait time):")
    for step in capacity:
        print(
            f"  {step['users']:>3} users: {step['rps']:.1f} req/s, p95 {step['p95']:.0f} ms, errors {step['errors']}"
        )
    if best:
        print(f"  most requests/s with p95 < 1 s: {best['rps']:.1f} ({best['users']} users)")
    summary = {k: stats[k] for k in ("requests", "errors", "rps", "p50", "p95", "p99", "server")}
    print(json.dumps({"load": summary, "cpu_ms_per_request": round(cpu_ms, 1), "run_queue_wait_ms_per_request": round(wait_ms, 1), "sync_alone_s": [r["seconds"] for r in alone],
                      "sync_loaded_s": loaded["seconds"], "slowdown": round(slowdown, 3),
                      "max_rps_p95_under_1s": best and round(best["rps"], 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
