"""django-q2 tasks: thin shims that take an id; the logic is in delivery.py and service.py."""

from __future__ import annotations


def deliver(output_id: int) -> None:
    """Drain one output's outbox (see feeds.outputs.delivery.drain)."""
    from feeds.outputs import delivery

    delivery.drain(output_id)


def tick() -> None:
    """The minute tick's outputs step: start draining outputs with due batches, prune delivered batches."""
    from feeds.outputs import service

    service.tick()


def send_history(connection_id: int) -> None:
    """Queue what the store holds from a feed for a newly connected output that asked for its history."""
    from feeds.outputs import service

    service.send_history(connection_id)
