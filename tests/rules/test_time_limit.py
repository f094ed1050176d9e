"""The time limit per page: rows not finished when it passes are rejected with the reason, never the run."""

from __future__ import annotations

from feeds.mapping.pages import MappedPage
from feeds.rules.execute import CompiledRules
from tests.rules.conftest import batch, step


class Clock:
    """A clock that advances one second each time it is read: no wall-clock waits in tests."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_rows_left_when_the_limit_passes_are_rejected_with_the_reason():
    steps = [
        step({"type": "set_attribute", "field": "attributes.a", "value": 1}),
        step({"type": "set_attribute", "field": "attributes.b", "value": 2}),
        step({"type": "set_attribute", "field": "attributes.c", "value": 3}),
    ]
    rules = CompiledRules(steps, seconds=2.5, clock=Clock())
    page = rules.apply(MappedPage([batch(), batch()], ["a", "b"], []))
    assert page.batches == []
    assert [r.row_key for r in page.rejects] == ["a", "b"]
    assert all("longer than their limit of 2.5 s" in r.reason for r in page.rejects)


def test_within_the_limit_nothing_is_rejected():
    steps = [step({"type": "set_attribute", "field": "attributes.a", "value": 1})]
    page = CompiledRules(steps, seconds=100, clock=Clock()).apply(MappedPage([batch()], ["a"], []))
    assert page.rejects == [] and page.batches[0]["user_attributes"]["a"] == 1


def test_the_limit_comes_from_the_setting(settings):
    settings.WSYNC_RULES_SECONDS_PER_PAGE = 7
    assert CompiledRules([]).seconds == 7
