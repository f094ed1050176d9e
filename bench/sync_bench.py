"""Benchmark: wsync syncs against a psycopg baseline read and a dlt load, on a PostgreSQL source.

    .venv/bin/python bench/sync_bench.py [--rows N] [--stores postgres,sqlite] [--skip-dlt] [--floor]
    .venv/bin/python bench/sync_bench.py --feed events [--rows N] ...
    .venv/bin/python bench/sync_bench.py --rules ...   (the feed applies bench/_rules.py's three steps)

Creates (or reuses) a table of N rows in the local PostgreSQL (database wsync_bench_src): users
(one row a customer, for a user-attributes feed) or, with --feed events, events (one row an event,
ten events a customer, for an events feed). Then measures: a server-side-cursor read of the model,
a dlt sql_database (pyarrow) load of the table into DuckDB, optionally (--floor, users only)
PostgreSQL writing the same store rows itself, and wsync's full sync into an empty store, an
unchanged full re-sync and an incremental run after 10,000 changed users (or 10,000 new events),
each into a PostgreSQL store and a SQLite store. Each wsync store runs in its own process
(bench/_wsync_phase.py) so the Django settings stay untouched.
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
MODELS = {
    "users": (
        "SELECT customer_id, email, first_name, last_name, plan, score, updated_at, a1, a2, a3, a4, a5, a6, a7, "
        "a8, a9, a10 FROM users"
    ),
    "events": (
        "SELECT source_message_id, customer_id, event_name, occurred_at, page, amount, currency, quantity, "
        "campaign FROM events"
    ),
}
ITERATORS = {"users": "updated_at", "events": "occurred_at"}
CREATE_USERS = """
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
# Ten events a customer, five event names, a year of timestamps; source_message_id is the event's own id.
CREATE_EVENTS = """
CREATE TABLE events AS SELECT
  'E' || lpad(i::text, 10, '0') AS source_message_id, 'C' || lpad((1 + i % (%s / 10))::text, 8, '0') AS customer_id,
  (ARRAY['page_view','add_to_cart','purchase','search','sign_in'])[1 + i % 5] AS event_name,
  timestamptz '2025-01-01 00:00:00+00' + ((i * 104729) % 31536000) * interval '1 second' AS occurred_at,
  '/p/' || i % 997 AS page, (i % 500) * 1.25 AS amount, (ARRAY['EUR','USD','GBP'])[1 + i % 3] AS currency,
  1 + i % 4 AS quantity, 'c' || i % 11 AS campaign
FROM generate_series(1::bigint, %s::bigint) AS t(i);
ALTER TABLE events ADD PRIMARY KEY (source_message_id);
CREATE INDEX events_occurred_at ON events (occurred_at);
"""
CREATES = {"users": CREATE_USERS, "events": CREATE_EVENTS}


