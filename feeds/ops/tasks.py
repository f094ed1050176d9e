"""The operations step of the minute tick (feeds/tick.py); the logic lives in beats.py and alerts.py."""

from __future__ import annotations


def minute() -> None:
    """The minute tick's last step: the worker's beat, the alert rules, old drafts."""
    from feeds.ops import alerts, beats
    from feeds.wizard import abandoned

    beats.beat(beats.WORKER)
    alerts.evaluate()
    abandoned.remove_abandoned()
