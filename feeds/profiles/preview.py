"""preview_batches: what a page would do to the profile store, without writing (the review step)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from feeds.models import Feed
from feeds.profiles.resolve import RowOutcome
from feeds.profiles.store import resolve_page


@dataclass(frozen=True)
class ProfileChange:
    row_key: str
    mpid: int | None  # None for a profile the sync would create
    outcome: str  # create | update | unchanged | reject | skip
    reason: str = ""
    identities_before: dict[str, str] = field(default_factory=dict)
    identities_after: dict[str, str] = field(default_factory=dict)
    attributes_before: dict[str, Any] = field(default_factory=dict)
    attributes_after: dict[str, Any] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)


def preview_batches(*, feed: Feed, batches: list[dict], row_keys: list[str]) -> list[ProfileChange]:
    """Return each row's change, in row order, resolved exactly like apply_batches but writing nothing."""
    temporary = itertools.count(-1, -1)  # stand-in MPIDs for profiles the sync would create
    _, outcomes = resolve_page(
        feed, None, batches, row_keys, [], new_mpid=lambda: next(temporary), snapshots=True
    )
    changes: list[ProfileChange | None] = [None] * len(batches)
    for i, outcome in outcomes:
        changes[i] = _change(outcome, batches[i])
    return [c for c in changes if c is not None]


def _change(outcome: RowOutcome, batch: dict) -> ProfileChange:
    profile = outcome.profile
    if profile is None:
        return ProfileChange(outcome.row_key, None, outcome.outcome, outcome.reason)
    return ProfileChange(
        outcome.row_key,
        profile.mpid if profile.mpid > 0 and not profile.created else None,
        outcome.outcome,
        outcome.reason,
        outcome.identities_before,
        outcome.identities_after,
        outcome.attributes_before,
        outcome.attributes_after,
        list(batch.get("events") or []),
    )
