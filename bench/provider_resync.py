"""Benchmark: a full sync and an unchanged full re-sync from each provider, through its real client and stand-in.

    .venv/bin/python bench/provider_resync.py --rows N [--providers duckdb,postgres,redshift,snowflake,bigquery,databricks]

Each provider's stand-in (the tests' own: tests/standins) serves the same users table (sync_bench.py's
definition, generated in each warehouse's SQL): PostgreSQL and Redshift (through the tests' wire proxy) read
the local PostgreSQL's table, DuckDB its file, Snowflake (fakesnow) and BigQuery (bqemulator) a table made
with their own SQL, Databricks a Delta table copied from the DuckDB file and served over Delta Sharing.
Per provider, in a process of its own with a fresh SQLite store (bench/_resync_phase.py): a plain read of the
table through the same client (what the stand-in costs to serve it), a full sync into the empty store, then an
unchanged full re-sync. dlt's full load of the PostgreSQL table into DuckDB is timed once, as sync_bench does.
"CPU s" is the wsync process's; "stand-in CPU s" the stand-in's own process (Snowflake, BigQuery, Databricks;
for Redshift the wire proxy, which runs in this process).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))
from _measure import phase_env  # noqa: E402
from sync_bench import (  # noqa: E402
    MODELS,
    PG,
    SOURCE,
    dlt_load,
    ensure_duckdb_source,
    ensure_source,
)

PROVIDERS = ("duckdb", "postgres", "redshift", "snowflake", "bigquery", "databricks")
SNOWFLAKE_USERS = """CREATE OR REPLACE TABLE users AS SELECT
  'C' || lpad(i::varchar, 8, '0') AS customer_id, 'user' || i || '@example.com' AS email,
  DECODE(i % 5, 0, 'Ada', 1, 'Grace', 2, 'Alan', 3, 'Linus', 'Ken') AS first_name,
  DECODE(floor(i / 5) % 5, 0, 'Lovelace', 1, 'Hopper', 2, 'Turing', 3, 'Torvalds', 'Thompson') AS last_name,
  DECODE(i % 4, 0, 'free', 1, 'starter', 2, 'pro', 'enterprise') AS plan, (i * 7919) % 1000 AS score,
  DATEADD(second, (i * 104729) % 31536000, '2025-01-01 00:00:00 +00:00'::timestamp_tz) AS updated_at,
  'v' || i % 13 AS a1, i % 17 AS a2, (i % 19) * 1.5 AS a3, i % 2 = 0 AS a4, 'x' || i % 23 AS a5,
  i % 29 AS a6, 'y' || i % 31 AS a7, i % 37 AS a8, 'z' || i % 41 AS a9, i % 43 AS a10
FROM (SELECT (SEQ8() + 1)::integer AS i FROM TABLE(GENERATOR(ROWCOUNT => %s)))"""
BIGQUERY_USERS = """CREATE TABLE users AS SELECT
  CONCAT('C', LPAD(CAST(i AS STRING), 8, '0')) AS customer_id,
  CONCAT('user', CAST(i AS STRING), '@example.com') AS email,
  ['Ada','Grace','Alan','Linus','Ken'][OFFSET(MOD(i, 5))] AS first_name,
  ['Lovelace','Hopper','Turing','Torvalds','Thompson'][OFFSET(MOD(DIV(i, 5), 5))] AS last_name,
  ['free','starter','pro','enterprise'][OFFSET(MOD(i, 4))] AS plan, MOD(i * 7919, 1000) AS score,
  TIMESTAMP_ADD(TIMESTAMP '2025-01-01 00:00:00+00', INTERVAL MOD(i * 104729, 31536000) SECOND) AS updated_at,
  CONCAT('v', CAST(MOD(i, 13) AS STRING)) AS a1, MOD(i, 17) AS a2, MOD(i, 19) * 1.5 AS a3, MOD(i, 2) = 0 AS a4,
  CONCAT('x', CAST(MOD(i, 23) AS STRING)) AS a5, MOD(i, 29) AS a6, CONCAT('y', CAST(MOD(i, 31) AS STRING)) AS a7,
  MOD(i, 37) AS a8, CONCAT('z', CAST(MOD(i, 41) AS STRING)) AS a9, MOD(i, 43) AS a10