def ensure_database(name: str, *, fresh: bool) -> None:
    with psycopg.connect(PG + "postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            connection.execute(f"DROP DATABASE {name} WITH (FORCE)")
        if not exists or fresh:
            connection.execute(f"CREATE DATABASE {name}")


def ensure_source(table: str, rows: int) -> None:
    """Create the table of `rows` rows, or keep it when it has that many (a run's incremental changes it)."""
    ensure_database(SOURCE, fresh=False)
    with psycopg.connect(PG + SOURCE, autocommit=True) as connection:
        have = connection.execute("SELECT to_regclass(%s) IS NOT NULL", [table]).fetchone()[0]
        if have and connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == rows:
            return
        connection.execute(f"DROP TABLE IF EXISTS {table}")
        connection.execute(CREATES[table].replace("%s", str(rows)))
        connection.execute(f"VACUUM ANALYZE {table}")


def baseline(table: str) -> dict:
    def read() -> int:
        count = 0
        with psycopg.connect(PG + SOURCE) as connection, connection.cursor(name="bench") as cursor:
            cursor.itersize = 5000
            cursor.execute(MODELS[table])
            for _ in cursor:
                count += 1
        return count

    return measure("psycopg server-side read", read)


def dlt_load(table: str) -> dict | None:
    try:
        import dlt
        from dlt.sources.sql_database import sql_database
    except ImportError:
        return None
    folder = tempfile.mkdtemp(prefix="wsync-dlt-")

    def load() -> int:
        source = sql_database(PG + SOURCE, table_names=[table], backend="pyarrow", chunk_size=50000)
        pipeline = dlt.pipeline(
            pipeline_name="wsync_bench",
            destination=dlt.destinations.duckdb(f"{folder}/dlt.duckdb"),
            dataset_name="bench",
            pipelines_dir=folder,
        )
        info = pipeline.run(source, write_disposition="replace")
        info.raise_on_failed_jobs()
        return pipeline.last_trace.last_normalize_info.row_counts.get(table, 0)

    return measure("dlt sql_database → DuckDB", load)


def wsync(store: str, table: str, rows: int) -> list[dict]:
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
    out = subprocess.run([sys.executable, str(script), table], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-4000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# What a full sync writes for one source row, generated by PostgreSQL itself into the store's real schema: a
# profile with its 15-attribute document, two identities and a fingerprint. No client work at all, so this
# is the least time the store can take for the load on this machine, whatever the engine does.
FLOOR = """
INSERT INTO profiles_profile (workspace_id, environment, mpid, created_at, updated_at, attributes, set_at)
SELECT %(ws)s, 'production', i * 7919 + 1, now(), now(), d.doc, '{"1": "2026-12-02T00:00:00+00:00"}'
FROM (SELECT jsonb_object_agg(n, jsonb_build_array('Lovelace', 1, 1, '2025-03-01T10:00:00.000000')) AS doc
      FROM unnest(ARRAY['first_name','last_name','plan','score','a1','a2','a3','a4','a5','a6','a7','a8','a9',
                        'a10','updated_at']) AS n) AS d,
  generate_series(1::bigint, %(rows)s::bigint) AS t(i)
;
INSERT INTO profiles_identity (workspace_id, environment, identity_type, value, profile_id, feed_id, created_at)
SELECT %(ws)s, 'production', k.t, CASE k.t WHEN 'customer_id' THEN 'C' || lpad(p.id::text, 8, '0')
  ELSE 'user' || p.id || '@example.com' END, p.id, 1, now()
FROM profiles_profile p CROSS JOIN (VALUES ('customer_id'), ('email')) AS k(t)
;
INSERT INTO sync_rowfingerprint (feed_id, key_hash, digest)
SELECT 1, hashtextextended(id::text, 1), hashtextextended(id::text, 2) FROM profiles_profile;
"""


def store_floor(rows: int) -> dict:
    ensure_database("wsync_bench_floor", fresh=True)
    env = {**os.environ, "WSYNC_DEV": "1", "DATABASE_URL": PG + "wsync_bench_floor", "PYTHONPATH": str(ROOT)}
    env["WSYNC_DATA_DIR"] = tempfile.mkdtemp(prefix="wsync-bench-floor-")
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)
    with psycopg.connect(PG + "wsync_bench_floor") as connection:
        ws = connection.execute(
            "INSERT INTO accounts_workspace (slug, name, created_at) VALUES ('floor', 'Floor', now()) RETURNING id"
        ).fetchone()[0]
        connection.commit()

        def write() -> int:
            for statement in FLOOR.split("\n;\n"):
                connection.execute(statement, {"ws": ws, "rows": rows})  # type: ignore[arg-type]
            connection.commit()
            return rows

        return measure("store floor: PostgreSQL writes the same rows itself", write)


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
    parser.add_argument("--feed", choices=sorted(MODELS), default="users", help="the feed's source table")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stores", default="postgres,sqlite")
    parser.add_argument("--skip-dlt", action="store_true")
    parser.add_argument("--rules", action="store_true", help="give the feed three typical rule steps")
    parser.add_argument(
        "--floor", action="store_true", help="also time the store's own write of the same rows"
    )
    args = parser.parse_args()
    if args.floor and args.feed != "users":
        parser.error("--floor is the store's write of a users feed; leave it out with --feed events")
    started = time.perf_counter()
    ensure_source(args.feed, args.rows)
    print(
        f"source ready ({args.rows} rows of {args.feed}) in {time.perf_counter() - started:.1f}s", flush=True
    )
    results = [baseline(args.feed)]
    reference = None if args.skip_dlt else dlt_load(args.feed)
    if reference:
        results.append(reference)
    if args.floor:
        results.append(store_floor(args.rows))
    if args.rules:
        os.environ["WSYNC_BENCH_RULES"] = "1"  # read by _wsync_phase.py (bench/_rules.py)
    for store in filter(None, args.stores.split(",")):
        results.extend(wsync(store, args.feed, args.rows))
    report(results, reference)


if __name__ == "__main__":
    main()
