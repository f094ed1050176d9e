"""A real django-q2 cluster whose worker start step and outputs minute step raise: the workers still start
and take tasks, and the minute tick still runs (its other steps too, see tests/test_tick.py).

django's Signal.send lets a post_spawn receiver's exception end the worker before its first task; wsync's
one receiver, feeds.tick.worker_started, isolates each step. Connect `broken_start` to post_spawn directly
and this test fails: no worker ever runs the sync.
"""

from __future__ import annotations

from tests.sync.cluster import cluster_env, drive, kill, start_cluster, users_feed, wait_for

__all__ = ["cluster_env"]
ROWS = 500


def test_a_raising_start_step_and_minute_step_leave_the_workers_taking_tasks(cluster_env, tmp_path):
    env = {**cluster_env, "DJANGO_SETTINGS_MODULE": "tests.sync.broken_steps.settings"}
    _, feed = users_feed(env, tmp_path, ROWS)  # migrate creates the minute tick, due at once
    log = tmp_path / "qcluster.log"
    cluster = start_cluster(env, log)
    try:
        run = drive(env, "run", feed)["run"]
        done = wait_for(
            lambda: (s := drive(env, "status", run))["state"] in ("succeeded", "failed") and s,
            240,
            "a worker to run the sync",
        )
        ticks = wait_for(lambda: drive(env, "ticks")["ticks"], 120, "the minute tick to run")
    finally:
        kill(cluster)
    text = log.read_text()
    assert done["state"] == "succeeded" and done["rows_read"] == ROWS, (done, text[-3000:])
    assert ticks[0] is True  # the tick task itself ends well: its broken step was logged, not raised
    # Both workers started with the broken step, each logged it with its traceback ...
    assert text.count("the worker start step 'broken' failed; the others ran") >= 2, text[-3000:]
    assert "RuntimeError: a broken worker start step" in text
    # ... and the broken minute step too.
    assert "the minute step 'outputs' failed; the others ran" in text
    assert "RuntimeError: a broken minute step" in text
