"""Resolution of one page of new users in memory: the ordered row-by-row loop against the set-wise pass.

    nice -n -10 .venv/bin/python bench/resolve_bench.py [--rows 5000]

CPU microseconds a row (best of five), for a page of a first load: every row new, two identities and 15
attributes each, as bench/sync_bench.py's users. No database: this is the resolver's own cost
(docs/identity.md, "Resolution rules").
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import tempfile
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wsync_site.settings")
os.environ.setdefault("WSYNC_DEV", "1")
os.environ.setdefault("WSYNC_DATA_DIR", tempfile.mkdtemp(prefix="wsync-resolve-bench-"))
import django  # noqa: E402

django.setup()

from feeds.profiles.resolve import CREATE_AND_UPDATE, Resolver, StoreState, page_order, row_identities  # noqa: E402


def page(rows: int) -> list[dict]:
    return [
        {
            "environment": "production",
            "user_identities": {"customer_id": f"C{i:08d}", "email": f"user{i}@example.com"},
            "user_attributes": {f"a{k}": f"v{i % 13}" for k in range(15)},
            "events": [],
        }
        for i in range(rows)
    ]


def cpu_seconds(batches: list[dict], *, setwise: bool) -> float:
    mpids = itertools.count(1)
    resolver = Resolver(
        StoreState(),
        protection=CREATE_AND_UPDATE,
        feed_id=1,
        run_id=2,
        new_mpid=lambda: next(mpids),
        at="now",
    )
    keys = [str(i) for i in range(len(batches))]
    gc.disable()  # as the engine does during a page (engine._without_gc_pauses)
    started = time.process_time()
    identities = [row_identities(b) for b in batches]
    order, orders = page_order([datetime(2025, 1, 1, tzinfo=UTC)] * len(batches), ZoneInfo("UTC"))
    settled = resolver.create_unseen(batches, keys, identities, orders) if setwise else {}
    for i in order:
        if i not in settled:
            resolver.resolve(batches[i], keys[i], orders[i], identities[i])
    spent = time.process_time() - started
    gc.enable()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    batches = page(args.rows)
    for setwise in (False, True):
        best = min(cpu_seconds(batches, setwise=setwise) for _ in range(5))
        label = "set-wise pass, then the loop" if setwise else "row-by-row loop only"
        print(f"{label:30} {best * 1e6 / args.rows:6.2f} µs a row (CPU, best of 5)")


if __name__ == "__main__":
    main()
