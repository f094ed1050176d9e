"""A real django-q2 cluster SIGKILLed while it delivers a 100,000-change run to a webhook receiver: after a
restart the receiver has every batch, each exactly once after de-duplication by its Idempotency-Key, and
duplicates only for the batch that was in flight.
"""

from __future__ import annotations

from collections import Counter

from tests.sync.cluster import cluster_env, drive, kill, manage, start_cluster, wait_for

__all__ = ["cluster_env"]
ROWS = 100_000  # twenty pages of 5,000, a hundred batches of 1,000
DRIVER = "tests.outputs.kill_driver"


def test_a_killed_delivery_resumes_and_the_receiver_has_every_batch_once(cluster_env, tmp_path, receiver):
    manage(cluster_env, "migrate", "--noinput")
    receiver.latency = 0.05  # a destination that takes a moment: the kill lands mid-delivery
    made = drive(
        cluster_env, "setup", tmp_path / "warehouse.duckdb", ROWS, f"{receiver.url}/webhook", module=DRIVER
    )
    log = tmp_path / "qcluster.log"
    cluster = start_cluster(cluster_env, log)
    try:
        run = drive(cluster_env, "run", made["feed"], module=DRIVER)["run"]
        wait_for(lambda: len(receiver.accepted) >= 15, 300, "fifteen batches delivered")
        kill(cluster)
        at_kill = drive(cluster_env, "status", run, module=DRIVER)
        received_at_kill = len(receiver.accepted)
        cluster = start_cluster(cluster_env, log)

        def all_delivered():
            status = drive(cluster_env, "status", run, module=DRIVER)
            return status if status["state"] == "succeeded" and status["batches"]["pending"] == 0 else None

        done = wait_for(all_delivered, 600, "the run and its delivery to finish after the restart")
    finally:
        kill(cluster)
    expected = drive(cluster_env, "batches", module=DRIVER)
    keys = receiver.idempotency_keys()
    seen = Counter(keys)
    duplicates = sum(n - 1 for n in seen.values())
    changes = sum(len(a.body) for a in receiver.accepted if seen[a.key] == 1 or a is _first(receiver, a.key))
    print(
        f"\nkill test: {at_kill['rows_read']:,} rows read and {received_at_kill} batches received when killed; "
        f"after the restart {len(keys)} requests, {len(seen)} distinct batch ids of {len(expected['ids'])}, "
        f"{duplicates} duplicate(s), {changes:,} changes after de-duplication"
    )
    assert done["batches"] == {"pending": 0, "delivered": len(expected["ids"]), "dead": 0}
    # A hundred batches, and one more where the resumed attempt's pages start off the 5,000 boundary.
    assert sorted(seen) == sorted(expected["ids"]) and len(expected["ids"]) >= ROWS // 1000
    assert changes == expected["changes"] == ROWS
    assert duplicates <= 1  # one drain at a time per output: only the batch in flight can come twice


def _first(receiver, key):
    return next(a for a in receiver.accepted if a.key == key)
