"""Is this wsync working: the database, the broker, a live worker and a ticking scheduler (GET /healthz)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from feeds.ops import beats

BROKER_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # plain words, never a secret (no URL, password or host list)
    age_seconds: float | None = None


def report() -> list[Check]:
    """Return one Check per part; never raises."""
    return [_database(), _broker(), *_beats()]


def healthy(checks: list[Check]) -> bool:
    return all(c.ok for c in checks)


def as_json(checks: list[Check]) -> dict[str, object]:
    """Return the JSON /healthz answers with."""
    return {
        "ok": healthy(checks),
        "checks": {c.name: {k: v for k, v in asdict(c).items() if k != "name"} for c in checks},
    }


def _database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means the same thing here: the database is down
        return Check("database", False, f"The database does not answer ({type(error).__name__}).")
    return Check("database", True, "answers")


def _broker() -> Check:
    from django_q.brokers import get_broker

    # A broker host that drops packets would hold the probe for the client's own (long) timeout: a load
    # balancer wants its answer sooner. The thread is left to finish on its own.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        pool.submit(_ping, get_broker()).result(timeout=BROKER_TIMEOUT_SECONDS)
    except FutureTimeout:
        return Check("broker", False, f"The task broker did not answer within {BROKER_TIMEOUT_SECONDS} s.")
    except Exception as error:  # the broker's own client raised: it does not answer
        return Check("broker", False, f"The task broker does not answer ({type(error).__name__}).")
    finally:
        pool.shutdown(wait=False)
    return Check("broker", True, "answers")


def _ping(broker: Any) -> None:
    try:
        broker.ping()
    finally:
        connections.close_all()  # this thread's own database connection, if the broker opened one


def _beats() -> list[Check]:
    limit = settings.WSYNC_HEALTH_STALE_SECONDS
    try:
        seen = {name: beats.last(name) for name in (beats.WORKER, beats.SCHEDULER)}
    except Exception:  # the database check above says why
        return [
            Check(name, False, "unknown: the database does not answer")
            for name in (beats.WORKER, beats.SCHEDULER)
        ]
    return [_age_check(name, at, limit) for name, at in seen.items()]


def _age_check(name: str, at: datetime | None, limit: int) -> Check:
    if at is None:
        return Check(name, False, f"no {name} has been seen yet; start one with `manage.py qcluster`")
    age = (timezone.now() - at).total_seconds()
    if age > limit:
        return Check(name, False, f"last seen {age:.0f} s ago (more than {limit} s)", round(age, 1))
    return Check(name, True, f"last seen {age:.0f} s ago", round(age, 1))
