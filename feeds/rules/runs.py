"""The engine's side of rules: which version a run applies (fixed at its first page) and applying it to a page.

The engine loads the run's rules (`rules_for_run`) before it reads the first page, and applies them to each
page between mapping and resolving (docs/architecture.md); the outbox calls `apply_for_output` on what one
connected output receives of a page (docs/outputs.md).
"""

from __future__ import annotations

from feeds.mapping.pages import MappedPage
from feeds.outputs.models import FeedOutput
from feeds.rules.execute import CompiledRules
from feeds.rules.models import RuleSet, RuleVersion, RunOutputRules, RunRules
from feeds.sync.models import RejectedRow, SyncRun

# The compiled rules ride on the run object the engine passes for every page of an attempt, so they are
# compiled once per attempt and never mistaken for another run's.
_ATTRIBUTE = "_wsync_compiled_rules"


def rules_for_run(run: SyncRun) -> CompiledRules:
    """Return the run's rules, compiled once per attempt; the first call records which version it is.

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


def apply_for_output(
    connection: FeedOutput, run_id: int | None, batches: list[dict], version: RuleVersion | None
) -> list[dict]:
    """Return the batches the connection's rules (`version`, from output_version) keep; rows a step fails on
    are recorded as the run's rejected rows. The rules may change the batches in place.

    Runs inside the page's transaction (the outbox's), so a rejected row is recorded with the page. The
    store was written already: only this output does not receive the row (its reason says so).
    """
    if version is None or not batches:
        return batches
    keys = [f"mpid={b.get('mpid')}" for b in batches]
    page = CompiledRules(version.steps).apply(MappedPage(batches, keys, []))
    if page.rejects and run_id is not None:
        name = connection.output.name
        RejectedRow.objects.bulk_create(
            [
                RejectedRow(
                    run_id=run_id,
                    row_key=r.row_key[:512],
                    reason=f"Not sent to {name}: {r.reason}",
                    values=r.values,
                )
                for r in page.rejects
            ],
            ignore_conflicts=True,
        )
    return page.batches


def output_version(connection: FeedOutput, run_id: int | None) -> RuleVersion | None:
    """Return the version the run applies for the connection, recording it at the run's first page for it."""
    if run_id is not None:
        used = (
            RunOutputRules.objects.select_related("version")
            .filter(run_id=run_id, connection=connection)
            .first()
        )
        if used is not None:
            return used.version
    found = RuleSet.objects.filter(connection=connection).first()
    version = found.active() if found else None
    if run_id is not None:
        RunOutputRules.objects.get_or_create(
            run_id=run_id, connection=connection, defaults={"version": version}
        )
    return version
