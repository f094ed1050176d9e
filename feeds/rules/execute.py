"""Steps compiled once per run into operations over a page's batches, then applied page by page.

Form conditions and the plain actions are closures built once per step (a field getter and a typed
predicate), applied over the whole page in one pass: no parsing, no dispatch per row. A CEL condition or
expression is evaluated row by row, only in the steps that use one. Rules never reach the network or the
file system (CEL has no functions that do). A step that fails on a row rejects that row with the reason;
rows still unfinished when the page's time limit passes are rejected too (docs/rules.md#execution).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from feeds.mapping.pages import MappedPage, Rejection
from feeds.rules import MASK_CHARACTER
from feeds.rules.cel import CelError, compile_expression, evaluate, truth
from feeds.rules.conditions import predicate
from feeds.rules.fields import cel_input, container, flat, getter, is_identity, key_of

Action = Callable[[dict], Any]
DROP = object()  # what an action returns when the row leaves the page
CEL_CLOCK_EVERY = 32  # rows between looks at the clock in a row-by-row step


@dataclass(frozen=True)
class Step:
    """One enabled step, ready to run."""

    number: int  # 1-based position among all the steps, as the editor shows it
    name: str
    select: Callable[[list[dict], list[int]], tuple[list[int], dict[int, str]]]
    act: Action


@dataclass
class Trace:
    """What one step did to a page, for the preview: rows it selected, dropped and rejected."""

    step: Step
    selected: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)


def time_limit() -> float:
    """Return the seconds rules may take over one page (WSYNC_RULES_SECONDS_PER_PAGE, default 30)."""
    return float(getattr(settings, "WSYNC_RULES_SECONDS_PER_PAGE", 30))


class CompiledRules:
    """A rule set's enabled steps, compiled once; `apply` runs them over one mapped page."""

    def __init__(
        self,
        steps: list[dict[str, Any]],
        *,
        seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`steps` are stored steps (feeds.rules.steps); disabled ones are left out."""
        self.steps = [compile_step(n, s) for n, s in enumerate(steps, start=1) if s.get("enabled", True)]
        self.seconds = time_limit() if seconds is None else seconds
        self.clock = clock

    def __bool__(self) -> bool:
        return bool(self.steps)

    def apply(
        self, mapped: MappedPage, observe: Callable[[Trace, list[dict]], None] | None = None
    ) -> MappedPage:
        """Return the page after every step: dropped users gone, failing rows moved to the rejects."""
        if not self.steps or not mapped.batches:
            return mapped
        batches = mapped.batches
        live = list(range(len(batches)))
        reasons: dict[int, str] = {}
        deadline = self.clock() + self.seconds
        for step in self.steps:
            trace = self._run(step, batches, live, deadline)
            reasons.update(trace.rejected)
            gone = set(trace.dropped) | set(trace.rejected)
            if gone:
                live = [i for i in live if i not in gone]
            if observe is not None:
                observe(trace, batches)
            if self.clock() > deadline:
                late = f"The rules ran longer than their limit of {self.seconds:g} s for this page; the row was not synced."
                reasons.update({i: late for i in live})
                live = []
                break
        return _result(mapped, live, reasons)

    def _run(self, step: Step, batches: list[dict], live: list[int], deadline: float) -> Trace:
        selected, failed = step.select(batches, live)
        trace = Trace(step, selected)
        for i, message in failed.items():
            trace.rejected[i] = _reason(step, message)
        act = step.act
        for n, i in enumerate(selected):
            try:
                if act(batches[i]) is DROP:
                    trace.dropped.append(i)
            except CelError as error:
                trace.rejected[i] = _reason(step, str(error))
            except Exception as error:  # a value an action cannot take: that row is rejected, not the run
                trace.rejected[i] = _reason(step, f"{type(error).__name__}: {error}")
            if n % CEL_CLOCK_EVERY == 0 and self.clock() > deadline:
                break
        return trace


def _reason(step: Step, message: str) -> str:
    return f"Rule step {step.number} “{step.name}” failed on this row: {message}"


def _result(mapped: MappedPage, live: list[int], reasons: dict[int, str]) -> MappedPage:
    batches, keys, iterators = mapped.batches, mapped.row_keys, mapped.iterator_values
    rejects = list(mapped.rejects) + [
        Rejection(keys[i], reasons[i], flat(batches[i])) for i in sorted(reasons)
    ]
    return MappedPage(
        [batches[i] for i in live],
        [keys[i] for i in live],
        [iterators[i] for i in live] if iterators else [],
        rejects,
    )


def compile_step(number: int, step: dict[str, Any]) -> Step:
    """Return the step ready to run; assumes feeds.rules.steps.clean_step found nothing wrong."""
    return Step(number, step.get("name", ""), _selector(step.get("condition")), _action(step["action"]))


def _selector(
    condition: dict[str, Any] | None,
) -> Callable[[list[dict], list[int]], tuple[list[int], dict[int, str]]]:
    if not condition:
        return lambda batches, live: (live, {})
    if "expression" in condition:
        program = compile_expression(condition["expression"])

        def by_row(batches: list[dict], live: list[int]) -> tuple[list[int], dict[int, str]]:
            chosen, failed = [], {}
            for i in live:
                try:
                    if truth(evaluate(program, cel_input(batches[i]))):
                        chosen.append(i)
                except CelError as error:
                    failed[i] = str(error)
            return chosen, failed

        return by_row
    get, test = getter(condition["field"]), predicate(condition["operator"], condition.get("value"))
    return lambda batches, live: ([i for i in live if test(get(batches[i]))], {})


def _action(action: dict[str, Any]) -> Action:
    kind = action["type"]
    if kind == "drop_user":
        return lambda b: DROP
    if kind == "drop_event":
        return _drop_event(action.get("event_name") or "")
    name = action["field"]
    holder, key = container(name, kind == "set_attribute"), key_of(name)
    if kind == "remove_attribute":
        return lambda b: (d := holder(b)) is not None and d.pop(key, None)
    if kind == "rename_attribute":
        return _rename(holder, key, action["to"])
    if kind == "set_attribute":
        return _set(holder, key, action, is_identity(name))
    return _change_value(holder, key, _transform(kind, action))


def _rename(holder: Callable[[dict], dict | None], key: str, to: str) -> Action:
    def rename(b: dict) -> None:
        d = holder(b)
        if d is not None and key in d:
            d[to] = d.pop(key)

    return rename


def _drop_event(event_name: str) -> Action:
    def drop(b: dict) -> None:
        events = b.get("events")
        if events:
            b["events"] = (
                [e for e in events if (e.get("data") or {}).get("event_name") != event_name]
                if event_name
                else []
            )

    return drop


def _set(holder: Callable[[dict], dict | None], key: str, action: dict[str, Any], identity: bool) -> Action:
    if "expression" in action:
        program = compile_expression(action["expression"])

        def computed(b: dict) -> None:
            d = holder(b)
            if d is not None:
                d[key] = (
                    _as_identity(evaluate(program, cel_input(b)))
                    if identity
                    else evaluate(program, cel_input(b))
                )

        return computed
    value = _as_identity(action.get("value")) if identity else action.get("value")

    def static(b: dict) -> None:
        d = holder(b)
        if d is not None:
            d[key] = value

    return static


def _as_identity(value: Any) -> str:
    return "" if value is None else ("true" if value is True else "false" if value is False else str(value))


def _change_value(holder: Callable[[dict], dict | None], key: str, transform: Callable[[Any], Any]) -> Action:
    def change(b: dict) -> None:
        d = holder(b)
        if d is not None:
            value = d.get(key)
            if value is not None:
                new = transform(value)
                if new == "" and d is not b:
                    del d[key]  # an identity of only spaces is no identity (docs/identity.md)
                else:
                    d[key] = new

    return change


def _transform(kind: str, action: dict[str, Any]) -> Callable[[Any], Any]:
    if kind == "normalise_identity":
        return lambda v: v.strip().lower() if isinstance(v, str) else v
    if kind == "hash":
        return lambda v: hashlib.sha256(_as_identity(v).encode()).hexdigest()
    keep = int(action.get("keep", 4))

    def mask(v: Any) -> str:
        text = _as_identity(v)
        shown = text[-keep:] if keep and len(text) > keep else ""
        return MASK_CHARACTER * (len(text) - len(shown)) + shown

    return mask
