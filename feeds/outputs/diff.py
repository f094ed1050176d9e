"""What a page changed, profile by profile, as outputs need it: from the store's ApplyResult.

The store reports the profiles it wrote (with their state before and after the page) and the events it
wrote with their profiles; this turns them into one Change per profile. An attribute rewritten with the
same value (only its run or order moved) is not a change; unchanged profiles are absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from feeds.profiles.resolve import ProfileState


@dataclass
class Change:
    """One profile's part of a page's diff."""

    mpid: int
    created: bool
    identities: dict[str, str]  # all of the profile's identities after the page (to address it downstream)
    identities_changed: dict[str, str]  # types the page set (new, or another value)
    identities_removed: list[str]  # types the page released
    attributes: dict[str, Any]  # attributes the page created or gave another value
    attributes_removed: list[str]
    events: list[dict] = field(default_factory=list)  # written for the first time: {"event_type", "data"}


def page_changes(result: Any) -> list[Change]:
    """Return the page's changes (ApplyResult → one Change per profile it changed or wrote an event for)."""
    if result is None:
        return []
    found: dict[int, Change] = {}
    for profile in result.changed:
        change = _change(profile)
        if change is not None:
            found[profile.mpid] = change
    for profile, event in result.events:
        change = found.get(profile.mpid) or found.setdefault(profile.mpid, _bare(profile))
        data = {"source_message_id": event["event_id"], **(event["data"] or {})}
        change.events.append({"event_type": event["event_type"], "data": data})
    return list(found.values())


def _change(p: ProfileState) -> Change | None:
    before, after, ids_before = p.attributes_before, p.attributes, p.identities_before
    # A profile's first page (every profile of a first load) has nothing before: all of it is new.
    if before:
        attributes = {k: v[0] for k, v in after.items() if k not in before or before[k][0] != v[0]}
        removed = sorted(before.keys() - after.keys())
    else:
        attributes, removed = {k: v[0] for k, v in after.items()}, []
    if ids_before:
        set_ids = {t: v for t, v in p.identities.items() if ids_before.get(t) != v}
        released = sorted(ids_before.keys() - p.identities.keys())
    else:
        set_ids, released = dict(p.identities), []
    if not (attributes or removed or set_ids or released or p.created):
        return None
    return Change(p.mpid, p.created, dict(p.identities), set_ids, released, attributes, removed)


def _bare(p: ProfileState) -> Change:
    return Change(p.mpid, False, dict(p.identities), {}, [], {}, [])
