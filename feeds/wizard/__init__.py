"""The setup wizard's domain (a package, not an app; the step apps feeds/connect, model, map, schedule and
review hold the pages). `from feeds import wizard` gives the functions the steps call:

- `steps`: the ordered steps and where a draft was left;
- `draft`: the draft overlay (one class per section in `draft.SECTIONS`) and a live feed's pending
  changes;
- `staging`: the Connect step's save, and a live feed's Connect edits staged (secrets encrypted);
- `frame`: what every step page shares (imported directly by the step views: it needs the pages' access
  check);
- connection saving itself is `feeds.connections`, shared with the API.
"""

from __future__ import annotations

from feeds.connections import save_connection, unique_slug
from feeds.wizard.draft import (
    SECTIONS,
    apply_pending,
    column_names,
    create_draft,
    discard_pending,
    effective_feed,
    has_pending,
    is_live,
    model_is_probed,
    save_section,
    section_values,
    unique_feed_name,
)
from feeds.wizard.staging import (
    ConnectionEdit,
    connect_feed,
    name_taken_message,
    pending_conflicts,
    rotate_pending_secrets,
    stage_connect,
    step_connection,
)
from feeds.wizard.steps import STEP_KEYS, STEPS, Step, remember_step, resume_url_name, step_index

__all__ = [
    "SECTIONS",
    "STEPS",
    "STEP_KEYS",
    "ConnectionEdit",
    "Step",
    "apply_pending",
    "column_names",
    "connect_feed",
    "create_draft",
    "discard_pending",
    "effective_feed",
    "has_pending",
    "is_live",
    "model_is_probed",
    "name_taken_message",
    "pending_conflicts",
    "remember_step",
    "resume_url_name",
    "rotate_pending_secrets",
    "save_connection",
    "save_section",
    "section_values",
    "stage_connect",
    "step_connection",
    "step_index",
    "unique_feed_name",
    "unique_slug",
]
