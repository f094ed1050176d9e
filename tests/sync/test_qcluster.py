"""A real django-q2 cluster: SIGKILL it in the middle of a large sync, start a new one, and the run resumes
by itself from its last committed page, counts each row once, shows no stale error, and the store ends exact.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.sync.cluster import cluster_env, drive, kill, start_cluster, users_feed, wait_for

__all__ = ["cluster_env"]
ROWS = 60_000  # twelve pages of 5,000


def kill_mid_run_and_resume(env: dict[str, str], feed: int, log: Path) -> tuple[dict, dict, int]:
    """Start a cluster, run the feed, SIGKILL the cluster a quarter in, start another and let the run end.

    Returns the run's status right after the kill and at its end, and the run's id. Both attempts read
    ahead (the thread is a daemon of the killed worker: it dies with it, between or during pages).
    """
    env = {**env, "WSYNC_READ_AHEAD": "1"}
    cluster = start_cluster(env, log)
    try:
        run = drive(env, "run", feed)["run"]

        def a_quarter_done():
            status = drive(env, "status", run)
            assert status["state"] in ("queued", "running"), (status, log.read_text()[-3000:])
            return status if status["rows_read"] >= ROWS // 4 else None

        first = wait_for(a_quarter_done, 240, "a quarter of the rows")
        kill(cluster)  # every process of the cluster, mid-run
        killed = drive(env, "status", run)
        assert killed["state"] == "running" and first["rows_read"] <= killed["rows_read"] < ROWS

        # No tick, no person: the new cluster's workers see that the run's owner process is gone.
        restarted = time.monotonic()
        cluster = start_cluster(env, log)
        wait_for(lambda: drive(env, "status", run)["attempt"] == 2, 60, "the run to resume")
        resumed_after = time.monotonic() - restarted
        done = wait_for(
            lambda: (s := drive(env, "status", run))["state"] in ("succeeded", "failed") and s,
            400,
            "the run to finish after the restart",
        )
    finally:
        kill(cluster)
    assert done["state"] == "succeeded", (done, log.read_text()[-3000:])
    assert killed["read_ahead"] and done["read_ahead"]
    print(f"resumed {resumed_after:.1f} s after the new cluster started")
    return killed, done, run


def test_it_resumes_a_run_whose_cluster_was_killed_and_ends_exact(cluster_env, tmp_path):
    duck, feed = users_feed(cluster_env, tmp_path, ROWS)
    log = tmp_path / "qcluster.log"
    _, done, run = kill_mid_run_and_resume(cluster_env, feed, log)
    # The counters of a clean run: the rows at the resume point were read again and say so.
    assert (done["rows_read"], done["created"], done["unchanged"]) == (ROWS, ROWS, 0)
    assert 0 < done["reread"] <= 5000
    assert done["error"] == "" and done["attempts"] == [
        ["stopped", "The worker stopped; resuming from the last checkpoint."],
        ["succeeded", ""],
    ]
    # The page shows the stopped worker against attempt 1 only: no alert, no "What went wrong".
    assert drive(cluster_env, "page", run) == {
        "status": 200,
        "what_went_wrong": False,
        "alerts": 0,
        "worker_stopped": 1,
    }
    result = drive(cluster_env, "verify", duck)
    assert result == {"profiles": ROWS, "identities": 2 * ROWS, "expected": ROWS, "wrong": 0, "extra": 0}


def test_a_full_run_killed_mid_run_resumes_and_ends_exact(cluster_env, tmp_path):
    """Full mode: the resumed attempt reads every row again and skips, by their fingerprints, exactly the
    rows the killed attempt committed; none is written twice and none is missed."""
    duck, feed = users_feed(cluster_env, tmp_path, ROWS, "full")
    killed, done, _ = kill_mid_run_and_resume(cluster_env, feed, tmp_path / "qcluster.log")

    assert (done["created"], done["unchanged"]) == (ROWS, killed["rows_read"])
    result = drive(cluster_env, "verify", duck)
    assert result == {"profiles": ROWS, "identities": 2 * ROWS, "expected": ROWS, "wrong": 0, "extra": 0}
