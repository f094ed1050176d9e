"""Feed and connection health after a run: which object a permanent failure faults, and healing.

A bad password or an unknown host is the connection's problem, shared by every feed that uses it,
so the connection is faulted too; a vanished column or bad SQL is the feed's alone.
"""

from __future__ import annotations

import logging
from typing import Any

from feeds.models import Connection, Feed, Health
from feeds.warehouses.base import WarehouseError
from feeds.warehouses.registry import provider_class

log = logging.getLogger(__name__)


class ConnectionFailed(WarehouseError):
    """A permanent warehouse error that comes from the connection (credentials, host, file)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


def inactive_message(connection: Connection) -> str:
    """Return why a feed on an inactive connection does not run, and how to fix it."""
    return (
        f"The connection “{connection.name}” is inactive, so wsync does not read from it. Set the "
        f"connection's state to active again (API: PUT connections/{connection.slug} with "
        '"state": "active"), or choose another connection on the feed\'s Connect step; then run the '
        "sync again."
    )


def from_connection(provider: Any, connection: Connection, error: WarehouseError) -> bool:
    """Return True when a permanent error is the connection's rather than the data model's.

    An error about a connection setting (password, host, path...) is; one about the SQL, the
    iterator or the timestamp field is not. When the error names no field, one round trip of
    check() tells: it fails permanently only when the connection itself is broken.
    """
    if error.field is not None:
        return error.field in {f.name for f in provider_class(connection.provider).fields}
    try:
        result = provider.check()
    except Exception:  # check() should never raise; if it does, keep the run's own message
        log.exception("check() raised while classifying a run's error")
        return False
    return not result.ok and result.permanent


def fault(feed_id: int, connection_id: int | None, message: str) -> None:
    """Mark the feed (and the connection, when given) faulted with the message."""
    errors = [{"message": message}]
    Feed.objects.filter(pk=feed_id).update(status=Health.FAULTED, errors=errors)
    if connection_id is not None:
        Connection.objects.filter(pk=connection_id).update(status=Health.FAULTED, errors=errors)


def heal(feed: Feed) -> None:
    """After a successful run: the feed and its connection are healthy again."""
    Feed.objects.filter(pk=feed.pk, status=Health.FAULTED).update(status=Health.HEALTHY, errors=[])
    if feed.connection_id is not None:
        Connection.objects.filter(pk=feed.connection_id, status=Health.FAULTED).update(
            status=Health.HEALTHY, errors=[]
        )
