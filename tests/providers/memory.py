"""Watch a streaming read's memory: Python objects (tracemalloc), Arrow buffers and the process RSS.

tracemalloc sees only Python's allocator; Arrow buffers and driver buffers live outside it. So
each page also samples pyarrow's allocator and the process's resident set size, and the test
bounds the growth over the baseline taken after the first page (imports and connection done).
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil
import pyarrow as pa


@dataclass
class MemoryProbe:
    sizes: list[int] = field(default_factory=list)
    python_peak: int = 0
    arrow_peak: int = 0  # bytes held by pyarrow's memory pool, sampled between pages
    rss_growth: int = 0  # resident set size above the baseline, sampled between pages

    def watch(self, pages: Iterable[Any]) -> Iterator[Any]:
        """Yield the pages, sampling memory between them; the first page sets the baseline."""
        process = psutil.Process()
        iterator = iter(pages)
        first = next(iterator, None)
        if first is None:
            return
        baseline = process.memory_info().rss
        tracemalloc.start()
        try:
            for page in itertools.chain([first], iterator):
                self.sizes.append(len(page.rows))
                yield page
                del page
                self.arrow_peak = max(self.arrow_peak, pa.total_allocated_bytes())
                self.rss_growth = max(self.rss_growth, process.memory_info().rss - baseline)
            self.python_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
