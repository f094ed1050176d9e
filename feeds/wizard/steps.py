"""The wizard's ordered steps: their keys, labels and pages, and the step a draft was left at."""

from __future__ import annotations

from dataclasses import dataclass

from feeds.models import Feed, FeedState


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    url_name: str


# A step's key is its app's package name, label and URL namespace (feeds/map is the "map" step).
STEPS: tuple[Step, ...] = (
    Step("connect", "Connect", "connect:step"),
    Step("model", "Data model", "model:step"),
    Step("map", "Mapping", "map:step"),
    Step("schedule", "Sync settings", "schedule:step"),
    Step("review", "Review", "review:step"),
)
STEP_KEYS = tuple(s.key for s in STEPS)


def step_index(key: str) -> int:
    """Return the position of a step key in STEPS; raises ValueError for an unknown key."""
    return STEP_KEYS.index(key)


def remember_step(feed: Feed, key: str) -> None:
    """Record the furthest step a draft reached, so "Continue setup" lands there."""
    if feed.state == FeedState.DRAFT and step_index(key) > step_index(feed.wizard_step or "connect"):
        feed.wizard_step = key
        feed.save(update_fields=["wizard_step"])


def resume_url_name(feed: Feed) -> str:
    """Return the URL name of the step a draft was left at (for "Continue setup")."""
    key = feed.wizard_step if feed.wizard_step in STEP_KEYS else "connect"
    return STEPS[step_index(key)].url_name
