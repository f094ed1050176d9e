"""Benchmark: what the rules add to a page, measured in one process so the machine's load hits both sides alike.

    .venv/bin/python bench/rules_bench.py [--rows N] [--page-size N]

Maps N rows shaped like sync_bench.py's users table (17 columns, auto-mapped) page by page, and for each page
times the mapping alone and then the three steps of bench/_rules.py on its batches (lowercase email, drop
users whose plan is "test", hash email), alternating so both see the same load. Prints µs per row and the
rules' cost as a share of the mapping. sync_bench.py --rules gives the end-to-end figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wsync_site.test_settings")
import django  # noqa: E402

django.setup()

from _rules import STEPS  # noqa: E402

from feeds.mapping.pages import compile_mappings, map_page  # noqa: E402
from feeds.mapping.rules import auto_mappings  # noqa: E402
from feeds.models import PipelineType  # noqa: E402
from feeds.rules.execute import CompiledRules  # noqa: E402
from feeds.rules.steps import clean_steps  # noqa: E402
from feeds.warehouses.base import Column, Page  # noqa: E402

COLUMNS = [
    "customer_id", "email", "first_name", "last_name", "plan", "score", "updated_at",
    *(f"a{i}" for i in range(1, 11)),
]  # fmt: skip
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def page(start: int, size: int) -> Page:
    rows = [
        (
            f"C{i:08d}",
            f"User{i}@Example.com",
            "Ada",
            "Lovelace",
            ("free", "starter", "pro", "test")[i % 4],
            (i * 7919) % 1000,
            T0 + timedelta(seconds=i),
            f"v{i % 13}",
            i % 17,
            Decimal(i % 19) * Decimal("1.5"),
            i % 2 == 0,
            f"x{i % 23}",
            i % 29,
            f"y{i % 31}",
            i % 37,
            f"z{i % 41}",
            i % 43,
        )  # fmt: skip
        for i in range(start, start + size)
    ]
    return Page(tuple(Column(c, "string", True) for c in COLUMNS), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=5000)
    args = parser.parse_args()
    compiled = compile_mappings(auto_mappings(COLUMNS, PipelineType.USER_ATTRIBUTES, "updated_at"), COLUMNS)
    rules = CompiledRules(clean_steps(STEPS))
    mapping = applying = 0.0
    kept = 0
    for start in range(0, args.rows, args.page_size):
        rows = page(start, min(args.page_size, args.rows - start))
        began = time.perf_counter()
        mapped = map_page(
            rows, compiled, feed_id=1, environment="production", iterator="updated_at", timezone="UTC"
        )
        mapped_at = time.perf_counter()
        kept += len(rules.apply(mapped).batches)
        mapping += mapped_at - began
        applying += time.perf_counter() - mapped_at
    per_row = 1e6 / args.rows
    print(f"rows {args.rows:,} (kept after the rules: {kept:,}; a quarter have plan 'test')")
    print(f"map          {mapping:8.2f} s  {mapping * per_row:6.2f} µs/row")
    print(
        f"rules        {applying:8.2f} s  {applying * per_row:6.2f} µs/row  ({applying / mapping:.1%} of the mapping)"
    )


if __name__ == "__main__":
    main()
