"""django-q2 tasks: thin shims that take an id; all logic lives in engine.py and service.py."""

from __future__ import annotations


def run_feed(run_id: int) -> None:
    """Execute one sync run (see feeds.sync.engine.run)."""
    from feeds.sync import engine

    engine.run(run_id)


def tick_feed(feed_id: int) -> None:
    """Called every minute by the feed's django-q2 Schedule: start what is due."""
    from feeds.sync import service

    service.tick(feed_id)
