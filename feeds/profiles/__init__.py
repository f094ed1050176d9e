"""The profile store. `from feeds.profiles import apply_batches` works; the import is lazy so the app loads first."""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "apply_batches": "feeds.profiles.store",
    "ApplyResult": "feeds.profiles.store",
    "preview_batches": "feeds.profiles.preview",
    "ProfileChange": "feeds.profiles.preview",
    "IdentityConflict": "feeds.profiles.resolve",
    "search_profiles": "feeds.profiles.search",
    "profile_facts": "feeds.profiles.search",
    "profile_events": "feeds.profiles.search",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _EXPORTS:
        raise AttributeError(name)
    return getattr(importlib.import_module(_EXPORTS[name]), name)
