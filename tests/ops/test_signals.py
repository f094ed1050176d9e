"""wsync's receivers of django-q2's other signals log their failures instead of raising them: Signal.send
would hand the exception to the scheduler (no tick enqueued), a worker (ended before its task) or the monitor."""

from __future__ import annotations

import pytest
from django_q.signals import post_execute, pre_enqueue, pre_execute

from feeds.ops import beats, runlog
from feeds.tick import TICK_FUNC


def boom(*_: object, **__: object) -> None:
    raise RuntimeError("the database is gone")


def test_a_failing_receiver_is_logged_and_the_signal_goes_on(monkeypatch, caplog):
    monkeypatch.setattr(beats, "beat", boom)
    monkeypatch.setattr(runlog, "_ids", boom)
    run = {"func": runlog.RUN_TASK, "args": (7,)}
    pre_enqueue.send(sender="django_q", task={"func": TICK_FUNC, "args": ()})
    pre_execute.send(sender="django_q", func=runlog.RUN_TASK, task=run)
    post_execute.send(sender="django_q", task=run)
    failed = [r.getMessage() for r in caplog.records if r.name == "feeds.ops.apps" and r.exc_info]
    assert failed == [
        "the scheduler_ticked signal receiver failed",
        "the run_starts signal receiver failed",
        "the run_ended signal receiver failed",
    ]


@pytest.mark.parametrize(
    ("signal", "receiver"),
    [
        (pre_enqueue, beats.scheduler_ticked),
        (pre_execute, runlog.run_starts),
        (post_execute, runlog.run_ended),
    ],
)
def test_each_of_those_signals_reaches_its_receiver_only_through_the_wrapper(signal, receiver):
    receivers = signal._live_receivers("django_q")
    receivers = receivers[0] if isinstance(receivers, tuple) else receivers  # Django 5: (sync, async)
    assert [(r is receiver, getattr(r, "__wrapped__", None)) for r in receivers] == [(False, receiver)]
