"""One provider under bench/provider_resync.py, in a process of its own with a fresh SQLite store.

Reads WSYNC_BENCH_PHASE ({provider, config, sql, standin_pid}) and prints a JSON list: a plain read of the
model through the provider's own client, a full sync into the empty store, and an unchanged full re-sync.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wsync_site.settings")
import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
from django.core.management import call_command  # noqa: E402

from feeds.accounts.models import Workspace  # noqa: E402
from feeds.mapping.rules import auto_mappings  # noqa: E402
from feeds.models import Connection, DataModel, Feed, FeedState, FieldTransformation, PipelineType, SyncMode  # noqa: E402
from feeds.sync import service  # noqa: E402
from feeds.warehouses.base import secret_fields  # noqa: E402
from feeds.warehouses.registry import open_warehouse, provider_class  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, run_to_end  # noqa: E402

PHASE = json.loads(os.environ["WSYNC_BENCH_PHASE"])
PROVIDER: str = PHASE["provider"]
CONFIG: dict[str, Any] = PHASE["config"]
SQL: str = PHASE["sql"]
BATCH = 5000


def make_feed() -> Feed:
    workspace = Workspace.objects.create(slug="bench", name="Bench")
    secret = secret_fields(provider_class(PROVIDER).fields)
    connection = Connection.objects.create(
        workspace=workspace,
        slug="source",
        name="Source",
        provider=PROVIDER,
        config={k: v for k, v in CONFIG.items() if k not in secret},
        secrets={k: v for k, v in CONFIG.items() if k in secret},
    )
    columns = open_warehouse(PROVIDER, connection.warehouse_config()).describe(SQL)
    model = DataModel.objects.create(
        workspace=workspace,
        slug="users",
        name="users",
        connection=connection,
        sql=SQL,
        columns_sql=SQL,
        columns=[{"name": c.name, "type": c.type.value, "warehouse_type": c.warehouse_type} for c in columns],
    )
    names = [c.name for c in columns]
    mapping = FieldTransformation.objects.create(
        workspace=workspace,
        slug="map",
        name="Map",
        mappings=auto_mappings(names, PipelineType.USER_ATTRIBUTES),
    )
    return Feed.objects.create(
        workspace=workspace,
        slug="bench",
        name="Bench",
        pipeline_type=PipelineType.USER_ATTRIBUTES,
        connection=connection,
        data_model=model,
        field_transformation=mapping,
        sync_mode=SyncMode.FULL,
        state=FeedState.ACTIVE,
        iterator="",
        iterator_type="",
    )


# --- a plain read of the model through each provider's own client (no wsync code) ------------


def _read_duckdb() -> int:
    import duckdb

    with duckdb.connect(CONFIG["path"], read_only=True) as connection:
        reader = connection.sql(SQL).fetch_arrow_reader(BATCH)
        return sum(batch.num_rows for batch in reader)


def _read_postgres() -> int:
    import psycopg

    c = CONFIG
    with (
        psycopg.connect(host=c["host"], port=c["port"], dbname=c["database"], user=c["user"]) as connection,
        connection.cursor(name="bench") as cursor,
    ):
        cursor.itersize = BATCH
        cursor.execute(SQL)
        return sum(1 for _ in cursor)


def _read_redshift() -> int:
    import redshift_connector

    c = CONFIG
    connection = redshift_connector.connect(
        host=c["host"],
        port=c["port"],
        database=c["database"],
        user=c["user"],
        password=c["password"],
        ssl=False,
    )
    try:
        cursor = connection.cursor()
        cursor.execute("BEGIN READ ONLY")
        cursor.execute(f"DECLARE bench CURSOR FOR {SQL}")
        count = 0
        while rows := cursor.execute(f"FETCH FORWARD {BATCH} FROM bench").fetchall():
            count += len(rows)
        cursor.execute("ROLLBACK")
        return count
    finally:
        connection.close()


def _read_snowflake() -> int:
    from tests.standins.snowflake import SnowflakeStandin, standin_connect

    standin = SnowflakeStandin(CONFIG["port"], CONFIG["password"], "", "")
    with standin_connect(standin, CONFIG["database"]) as connection:
        cursor = connection.cursor()
        cursor.execute(SQL)
        return sum(batch.num_rows for batch in cursor.fetch_arrow_batches())


def _read_bigquery() -> int:
    from google.cloud import bigquery

    from tests.standins.bigquery import BigQueryStandin, admin_client

    client = admin_client(BigQueryStandin(int(CONFIG["api_endpoint"].rsplit(":", 1)[1]), "", ""))
    dataset = f"{CONFIG['project_id']}.{CONFIG['dataset_id']}"
    result = client.query(SQL, job_config=bigquery.QueryJobConfig(default_dataset=dataset)).result(
        page_size=BATCH
    )
    return sum(page.num_items for page in result.pages)  # the JSON pages as the client parsed them


def _read_databricks() -> int:
    import delta_sharing

    profile = Path(os.environ["WSYNC_DATA_DIR"]) / "bench.share"
    profile.write_text(CONFIG["profile_file"])
    table = f"{profile}#{CONFIG['provider']}.{SQL}"
    return len(delta_sharing.load_as_pandas(table))


READERS: dict[str, Callable[[], int]] = {
    "duckdb": _read_duckdb,
    "postgres": _read_postgres,
    "redshift": _read_redshift,
    "snowflake": _read_snowflake,
    "bigquery": _read_bigquery,
    "databricks": _read_databricks,
}


CLIENTS = {
    "duckdb": "duckdb",
    "postgres": "psycopg",
    "redshift": "redshift_connector",
    "snowflake": "snowflake.connector",
    "bigquery": "google.cloud.bigquery",
    "databricks": "delta_sharing",
}


def step(name: str, work: Callable[[], int]) -> dict[str, Any]:
    """Measure one step; add the stand-in process's CPU seconds over it."""
    standin = psutil.Process(PHASE["standin_pid"]) if PHASE["standin_pid"] else None
    before = sum(standin.cpu_times()[:2]) if standin else 0.0
    result = measure(name, work)
    result["standin_cpu_seconds"] = sum(standin.cpu_times()[:2]) - before if standin else None
    return {"provider": PROVIDER, "step": name, **result}


def sync(feed: Feed, name: str) -> dict[str, Any]:
    run = service.request_run(feed, None)

    def work() -> int:
        return run_to_end(run, f"{PROVIDER} {name}")

    result = step(name, work)
    result["timings"] = run.timings
    result["counts"] = dict(run.count_items)
    return result


def main() -> None:
    call_command("migrate", verbosity=0)
    importlib.import_module(CLIENTS[PROVIDER])  # the plain read does not pay for importing its client
    results = [step("plain client read", READERS[PROVIDER])]
    feed = make_feed()
    results.append(sync(feed, "full sync"))
    results.append(sync(feed, "unchanged re-sync"))
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
