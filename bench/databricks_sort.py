"""Peak memory of a windowed Databricks (Delta Sharing) read of a large shared table, sorted by DuckDB.

    .venv/bin/python bench/databricks_sort.py [ROWS]      # default 2,000,000 rows (~0.8 GB as Arrow)

Builds a shuffled Delta table in a temp folder (in a subprocess: deltalake can abort at exit), serves it
with the tests' Delta Sharing stand-in, and reads it through the real provider twice, each in a fresh
process: in full (no window: streamed file by file) and as one window ordered by the iterator (every row
goes through DuckDB's out-of-core sort). Prints rows, seconds and peak RSS (sampled every 50 ms) for each,
the table's size as Arrow, and the ratio of the windowed read's peak to it.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "/sharing"

BUILD = r"""
import os, random, sys
from datetime import UTC, datetime, timedelta
import pyarrow as pa
from deltalake import write_deltalake
rows, path = int(sys.argv[1]), sys.argv[2]
ids = list(range(1, rows + 1))
random.Random(7).shuffle(ids)
base = datetime(2024, 1, 1, tzinfo=UTC)
files = 16
chunk = rows // files
arrow_bytes = 0
for n in range(files):
    part = ids[n * chunk:(n + 1) * chunk] if n < files - 1 else ids[n * chunk:]
    table = pa.table({
        "id": pa.array(part, pa.int64()),
        "email": pa.array([f"user{i}@example.com" for i in part]),
        "updated_at": pa.array([base + timedelta(seconds=i) for i in part], pa.timestamp("us", tz="UTC")),
        "note": pa.array([f"{i:012d}-" * 28 for i in part]),
    })
    arrow_bytes += table.nbytes
    write_deltalake(path, table, mode="append")
print(arrow_bytes, flush=True)
os._exit(0)
"""

READ = r"""
import os, sys, json
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wsync_site.test_settings")
import django
django.setup()
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
from _measure import measure
from feeds.warehouses.base import ReadWindow
from feeds.warehouses.databricks.provider import DatabricksWarehouse
config, windowed = json.loads(sys.argv[1]), sys.argv[2] == "1"
warehouse = DatabricksWarehouse(config)
window = ReadWindow("updated_at", "timestamp") if windowed else None
def step():
    rows, previous = 0, None
    for page in warehouse.read("SELECT id, email, updated_at, note FROM big", window, 5000):
        rows += len(page.rows)
        if windowed:
            assert previous is None or previous <= page.rows[0][2]
            previous = page.rows[-1][2]
    return rows
print(json.dumps(measure("windowed" if windowed else "full", step)))
"""


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    with tempfile.TemporaryDirectory(prefix="wsync-bench-delta-") as folder:
        table = Path(folder) / "bench_share" / "crm" / "big"
        table.parent.mkdir(parents=True)
        built = subprocess.run(
            [sys.executable, "-c", BUILD, str(rows), str(table)], capture_output=True, text=True, check=True
        )
        arrow_mb = int(built.stdout.split()[-1]) / 2**20
        token = secrets.token_urlsafe(16)
        command = [sys.executable, "-m", "tests.standins.delta_sharing_server", "--root", folder]
        server = subprocess.Popen(
            [*command, f"--token={token}", f"--prefix={PREFIX}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline().strip())
            profile = {
                "shareCredentialsVersion": 1,
                "endpoint": f"http://127.0.0.1:{port}{PREFIX}",
                "bearerToken": token,
            }
            config = {"provider": "bench_share", "schema": "crm", "profile_file": json.dumps(profile)}
            print(f"table: {rows:,} rows, {arrow_mb:,.0f} MB as Arrow")
            results = {}
            for windowed in ("0", "1"):
                done = subprocess.run(
                    [sys.executable, "-c", READ, json.dumps(config), windowed],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    sys.exit(
                        f"the {'windowed' if windowed == '1' else 'full'} read failed:\n{done.stderr[-3000:]}"
                    )
                result = json.loads([ln for ln in done.stdout.splitlines() if ln.startswith("{")][-1])
                assert done.stdout.lstrip().startswith("{"), f"the read printed: {done.stdout[:200]!r}"
                results[result["name"]] = result
                print(
                    f"{result['name']:>8} read: {result['rows']:,} rows in {result['seconds']:.1f} s, "
                    f"peak RSS {result['peak_rss_mb']:,.0f} MB"
                )
            windowed_peak = results["windowed"]["peak_rss_mb"]
            print(f"windowed peak RSS / table as Arrow: {windowed_peak / arrow_mb:.2f}")
            print(
                f"windowed peak RSS - full read's: {windowed_peak - results['full']['peak_rss_mb']:,.0f} MB"
            )
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
