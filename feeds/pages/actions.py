"""What a person does to a feed from the feed pages or the API: the engine's service, plus the audit log."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from feeds import audit
from feeds.models import Feed
from feeds.sync import queue, service
from feeds.sync.models import SyncRun


def run_sync(feed: Feed, user: Any, request: HttpRequest | None = None) -> SyncRun:
    """Return the queued manual run; raises service.RunRefused when one is already running."""
    run = service.request_run(feed, user, kind="manual")
    audit.record(feed.workspace, user, "run", feed.name, feed=feed, request=request)
    return run


def pause(feed: Feed, user: Any, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        service.pause(feed, user)
        audit.record(feed.workspace, user, "pause", feed.name, feed=feed, request=request)


def resume(feed: Feed, user: Any, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        service.resume(feed, user)
        audit.record(feed.workspace, user, "resume", feed.name, feed=feed, request=request)


def delete(feed: Feed, user: Any, request: HttpRequest | None = None) -> None:
    workspace, name = feed.workspace, feed.name
    with transaction.atomic():
        service.delete_feed(feed, user)
        audit.record(workspace, user, "delete", name, request=request)


def restart_run(run: SyncRun, user: Any, request: HttpRequest | None = None) -> bool:
    """Requeue a running run whose worker seems stuck; True when it was running and is now requeued."""
    with transaction.atomic():
        restarted = queue.restart(run)
        if restarted:
            audit.record(
                run.feed.workspace, user, "restart", f"run #{run.number}", feed=run.feed, request=request
            )
    return restarted
