"""A per-credential fixed-window request counter in the Django cache (requests per minute)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

WINDOW = 60  # seconds


def limit() -> int:
    return int(getattr(settings, "WSYNC_API_RATE_LIMIT", 600))


def retry_after(key: str, now: float | None = None) -> int | None:
    """Count one request for `key`; return the seconds to wait when over the limit, else None."""
    now = time.time() if now is None else now
    window = int(now // WINDOW)
    cache_key = f"wsync-api-rate:{key}:{window}"
    # add() is a no-op when the counter exists, so concurrent first requests do not reset it.
    cache.add(cache_key, 0, WINDOW + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, WINDOW + 5)
        count = 1
    if count <= limit():
        return None
    return max(1, int((window + 1) * WINDOW - now))
