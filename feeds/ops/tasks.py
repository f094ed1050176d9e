"""The operations step of the minute tick (feeds/tick.py); the logic lives in beats.py and alerts.py."""

from __future__ import annotations


def minute() -> None:
    """The minute tick's last step: the worker's beat, then the alert rules."""
    from feeds.ops import alerts, beats

    beats.beat(beats.WORKER)
    alerts.evaluate()
