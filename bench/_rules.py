"""The rules `sync_bench.py --rules` gives its feed: three typical steps (docs/rules.md#speed)."""

from __future__ import annotations

from typing import Any

STEPS: list[dict[str, Any]] = [
    {"name": "Lowercase email", "action": {"type": "normalise_identity", "field": "identities.email"}},
    {
        "name": "Drop test users",
        "action": {"type": "drop_user"},
        "condition": {"field": "attributes.plan", "operator": "equals", "value": "test"},
    },
    # Per-output rules need feeds/outputs; until then the hash runs on the feed, over every row (more work).
    {"name": "Hash email", "action": {"type": "hash", "field": "identities.email"}},
]


def add_rules(feed: Any) -> None:
    """Activate the three steps on the feed."""
    from feeds.rules import service

    service.replace_steps(feed, STEPS)
    service.activate(feed, None)
