"""A feed's rules, or a feed→output connection's, as people edit them: the draft's steps, activation (a new
version, audited), the preview. An "owner" is the Feed or the FeedOutput the rule set belongs to.

The draft is saved as it is edited and only affects runs once activated; runs started afterwards use the
new version (feeds.rules.runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from feeds import audit
from feeds.models import Feed
from feeds.outputs.models import FeedOutput
from feeds.rules.execute import CompiledRules, Trace
from feeds.rules.fields import flat
from feeds.rules.models import RuleSet, RuleVersion
from feeds.rules.steps import StepsInvalid, clean_step, clean_steps, describe
from feeds.sync.models import FingerprintBlock
from feeds.warehouses.base import WarehouseError
from feeds.wizard.sample import mapped_sample

SAMPLE_ROWS = 10


Owner = Feed | FeedOutput


def _of(owner: Owner) -> dict[str, Any]:
    return (
        {"feed": owner, "connection": None}
        if isinstance(owner, Feed)
        else {"feed": None, "connection": owner}
    )


def feed_of(owner: Owner) -> Feed:
    """Return the feed an owner belongs to (a connection's feed)."""
    return owner if isinstance(owner, Feed) else owner.feed


def rule_set(owner: Owner) -> RuleSet:
    """Return the owner's rule set, made empty the first time."""
    found, _ = RuleSet.objects.get_or_create(
        **_of(owner), defaults={"workspace_id": feed_of(owner).workspace_id}
    )
    return found


def find(owner: Owner) -> RuleSet:
    """Return the owner's rule set, or an unsaved empty one (reading never creates it)."""
    return RuleSet.objects.filter(**_of(owner)).first() or RuleSet(**_of(owner), draft=[], version=0)


def active_steps(owner: Owner) -> list[dict[str, Any]]:
    """Return the steps runs apply now for the owner ([] without rules)."""
    found = RuleSet.objects.filter(**_of(owner)).first()
    version = found.active() if found else None
    return list(version.steps) if version else []


def in_effect(owner: Owner) -> list[dict[str, Any]]:
    """Return the active steps with their description in words (the review step and the editor list them)."""
    return [{**s, "words": describe(s)} for s in active_steps(owner)]


def apply_active(feed: Feed, mapped: Any) -> Any:
    """Return a mapped page after the feed's active rules (the review step's sample shows their result)."""
    steps = active_steps(feed)
    return CompiledRules(steps).apply(mapped) if steps else mapped


def has_unactivated_changes(found: RuleSet) -> bool:
    """Return True when the draft differs from the active version."""
    version = found.active() if found.pk else None
    return found.draft != (version.steps if version else [])


def save_step(owner: Owner, raw: dict[str, Any], step_id: str | None = None) -> dict[str, Any]:
    """Add a step to the draft (or replace the one with `step_id`); returns it. Raises StepsInvalid."""
    step, problems = clean_step(raw)
    if problems:
        raise StepsInvalid(problems)
    with transaction.atomic():
        found = _locked(owner)
        steps = list(found.draft)
        at = _index(steps, step_id) if step_id else None
        if at is None:
            steps.append(step)
        else:
            step["id"] = step_id
            steps[at] = step
        _save(found, steps)
    return step


def move_step(owner: Owner, step_id: str, by: int) -> None:
    """Move a draft step up (by < 0) or down; a step at an end stays there."""
    with transaction.atomic():
        found = _locked(owner)
        steps = list(found.draft)
        at = _index(steps, step_id)
        if at is not None and 0 <= at + by < len(steps):
            steps.insert(at + by, steps.pop(at))
            _save(found, steps)


def toggle_step(owner: Owner, step_id: str) -> None:
    """Enable a disabled draft step, or disable an enabled one."""
    with transaction.atomic():
        found = _locked(owner)
        steps = [dict(s) for s in found.draft]
        at = _index(steps, step_id)
        if at is not None:
            steps[at]["enabled"] = not steps[at].get("enabled", True)
            _save(found, steps)


def delete_step(owner: Owner, step_id: str) -> None:
    """Remove a step from the draft."""
    with transaction.atomic():
        found = _locked(owner)
        _save(found, [s for s in found.draft if s.get("id") != step_id])


def replace_steps(owner: Owner, raw: Any) -> list[dict[str, Any]]:
    """Set the whole draft (the API's PUT); returns the stored steps. Raises StepsInvalid."""
    steps = clean_steps(raw)
    with transaction.atomic():
        _save(_locked(owner), steps)
    return steps


def activate(owner: Owner, user: Any, request: HttpRequest | None = None) -> RuleVersion | None:
    """Make the draft the version the owner's next runs use; returns it (None when nothing changed).

    Raises StepsInvalid when a draft step no longer passes the checks.
    """
    with transaction.atomic():
        found = _locked(owner)
        steps = clean_steps(found.draft)
        before = found.active()
        if before is not None and before.steps == steps:
            return None
        number = found.version + 1
        version = RuleVersion.objects.create(
            rule_set=found, number=number, steps=steps, created_by=user if getattr(user, "pk", None) else None
        )
        found.version = number
        found.save(update_fields=["version", "updated_at"])
        feed = feed_of(owner)
        if owner is feed:
            # A full-mode run skips rows whose fingerprint is on file; forgetting them makes the next run
            # write every row again under the new rules (docs/rules.md#versions).
            FingerprintBlock.objects.filter(feed=feed).delete()
        changes = {
            "rules": (_words(before.steps if before else []), _words(steps)),
            "version": (found.version - 1 or None, number),
        }
        audit.record(
            feed.workspace,
            user,
            "rules",
            _title(owner),
            feed=feed,
            changes=changes,
            request=request,
        )
    return version


def _words(steps: list[dict[str, Any]]) -> list[str]:
    return [
        f"{n}. {s['name']}{'' if s.get('enabled', True) else ' (off)'}: {describe(s)}"
        for n, s in enumerate(steps, 1)
    ]


def _title(owner: Owner) -> str:
    if isinstance(owner, Feed):
        return f"Rules of {owner.name}"
    return f"Rules of {owner.feed.name} → {owner.output.name}"


def _locked(owner: Owner) -> RuleSet:
    rule_set(owner)
    return RuleSet.objects.select_for_update().get(**_of(owner))


def _index(steps: list[dict[str, Any]], step_id: str | None) -> int | None:
    return next((i for i, s in enumerate(steps) if s.get("id") == step_id), None)


def _save(found: RuleSet, steps: list[dict[str, Any]]) -> None:
    found.draft = steps
    found.save(update_fields=["draft", "updated_at"])


# The preview ------------------------------------------------------------------------------------------


@dataclass
class RowChange:
    key: str
    status: str  # changed | unchanged | dropped | rejected | not selected
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # (field, before, after)
    reason: str = ""


@dataclass
class StepPreview:
    number: int
    name: str
    words: str
    enabled: bool
    rows: list[RowChange] = field(default_factory=list)


@dataclass
class Preview:
    steps: list[StepPreview] = field(default_factory=list)
    before: list[dict[str, Any]] = field(default_factory=list)  # each sample row's fields before the rules
    after: list[dict[str, Any]] = field(default_factory=list)  # the rows kept, after the rules
    keys: list[str] = field(default_factory=list)
    kept: int = 0
    dropped: int = 0
    rejected: int = 0
    error: str = ""


def preview(owner: Owner, steps: list[dict[str, Any]], limit: int = SAMPLE_ROWS) -> Preview:
    """Return what `steps` do to the data model's first rows, step by step; nothing is written.

    A connection's steps start from the rows after the feed's own rules (what the output would be sent).
    """
    feed = feed_of(owner)
    try:
        mapped = sample_batches(feed, limit)
    except WarehouseError as error:
        return Preview(error=error.message)
    if owner is not feed:
        mapped = apply_active(feed, mapped)
    return preview_batches(steps, mapped.batches, mapped.row_keys)


def preview_batches(steps: list[dict[str, Any]], batches: list[dict], keys: list[str]) -> Preview:
    """Return what `steps` do to these batches, step by step (the batches are changed in place)."""
    from feeds.mapping.pages import MappedPage

    result = Preview(before=[flat(b) for b in batches], keys=list(keys))
    by_number = {n: s for n, s in enumerate(steps, start=1)}
    shown: dict[int, StepPreview] = {
        n: StepPreview(n, s["name"], describe(s), s.get("enabled", True)) for n, s in by_number.items()
    }
    state = {"fields": list(result.before), "gone": set()}

    def observe(trace: Trace, now: list[dict]) -> None:
        _observe(trace, now, keys, state, shown[trace.step.number])

    out = CompiledRules(steps).apply(MappedPage(batches, list(keys), []), observe)
    result.steps = list(shown.values())
    result.after = [flat(b) for b in out.batches]
    result.kept = len(out.batches)
    result.rejected = len(out.rejects)
    result.dropped = len(batches) - result.kept - result.rejected
    return result


def _observe(trace: Trace, now: list[dict], keys: list[str], state: dict, shown: StepPreview) -> None:
    selected = set(trace.selected)
    for i, key in enumerate(keys):
        if i in state["gone"]:
            continue
        after = flat(now[i])
        before = state["fields"][i]
        if i in trace.rejected:
            shown.rows.append(RowChange(key, "rejected", reason=trace.rejected[i]))
            state["gone"].add(i)
        elif i in trace.dropped:
            shown.rows.append(RowChange(key, "dropped"))
            state["gone"].add(i)
        else:
            diff = [
                (k, before.get(k), after.get(k))
                for k in sorted(set(before) | set(after))
                if before.get(k, _NONE) != after.get(k, _NONE)
            ]
            status = "changed" if diff else ("unchanged" if i in selected else "not selected")
            shown.rows.append(RowChange(key, status, diff))
        state["fields"][i] = after


_NONE = object()


def sample_batches(feed: Feed, limit: int = SAMPLE_ROWS) -> Any:
    """Return the data model's first rows mapped as the feed's mapping says (the review step's sample)."""
    return mapped_sample(feed, limit)


def lineage(run_ids: set[int]) -> dict[int, dict[str, str]]:
    """Return, per run, which rule step set or changed each user attribute: {run id: {name: words}}."""
    from feeds.rules.models import RunRules

    found: dict[int, dict[str, str]] = {}
    for used in RunRules.objects.select_related("version").filter(run_id__in=run_ids, version__isnull=False):
        names: dict[str, str] = {}
        for n, step in enumerate(used.version.steps, start=1):  # type: ignore[union-attr]
            action = step.get("action") or {}
            target = action.get("field", "")
            if not step.get("enabled", True) or not target.startswith("attributes."):
                continue
            name = action["to"] if action.get("type") == "rename_attribute" else target[len("attributes.") :]
            if action.get("type") != "remove_attribute":
                when = ", where its condition held" if step.get("condition") else ""
                names[name] = f"rule step {n} “{step['name']}” (rules v{used.version.number}{when})"  # type: ignore[union-attr]
        found[used.run_id] = names
    return found


def annotate_lineage(facts: list[Any]) -> None:
    """Set `rule` on each attribute fact (feeds.profiles AttributeFact) to the step that set it, or ""."""
    found = lineage({f.run_id for f in facts if f.run_id is not None})
    for fact in facts:
        fact.rule = found.get(fact.run_id, {}).get(fact.name, "")