FROM UNNEST(GENERATE_ARRAY(1, %s)) AS i"""


# --- each provider's source: (config, model SQL, pid of the stand-in's process or 0) -------------


@contextlib.contextmanager
def duckdb_source(rows: int) -> Iterator[tuple[dict[str, Any], str, int]]:
    yield {"path": str(ensure_duckdb_source("users", rows))}, MODELS["users"], 0


def _pg_config(port: int) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "database": SOURCE,
        "user": "postgres",
        "password": "unused",  # the local server trusts 127.0.0.1
        "sslmode": "disable",
        "allow_unencrypted": True,
    }


@contextlib.contextmanager
def postgres_source(rows: int) -> Iterator[tuple[dict[str, Any], str, int]]:
    ensure_source("users", rows)
    yield _pg_config(5432), MODELS["users"], 0


@contextlib.contextmanager
def redshift_source(rows: int) -> Iterator[tuple[dict[str, Any], str, int]]:
    from tests.standins.redshift import _start_proxy

    ensure_source("users", rows)
    proxy = _start_proxy(5432)  # redshift_connector through the tests' wire proxy, to the same table
    try:
        yield {**_pg_config(proxy.port), "auth_method": "password"}, MODELS["users"], os.getpid()
    finally:
        proxy.loop.call_soon_threadsafe(proxy.server.close)
        proxy.loop.call_soon_threadsafe(proxy.loop.stop)
        proxy.thread.join(timeout=10)


@contextlib.contextmanager
def snowflake_source(rows: int) -> Iterator[tuple[dict[str, Any], str, int]]:
    from tests.standins import snowflake

    with snowflake.running_standin() as standin:
        config = snowflake.database_config(standin)
        with snowflake.standin_connect(standin, config["database"]) as connection:
            connection.cursor().execute(SNOWFLAKE_USERS.replace("%s", str(rows)))
        yield config, MODELS["users"], standin.pid


@contextlib.contextmanager
def bigquery_source(rows: int) -> Iterator[tuple[dict[str, Any], str, int]]:
    from google.cloud import bigquery as bq

    from tests.standins import bigquery

    with bigquery.running_standin() as standin:
        admin = bigquery.admin_client(standin)
        config = bigquery.dataset_config(standin, admin)
        dataset = f"{config['project_id']}.{config['dataset_id']}"
        job = bq.QueryJobConfig(default_dataset=dataset)
        admin.query(BIGQUERY_USERS.replace("%s", str(rows)), job_config=job).result()
        yield config, MODELS["users"], standin.pid


@contextlib.contextmanager
def databricks_source(rows: int) -> Iterator[tuple[dict[str, Any], str, int]]:
    from tests.standins import delta_sharing

    root = Path(tempfile.mkdtemp(prefix="wsync-bench-delta-")) / "tables"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.standins.delta_tables",
            str(root),
            str(ensure_duckdb_source("users", rows)),
        ]
        + ["users"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if "built" not in built.stdout:
        raise SystemExit(f"Building the Delta table failed: {built.stderr[-2000:]}")
    with delta_sharing.running_standin(root) as standin:
        yield standin.config(), f"{standin.schema}.users", standin.pid


SOURCES = {
    "duckdb": duckdb_source,
    "postgres": postgres_source,
    "redshift": redshift_source,
    "snowflake": snowflake_source,
    "bigquery": bigquery_source,
    "databricks": databricks_source,
}


def phase(provider: str, config: dict[str, Any], sql: str, standin_pid: int) -> list[dict[str, Any]]:
    """Run the plain read, the full sync and the unchanged re-sync in a fresh process and SQLite store."""
    env = phase_env(f"wsync-bench-{provider}-", ROOT)
    env["WSYNC_BENCH_PHASE"] = json.dumps(
        {"provider": provider, "config": config, "sql": sql, "standin_pid": standin_pid}
    )
    if provider == "duckdb":
        env["WSYNC_DUCKDB_ROOTS"] = str(Path(config["path"]).parent)
    out = subprocess.run(
        [sys.executable, str(BENCH / "_resync_phase.py")], env=env, capture_output=True, text=True
    )
    if out.returncode:
        print(f"{provider}: failed\n{out.stderr[-3000:]}", flush=True)
        return []
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def report(results: list[dict[str, Any]], dlt: dict[str, Any] | None) -> None:
    """One line a step; "vs dlt" is its seconds over dlt's full load of the same table from PostgreSQL."""
    head = f"{'provider':10} {'step':26} {'rows':>8} {'seconds':>8} {'CPU s':>6} {'stand-in CPU s':>14}"
    print(f"{head} {'rows/s':>8} {'re-sync/full':>12} {'vs dlt':>7}  where the time goes")
    if dlt:
        print(
            f"{'(dlt)':10} {'full load from PostgreSQL':26} {dlt['rows']:>8} {dlt['seconds']:>8.1f} "
            f"{dlt['cpu_seconds']:>6.1f} {'—':>14} {dlt['rows_per_s']:>8.0f}"
        )
    full: dict[str, float] = {}
    for r in results:
        if r["step"] == "full sync":
            full[r["provider"]] = r["seconds"]
        ratio = f"{r['seconds'] / full[r['provider']]:.2f}" if r["step"] == "unchanged re-sync" else ""
        versus = f"{dlt['seconds'] / r['seconds']:.1f}x" if dlt and r["step"] != "plain client read" else ""
        standin = "—" if r.get("standin_cpu_seconds") is None else f"{r['standin_cpu_seconds']:.1f}"
        split = ", ".join(f"{k} {v:.1f}s" for k, v in r.get("timings", {}).items())
        print(
            f"{r['provider']:10} {r['step']:26} {r['rows']:>8} {r['seconds']:>8.1f} {r['cpu_seconds']:>6.1f} "
            f"{standin:>14} {r['rows_per_s']:>8.0f} {ratio:>12} {versus:>7}  {split}",
            flush=True,
        )
    print("vs dlt: how many times faster than dlt's full load (dlt seconds / step seconds).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--skip-dlt", action="store_true")
    args = parser.parse_args()
    chosen = [p for p in args.providers.split(",") if p]
    unknown = set(chosen) - set(PROVIDERS)
    if unknown:
        parser.error(f"unknown providers: {', '.join(sorted(unknown))}")
    ensure_source("users", args.rows)
    dlt = None if args.skip_dlt else dlt_load("users")
    results: list[dict[str, Any]] = []
    for provider in chosen:
        started = time.perf_counter()
        with SOURCES[provider](args.rows) as (config, sql, pid):
            print(f"{provider}: source ready in {time.perf_counter() - started:.1f}s", flush=True)
            results.extend(phase(provider, config, sql, pid))
    print(
        f"source: PostgreSQL {PG}{SOURCE}; {args.rows} rows of users; store: a fresh SQLite file per provider"
    )
    report(results, dlt)


if __name__ == "__main__":
    main()
