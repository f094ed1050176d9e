"""django-q2 task shims for operations; the logic lives in beats.py and alerts.py."""

from __future__ import annotations


def minute() -> None:
    """Run every minute by the `wsync-ops-minute` Schedule: the worker's beat, the alert rules, old drafts."""
    from feeds.ops import alerts, beats
    from feeds.wizard import abandoned

    beats.beat(beats.WORKER)
    alerts.evaluate()
    abandoned.remove_abandoned()
