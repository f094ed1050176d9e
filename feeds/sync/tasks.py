"""django-q2 tasks: thin shims that take an id; all logic lives in engine.py and service.py."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def run_feed(run_id: int) -> None:
    """Execute one sync run (see feeds.sync.engine.run)."""
    from feeds.sync import engine

    engine.run(run_id)


def tick() -> None:
    """The minute tick's sync step (feeds/tick.py): start what is due, for every feed.

    One feed's failure (a locked database, say) does not keep the others from their tick.
    """
    from feeds.sync import scheduling, service

    for feed_id in scheduling.feeds_to_tick():
        try:
            service.tick(feed_id)
        except Exception:
            log.exception("the tick of feed %s failed; the next tick tries again", feed_id)
