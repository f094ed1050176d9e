"""Build the Delta tables the Delta Sharing stand-in serves: `python -m tests.standins.delta_tables ROOT`.

Run it as a subprocess, never inside pytest: deltalake 1.6.6 can abort at interpreter exit, so the
script ends with os._exit(0) once everything is flushed (docs/providers.md, "What the stand-ins work
around").

Layout: ROOT/<share>/<schema>/<table>/ (a Delta table each), which is how the server finds them.
"""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

SHARE = "wsync_share"
SCHEMA = "crm"
USERS_ROWS = 200_000
USERS_FILES = 8
# Ids in [BOUNDARY_FIRST_ID, BOUNDARY_LAST_ID] all share one updated_at value, spread over every file.
BOUNDARY_FIRST_ID = 100_000
BOUNDARY_LAST_ID = 102_999
BASE = datetime(2024, 3, 1, tzinfo=UTC)
BOUNDARY = BASE + timedelta(seconds=BOUNDARY_FIRST_ID, microseconds=123_456)


def updated_at(user_id: int) -> datetime:
    """The users table's iterator value for an id (shared by the stand-in and the tests)."""
    if BOUNDARY_FIRST_ID <= user_id <= BOUNDARY_LAST_ID:
        return BOUNDARY
    return BASE + timedelta(seconds=user_id)


def _users_table(ids: list[int]) -> Any:
    import pyarrow as pa

    stamps = [updated_at(i) for i in ids]
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "email": pa.array([f"user{i}@example.com" for i in ids]),
            "updated_at": pa.array(stamps, pa.timestamp("us", tz="UTC")),
            "updated_day": pa.array([s.date() for s in stamps], pa.date32()),
            "updated_ms": pa.array([int(s.timestamp() * 1000) for s in stamps], pa.int64()),
            "updated_s": pa.array([int(s.timestamp()) for s in stamps], pa.int64()),
            "plan": pa.array(["pro" if i % 3 else "free" for i in ids]),
        }
    )


def build_users(path: Path) -> None:
    """200,000 rows over several files, shuffled so no file is sorted by the iterator."""
    from deltalake import write_deltalake

    ids = list(range(1, USERS_ROWS + 1))
    random.Random(7).shuffle(ids)
    chunk = USERS_ROWS // USERS_FILES
    for start in range(0, USERS_ROWS, chunk):
        write_deltalake(str(path), _users_table(ids[start : start + chunk]), mode="append")


def build_types(path: Path) -> None:
    """One row per interesting value: zoned microseconds, decimals, NULLs, unicode, arrays, structs, maps."""
    import pyarrow as pa
    from deltalake import write_deltalake

    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": pa.array(["Zoë Ñandú 東京 🚀", "", None]),
            "created_at": pa.array(
                [
                    datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                    datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
                    None,
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "birthday": pa.array([date(1990, 5, 17), date(2024, 2, 29), None], pa.date32()),
            "amount": pa.array(
                [Decimal("12345678901234.5678"), Decimal("-0.0001"), None], pa.decimal128(18, 4)
            ),
            "big": pa.array(
                [Decimal("1234567890123456789012345678.0123456789"), None, None], pa.decimal128(38, 10)
            ),
            "ratio": pa.array([0.25, None, -1.5], pa.float64()),
            "visits": pa.array([7, None, 0], pa.int32()),
            "active": pa.array([True, False, None], pa.bool_()),
            "tags": pa.array([["vip", "ünï"], [], None], pa.list_(pa.string())),
            "address": pa.array(
                [{"city": "Kraków", "zip": 30001}, None, {"city": None, "zip": 1}],
                pa.struct([("city", pa.string()), ("zip", pa.int32())]),
            ),
            "attributes": pa.array([[("tier", "gold")], None, []], pa.map_(pa.string(), pa.string())),
            "region": pa.array(["eu", "us", "eu"]),
        }
    )
    write_deltalake(str(path), table, partition_by=["region"])


def build_ntz(path: Path) -> None:
    """A table with a TIMESTAMP_NTZ column, which Delta Sharing cannot serve as parquet."""
    import pyarrow as pa
    from deltalake import write_deltalake

    table = pa.table(
        {
            "id": pa.array([1], pa.int64()),
            "local_time": pa.array([datetime(2024, 1, 1, 9, 30)], pa.timestamp("us")),  # noqa: DTZ001
        }
    )
    write_deltalake(str(path), table)


def main(root: Path) -> None:
    schema_dir = root / SHARE / SCHEMA
    schema_dir.mkdir(parents=True, exist_ok=True)
    build_users(schema_dir / "users")
    build_types(schema_dir / "types")
    build_ntz(schema_dir / "events_ntz")
    (root / SHARE / "empty_schema").mkdir(exist_ok=True)
    (root / "forbidden_share" / SCHEMA).mkdir(parents=True, exist_ok=True)
    print("built", flush=True)


def build_from_duckdb(path: Path, duckdb_file: str, table: str) -> None:
    """A table copied from a DuckDB file, in files of 50,000 rows (bench/provider_resync.py)."""
    import duckdb
    from deltalake import write_deltalake

    with duckdb.connect(duckdb_file, read_only=True) as connection:
        reader = connection.sql(f"SELECT * FROM {table}").fetch_arrow_reader(50_000)
        for batch in reader:
            write_deltalake(str(path), batch, mode="append")


if __name__ == "__main__":
    if len(sys.argv) == 4:  # ROOT DUCKDB_FILE TABLE: serve that one table (the bench)
        build_from_duckdb(Path(sys.argv[1]) / SHARE / SCHEMA / sys.argv[3], sys.argv[2], sys.argv[3])
        print("built", flush=True)
    else:
        main(Path(sys.argv[1]))
    sys.stdout.flush()
    sys.stderr.flush()
    # deltalake can abort at interpreter exit (rc 134); leave before its destructors run.
    os._exit(0)
