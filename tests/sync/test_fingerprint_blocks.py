"""Fingerprints filed in blocks: the newest block's digest of a key holds, superseded blocks are compacted, a
feed over the memory limit keeps none, and migration sync 0009 moves fingerprints between rows and blocks
both ways."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from feeds.sync import fingerprints
from feeds.sync.changes import ChangedRows
from feeds.sync.models import FingerprintBlock
from feeds.sync.timings import Timings
from tests.migrating import migrate
from tests.sync.conftest import T0, make_feed, run_now, store_users, user_rows

ROWS, BLOCKS = ("sync", "0008_one_tick_for_every_minute_step"), ("sync", "0009_fingerprint_blocks")
FEED = 41  # fingerprints name their feed without a database constraint


def on_file(feed_id: int) -> dict[int, int]:
    """{key hash: digest} a run of the feed would take as on file."""
    known = fingerprints.Known(feed_id)
    assert known.keys is not None and known.digests is not None
    return dict(zip(known.keys.tolist(), known.digests.tolist(), strict=True))


@pytest.mark.django_db
def test_a_later_block_replaces_a_keys_digest():
    fingerprints.record(FEED, {"C1": 10, "C2": 20})
    fingerprints.record(FEED, {"C2": 21, "C3": 30})
    fingerprints.record(FEED + 1, {"C1": 99})

    h = fingerprints.key_hash
    assert on_file(FEED) == {h("C1"): 10, h("C2"): 21, h("C3"): 30}
    changed, unchanged_keys = fingerprints.Known(FEED).lookup([20, 21, 30, 99])
    assert (changed, unchanged_keys) == ([0, 3], {h("C2"), h("C3")})


@pytest.mark.django_db
def test_blocks_mostly_superseded_are_rewritten_as_the_current_fingerprints():
    for digest in range(5):  # the same three keys filed five times: 15 filed, 3 current
        fingerprints.record(FEED, {"C1": digest, "C2": 100 + digest, "C3": 200 + digest})
    expected = {fingerprints.key_hash(k): d for k, d in {"C1": 4, "C2": 104, "C3": 204}.items()}

    assert on_file(FEED) == expected
    assert list(FingerprintBlock.objects.filter(feed_id=FEED).values_list("count", flat=True)) == [3]
    assert on_file(FEED) == expected


@pytest.mark.django_db
def test_a_feed_over_the_memory_limit_keeps_no_fingerprints(settings):
    fingerprints.record(FEED, {"C1": 10, "C2": 20})
    settings.WSYNC_FINGERPRINTS_IN_MEMORY = 1
    known = fingerprints.Known(FEED)

    assert not known.kept and known.lookup([10, 20]) == ([0, 1], set())
    assert not FingerprintBlock.objects.filter(feed_id=FEED).exists()


def test_a_full_run_over_the_limit_files_nothing_and_writes_only_what_changed(workspace, warehouse, settings):
    from feeds.models import SyncMode

    settings.WSYNC_FINGERPRINTS_IN_MEMORY = 10
    feed = make_feed(workspace, warehouse.path, sync_mode=SyncMode.FULL, iterator="", iterator_type="")
    warehouse.upsert(user_rows(0, 30, T0))
    first = run_now(feed)
    warehouse.sql("UPDATE users SET plan = 'pro' WHERE customer_id < 'C0000003'")
    second = run_now(feed)

    assert (first.profiles_created, second.rows_mapped, second.profiles_updated) == (30, 30, 3)
    assert second.profiles_unchanged == 27 and store_users(workspace) == warehouse.users()
    assert not FingerprintBlock.objects.filter(feed=feed).exists()


def test_changed_rows_of_a_kept_feed_are_filed_once_a_page(workspace, warehouse, settings):
    from feeds.models import SyncMode

    settings.WSYNC_PAGE_SIZE = 10
    feed = make_feed(workspace, warehouse.path, sync_mode=SyncMode.FULL, iterator="", iterator_type="")
    warehouse.upsert(user_rows(0, 30, T0))
    run_now(feed)

    assert list(FingerprintBlock.objects.filter(feed=feed).values_list("count", flat=True)) == [10, 10, 10]
    changes = ChangedRows(feed.pk, ("shape",), lambda page: None, Timings())  # type: ignore[arg-type,return-value]
    assert changes.known.kept and len(on_file(feed.pk)) == 30


@pytest.mark.django_db(transaction=True)
def test_fingerprints_move_from_rows_to_blocks_and_back(monkeypatch):
    module = importlib.import_module("feeds.sync.migrations.0009_fingerprint_blocks")
    monkeypatch.setattr(module, "BLOCK", 4)  # several blocks from a few fingerprints
    apps = migrate(ROWS)
    rows = apps.get_model("sync", "RowFingerprint")
    first = {k: k // 2 + 1 for k in (-(2**63), -5, 0, 7, 8, 9, 2**63 - 1)}
    rows.objects.bulk_create([rows(feed_id=FEED, key_hash=k, digest=d) for k, d in first.items()])
    rows.objects.create(feed_id=FEED + 1, key_hash=5, digest=6)

    blocks = migrate(BLOCKS).get_model("sync", "FingerprintBlock")
    assert list(blocks.objects.filter(feed_id=FEED).order_by("id").values_list("count", flat=True)) == [4, 3]
    assert on_file(FEED) == first and on_file(FEED + 1) == {5: 6}
    keys = b"".join(bytes(b.keys) for b in blocks.objects.filter(feed_id=FEED).order_by("id"))
    assert np.frombuffer(keys, dtype="<i8").tolist() == sorted(first)  # sorted by key hash

    fingerprints.record(FEED, {"C1": 11})  # a later page: a new key, and an existing key's new digest
    blocks.objects.create(
        feed_id=FEED,
        keys=np.array([7], dtype="<i8").tobytes(),
        digests=np.array([70], dtype="<i8").tobytes(),
        count=1,
    )
    rows = migrate(ROWS).get_model("sync", "RowFingerprint")
    back = dict(rows.objects.filter(feed_id=FEED).values_list("key_hash", "digest"))
    assert back == {**first, fingerprints.key_hash("C1"): 11, 7: 70}
    assert dict(rows.objects.filter(feed_id=FEED + 1).values_list("key_hash", "digest")) == {5: 6}

    migrate(BLOCKS)
    assert on_file(FEED) == back
