"""What one connection receives of a page's changes, as mParticle batches (the interchange shape).

`build` is the one place a connection's choices (what to send, the attribute allow-list) shape its
batches; per-connection rules will apply here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from feeds.outputs.diff import Change
from feeds.outputs.models import Sends


@dataclass(frozen=True)
class Selection:
    """A connection's choices, read once per page."""

    sends: str
    attributes: frozenset[str]  # the allow-list; empty: every attribute
    removals: bool  # does the destination take removals?
    environment: str


def build(selection: Selection, changes: Iterable[Change]) -> list[dict]:
    """Return one mParticle batch per changed profile this connection receives; unchanged ones are absent."""
    attributes = selection.sends in (Sends.ATTRIBUTES, Sends.BOTH)
    events = selection.sends in (Sends.EVENTS, Sends.BOTH)
    allowed = selection.attributes
    out = []
    for change in changes:
        batch: dict = {"environment": selection.environment, "mpid": change.mpid}
        touched = False
        if attributes:
            if allowed:
                values = {k: v for k, v in change.attributes.items() if k in allowed}
                removed = [k for k in change.attributes_removed if k in allowed]
            else:
                values, removed = dict(change.attributes), list(change.attributes_removed)
            if values:
                batch["user_attributes"] = values
            if removed and selection.removals:
                batch["deleted_user_attributes"] = removed
            touched = bool(values or removed or change.identities_changed or change.identities_removed)
        if events and change.events:
            batch["events"] = change.events
            touched = True
        if touched:
            identities: dict = dict(change.identities)
            if attributes:
                identities.update(dict.fromkeys(change.identities_removed))  # null: released
            batch["user_identities"] = identities
            out.append(batch)
    return out
