"""One wsync store under benchmark (run by sync_bench.py with DATABASE_URL set or not): prints JSON results."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wsync_site.settings")
import django  # noqa: E402

django.setup()

if os.environ.get("WSYNC_BENCH_SQLITE_PRAGMAS"):  # measuring SQLite settings (bench/README.md)
    from django.db import connections

    connections.settings["default"].setdefault("OPTIONS", {})["init_command"] = os.environ[
        "WSYNC_BENCH_SQLITE_PRAGMAS"
    ]

import psycopg  # noqa: E402
from _measure import backend_cpu, measure, run_to_end  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from feeds.accounts.models import Workspace  # noqa: E402
from feeds.models import (  # noqa: E402
    Connection,
    DataModel,
    Feed,
    FeedState,
    FieldTransformation,
    PipelineType,
    SyncMode,
)
from feeds.sync import service, windows  # noqa: E402
from feeds.sync.models import Checkpoint  # noqa: E402
from feeds.warehouses.base import IteratorKind  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_bench import ITERATORS, MODELS, PG, SOURCE  # noqa: E402

STORE = "postgres" if connection.vendor == "postgresql" else "sqlite"
DUCKDB = os.environ.get("WSYNC_BENCH_DUCKDB", "")  # the DuckDB file the feed reads, instead of PostgreSQL
SOURCE_NAME = "DuckDB" if DUCKDB else "PostgreSQL"
CHANGED = 10_000


def make_feed(table: str) -> Feed:
    from feeds.mapping.rules import auto_mappings

    pipeline_type = PipelineType.EVENTS if table == "events" else PipelineType.USER_ATTRIBUTES
    workspace = Workspace.objects.create(slug="bench", name="Bench")
    if DUCKDB:
        source = Connection.objects.create(
            workspace=workspace, slug="duck", name="Duck", provider="duckdb", config={"path": DUCKDB}
        )
    else:
        source = Connection.objects.create(
            workspace=workspace,
            slug="pg",
            name="PG",
            provider="postgres",
            config={
                "host": "127.0.0.1",
                "port": 5432,
                "database": SOURCE,
                "user": "postgres",
                "sslmode": "disable",
                "allow_unencrypted": True,
            },
            secrets={"password": ""},
        )
    sql = MODELS[table]
    columns = [c.strip() for c in sql.split("SELECT")[1].split("FROM")[0].split(",")]
    model = DataModel.objects.create(workspace=workspace, slug=table, name=table, connection=source, sql=sql)
    mapping = FieldTransformation.objects.create(
        workspace=workspace,
        slug="map",
        name="Map",
        mappings=auto_mappings(columns, pipeline_type, ITERATORS[table]),
    )
    return Feed.objects.create(
        workspace=workspace,
        slug="bench",
        name="Bench",
        pipeline_type=pipeline_type,
        connection=source,
        data_model=model,
        field_transformation=mapping,
        sync_mode=SyncMode.FULL,
        state=FeedState.ACTIVE,
        iterator=ITERATORS[table],
        iterator_type="timestamptz",
    )


def sync(feed: Feed, name: str) -> dict:
    run = service.request_run(feed, None)

    def step() -> int:
        return run_to_end(run, name)

    pid = _backend_pid()
    cpu = backend_cpu(pid) if pid else 0.0
    result = measure(f"wsync {name}: {SOURCE_NAME} → {STORE} store", step)
    if pid and _backend_pid() == pid:  # the same server process did the run's work
        result["server_cpu_seconds"] = backend_cpu(pid) - cpu
    result["timings"] = run.timings
    result["counts"] = {k: v for k, v in run.count_items}
    return result


def _backend_pid() -> int | None:
    """The PostgreSQL store's server process for this connection (None for SQLite, which runs in this one)."""
    if STORE != "postgres":
        return None
    connection.ensure_connection()
    return connection.connection.info.backend_pid  # type: ignore[union-attr]


# What changes before the incremental run, and how the source is put back for the next store's phase.
CHANGES = {
    "users": (
        "UPDATE users SET plan = 'changed', updated_at = now() WHERE customer_id IN "
        f"(SELECT customer_id FROM users ORDER BY customer_id LIMIT {CHANGED})",
        "",  # the users' new values are kept: the next phase's full sync reads them as any others
    ),
    "events": (
        "INSERT INTO events SELECT 'N' || lpad(i::text, 10, '0'), 'C' || lpad((1 + i % 1000)::text, 8, '0'), "
        "'purchase', now(), '/checkout', 99.5, 'EUR', 1, 'new' "
        f"FROM generate_series(1, {CHANGED}) AS t(i)",
        "DELETE FROM events WHERE source_message_id LIKE 'N%'",  # the next phase reads the same rows
    ),
}


def on_source(statement: str) -> list[tuple]:
    """Run one statement on the feed's source (committed at once) and return its rows."""
    if DUCKDB:
        import duckdb

        with duckdb.connect(DUCKDB) as source:  # closed at once: DuckDB lets one process open the file
            result = source.execute(statement)
            return result.fetchall() if result.description else []
    with psycopg.connect(PG + SOURCE, autocommit=True) as source:
        cursor = source.execute(statement)
        return cursor.fetchall() if cursor.description else []


def main() -> None:
    table = sys.argv[1]
    call_command("migrate", verbosity=0)
    feed = make_feed(table)
    if os.environ.get("WSYNC_BENCH_RULES"):
        from _rules import add_rules

        add_rules(feed)
    results = [sync(feed, "full sync, empty store"), sync(feed, "full re-sync, unchanged")]
    iterator = ITERATORS[table]
    ((high,),) = on_source(f"SELECT max({iterator}) FROM {table}")
    Feed.objects.filter(pk=feed.pk).update(sync_mode=SyncMode.INCREMENTAL)
    feed.refresh_from_db()
    Checkpoint.objects.update_or_create(
        feed=feed,
        defaults={
            "iterator": iterator,
            "iterator_type": "timestamptz",
            "value": windows.encode(windows.normalise(high, IteratorKind.TIMESTAMP, "UTC")),
        },
    )
    change, restore = CHANGES[table]
    on_source(change)
    try:
        what = "new events" if table == "events" else "changed rows"
        results.append(sync(feed, f"incremental after {CHANGED} {what}"))
    finally:
        if restore:
            on_source(restore)
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
