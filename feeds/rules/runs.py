"""The engine's side of rules: which version a run applies (fixed at its first page) and applying it to a page.

The engine calls `apply_for_run` once per page, between mapping and resolving (docs/architecture.md).
"""

from __future__ import annotations

from feeds.mapping.pages import MappedPage
from feeds.rules.execute import CompiledRules
from feeds.rules.models import RuleSet, RunRules
from feeds.sync.models import SyncRun

# The compiled rules ride on the run object the engine passes for every page of an attempt, so they are
# compiled once per attempt and never mistaken for another run's.
_ATTRIBUTE = "_wsync_compiled_rules"


def apply_for_run(run: SyncRun, mapped: MappedPage) -> MappedPage:
    """Return the page after the rules the run uses (unchanged when it uses none)."""
    rules = rules_for_run(run)
    return rules.apply(mapped) if rules else mapped


def rules_for_run(run: SyncRun) -> CompiledRules:
    """Return the run's rules, compiled once per process; the first call records which version it is.

    A retried attempt finds the version its run recorded, so every attempt of a run applies the same
    rules even when they are edited in between (edits take effect from the next run).
    """
    cached = getattr(run, _ATTRIBUTE, None)
    if cached is not None:
        return cached
    used = RunRules.objects.select_related("version").filter(run_id=run.pk).first()
    if used is None:
        rule_set = RuleSet.objects.filter(feed_id=run.feed_id).first()
        active = rule_set.active() if rule_set else None
        used, _ = RunRules.objects.get_or_create(run_id=run.pk, defaults={"version": active})
    compiled = CompiledRules(used.version.steps if used.version else [])
    setattr(run, _ATTRIBUTE, compiled)
    return compiled


def version_of(run: SyncRun) -> int | None:
    """Return the number of the rules version the run applied, or None (no rules, or not started)."""
    used = RunRules.objects.select_related("version").filter(run_id=run.pk).first()
    return used.version.number if used and used.version else None
