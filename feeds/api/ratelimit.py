"""A per-credential fixed-window request counter in the shared Django cache (requests per minute).

The cache is Redis when WSYNC_REDIS_URL is set, else the database's cache table (wsync_site.settings):
every web process counts into the same counter, so the limit is per credential, not per process.
Redis increments atomically; the database cache reads and writes, so two processes counting the same
request at the same instant may both see the same count (the limit can be passed by a request or two).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

WINDOW = 60  # seconds


def limit() -> int:
    return int(settings.WSYNC_API_RATE_LIMIT)


@dataclass(frozen=True)
class Quota:
    """One counted request: the limit, what is left of it in this window, and when the window ends."""

    limit: int
    used: int
    reset: int  # seconds until the window ends and the count starts again

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def headers(self) -> dict[str, str]:
        """Return mParticle's rate-limit header family (see the README's API section for wsync's names)."""
        return {
            "X-mp-rate-limit-limit": str(self.limit),
            "X-mp-rate-limit-remaining": str(self.remaining),
            "X-mp-rate-limit-reset": str(self.reset),
            "X-mp-rate-limit-percentage-used": str(min(100, self.used * 100 // max(1, self.limit))),
        }


def count(key: str, now: float | None = None) -> Quota:
    """Count one request for `key` and return where its credential stands."""
    now = time.time() if now is None else now
    window = int(now // WINDOW)
    cache_key = f"wsync-api-rate:{key}:{window}"
    # add() is a no-op when the counter exists, so concurrent first requests do not reset it.
    cache.add(cache_key, 0, WINDOW + 5)
    try:
        used = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, WINDOW + 5)
        used = 1
    return Quota(limit(), used, max(1, int((window + 1) * WINDOW - now)))


def retry_after(key: str, now: float | None = None) -> int | None:
    """Count one request for `key`; return the seconds to wait when over the limit, else None."""
    quota = count(key, now)
    return quota.reset if quota.exceeded else None
