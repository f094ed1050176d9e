"""What a person does to a feed from the feed pages: the names the pages use for feeds.sync.service's actions.

The service records each action in the audit log; nothing is added here.
"""

from __future__ import annotations

from feeds.sync.service import delete_feed as delete
from feeds.sync.service import pause, restart_run, resume
from feeds.sync.service import run_now as run_sync

__all__ = ["delete", "pause", "restart_run", "resume", "run_sync"]
