"""Benchmark: wsync syncs against a psycopg baseline read and a dlt load, on a PostgreSQL source.

    /work/venv/bin/python bench/sync_bench.py [--rows N] [--stores postgres,sqlite] [--skip-dlt]

Creates (or reuses) a users table of N rows in the local PostgreSQL (database wsync_bench_src),
then measures: a server-side-cursor read of the model, a dlt sql_database (pyarrow) load into
DuckDB, and wsync's full sync into an empty store, an unchanged full re-sync and an incremental
run after 10,000 changed rows, each into a PostgreSQL store and a SQLite store. Each wsync store
runs in its own process (bench/_wsync_phase.py) so the Django settings stay untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PG = "postgresql://postgres@127.0.0.1:5432/"
SOURCE = "wsync_bench_src"
MODEL = (
    "SELECT customer_id, email, first_name, last_name, plan, score, updated_at, a1, a2, a3, a4, a5, a6, a7, a8, "
    "a9, a10 FROM users"
)
CREATE = """
CREATE TABLE users AS SELECT
  'C' || lpad(i::text, 8, '0') AS customer_id, 'user' || i || '@example.com' AS email,
  (ARRAY['Ada','Grace','Alan','Linus','Ken'])[1 + i % 5] AS first_name,
  (ARRAY['Lovelace','Hopper','Turing','Torvalds','Thompson'])[1 + (i / 5) % 5] AS last_name,
  (ARRAY['free','starter','pro','enterprise'])[1 + i % 4] AS plan, (i * 7919) % 1000 AS score,
  timestamptz '2025-01-01 00:00:00+00' + ((i * 104729) % 31536000) * interval '1 second' AS updated_at,
  'v' || i % 13 AS a1, i % 17 AS a2, (i % 19) * 1.5 AS a3, i % 2 = 0 AS a4, 'x' || i % 23 AS a5,
  i % 29 AS a6, 'y' || i % 31 AS a7, i % 37 AS a8, 'z' || i % 41 AS a9, i % 43 AS a10
FROM generate_series(1::bigint, %s::bigint) AS t(i);
ALTER TABLE users ADD PRIMARY KEY (customer_id);
CREATE INDEX users_updated_at ON users (updated_at);
"""


def ensure_database(name: str, *, fresh: bool) -> None:
    with psycopg.connect(PG + "postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            connection.execute(f"DROP DATABASE {name} WITH (FORCE)")
        if not exists or fresh:
            connection.execute(f"CREATE DATABASE {name}")


def ensure_source(rows: int) -> None:
    ensure_database(SOURCE, fresh=False)
    with psycopg.connect(PG + SOURCE, autocommit=True) as connection:
        have = connection.execute("SELECT to_regclass('users') IS NOT NULL").fetchone()[0]
        if have and connection.execute("SELECT count(*) FROM users").fetchone()[0] == rows:
            return
        connection.execute("DROP TABLE IF EXISTS users")
        connection.execute(CREATE.replace("%s", str(rows)))
        connection.execute("VACUUM ANALYZE users")


def baseline(rows: int) -> dict:
    def read() -> int:
        count = 0
        with psycopg.connect(PG + SOURCE) as connection, connection.cursor(name="bench") as cursor:
            cursor.itersize = 5000
            cursor.execute(MODEL)
            for _ in cursor:
                count += 1
        return count

    return measure("psycopg server-side read", read)


def dlt_load() -> dict | None:
    try:
        import dlt
        from dlt.sources.sql_database import sql_database
    except ImportError:
        return None
    folder = tempfile.mkdtemp(prefix="wsync-dlt-")

    def load() -> int:
        source = sql_database(PG + SOURCE, table_names=["users"], backend="pyarrow", chunk_size=50000)
        pipeline = dlt.pipeline(
            pipeline_name="wsync_bench",
            destination=dlt.destinations.duckdb(f"{folder}/dlt.duckdb"),
            dataset_name="bench",
            pipelines_dir=folder,
        )
        info = pipeline.run(source, write_disposition="replace")
        info.raise_on_failed_jobs()
        return pipeline.last_trace.last_normalize_info.row_counts.get("users", 0)

    return measure("dlt sql_database → DuckDB", load)


def wsync(store: str, rows: int) -> list[dict]:
    env = {
        **os.environ,
        "WSYNC_DEV": "1",
        "WSYNC_ALLOW_PRIVATE_HOSTS": "1",
        "PYTHONPATH": str(ROOT),
        "WSYNC_DATA_DIR": tempfile.mkdtemp(prefix=f"wsync-bench-{store}-"),
        "WSYNC_LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)
    if store == "postgres":
        ensure_database("wsync_bench_store", fresh=True)
        env["DATABASE_URL"] = PG + "wsync_bench_store"
    script = Path(__file__).resolve().parent / "_wsync_phase.py"
    out = subprocess.run([sys.executable, str(script), str(rows)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-4000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(results: list[dict], reference: dict | None) -> None:
    print(
        f"{'what':58} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'peak RSS':>9} {'vs dlt':>7}  where the time goes"
    )
    for r in results:
        ratio = f"{r['rows_per_s'] / reference['rows_per_s']:.2f}x" if reference and r["rows_per_s"] else "—"
        split = ", ".join(f"{k} {v:.1f}s" for k, v in r.get("timings", {}).items())
        print(
            f"{r['name']:58} {r['rows']:>9} {r['seconds']:>8.1f} {r['rows_per_s']:>9.0f} "
            f"{r['peak_rss_mb']:>7.0f}MB {ratio:>7}  {split}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stores", default="postgres,sqlite")
    parser.add_argument("--skip-dlt", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    ensure_source(args.rows)
    print(f"source ready ({args.rows} rows) in {time.perf_counter() - started:.1f}s", flush=True)
    results = [baseline(args.rows)]
    reference = None if args.skip_dlt else dlt_load()
    if reference:
        results.append(reference)
    for store in filter(None, args.stores.split(",")):
        results.extend(wsync(store, args.rows))
    report(results, reference)


if __name__ == "__main__":
    main()
