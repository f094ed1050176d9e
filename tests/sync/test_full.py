"""Full syncs: every run reads the whole model; rows that did not change cost no profile writes."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feeds.models import SyncMode
from feeds.profiles.models import Profile
from feeds.sync.models import RunState, SyncRun
from tests.sync.conftest import T0, make_feed, profile_count, run_now, store_users, user_rows


@pytest.fixture(params=["kept", "too many to keep"])
def full_feed(request, workspace, warehouse, settings):
    """A full-mode feed; its runs hold the fingerprints in memory, or (a feed too big for that) keep none and
    map and resolve every row, writing only what changed."""
    settings.WSYNC_PAGE_SIZE = 500
    settings.WSYNC_FINGERPRINTS_IN_MEMORY = 10**9 if request.param == "kept" else 0
    return make_feed(workspace, warehouse.path, sync_mode=SyncMode.FULL, iterator="", iterator_type="")


WRITE = re.compile(r'^\s*(INSERT INTO|UPDATE|DELETE FROM|COPY)\s+"?profiles_', re.IGNORECASE)


def profile_writes(queries) -> list[str]:
    """Return the statements that wrote to the profile store's tables."""
    return [q["sql"] for q in queries if WRITE.match(q["sql"])]


def test_it_writes_nothing_to_the_store_for_unchanged_rows(full_feed, warehouse, workspace):
    warehouse.upsert(user_rows(0, 2000, T0))
    first = run_now(full_feed)
    assert first.profiles_created == 2000

    with CaptureQueriesContext(connection) as queries:
        second = run_now(full_feed)

    assert second.state == RunState.SUCCEEDED
    assert (second.rows_read, second.profiles_unchanged, second.profiles_updated) == (2000, 2000, 0)
    assert profile_writes(queries.captured_queries) == []


def test_an_unchanged_resync_saves_its_progress_once_every_twenty_pages_not_every_page(
    workspace, warehouse, settings
):
    settings.WSYNC_PAGE_SIZE = 100
    full_feed = make_feed(workspace, warehouse.path, sync_mode=SyncMode.FULL, iterator="", iterator_type="")
    warehouse.upsert(user_rows(0, 4500, T0))  # 45 pages
    run_now(full_feed)

    with CaptureQueriesContext(connection) as queries:
        second = run_now(full_feed)

    saves = [q["sql"] for q in queries.captured_queries if '"rows_read" = (' in q["sql"]]
    # The first page (progress shows at once), then every 21st page, then the rest at the end: 1 + 2 + 1.
    assert len(saves) == 4
    assert (second.rows_read, second.rows_mapped, second.profiles_unchanged) == (4500, 4500, 4500)


def test_it_writes_only_the_rows_that_changed(full_feed, warehouse, workspace):
    warehouse.upsert(user_rows(0, 1000, T0))
    run_now(full_feed)
    warehouse.sql("UPDATE users SET plan = 'pro' WHERE customer_id < 'C0000010'")
    third = run_now(full_feed)

    assert (third.profiles_updated, third.profiles_unchanged, third.profiles_created) == (10, 990, 0)
    assert store_users(workspace) == warehouse.users()
    assert profile_count(workspace) == 1000


def test_it_writes_everything_again_when_the_mapping_changes(full_feed, warehouse, workspace):
    warehouse.upsert(user_rows(0, 20, T0))
    run_now(full_feed)
    # The rows did not change, the mapping did: score now lands in the attribute "points".
    mapping = full_feed.field_transformation
    mapping.mappings = [
        {**m, "destination": "user_attributes.points"} if m["source"] == "score" else m
        for m in mapping.mappings
    ]
    mapping.save()
    again = run_now(full_feed)
    # Had the fingerprints of the old mapping been trusted, all 20 rows would be skipped as unchanged.
    assert (again.rows_mapped, again.profiles_updated, again.profiles_unchanged) == (20, 20, 0)
    profile = Profile.objects.filter(workspace=workspace).first()
    assert profile is not None and profile.attribute_values()["points"] == 1


def test_it_expects_as_many_rows_as_the_last_full_run_read(full_feed, warehouse, while_reading):
    warehouse.upsert(user_rows(0, 1200, T0))
    first = run_now(full_feed)
    assert first.total_rows is None and not first.total_rows_estimated  # nothing to go by yet

    seen = []
    # Look at the run as it asks for its second page, once the first is committed.
    while_reading(1, lambda: seen.append(SyncRun.objects.get(feed=full_feed, state=RunState.RUNNING)))
    warehouse.upsert(user_rows(1200, 300, T0))
    second = run_now(full_feed)
    assert (second.total_rows, second.total_rows_estimated, second.sync_mode) == (1200, True, "full")
    # While it runs, progress is known: 500 of about 1,200 rows after the first page.
    assert (seen[0].rows_read, seen[0].total_rows, seen[0].total_rows_estimated) == (500, 1200, True)
    assert second.rows_read == 1500  # an estimate: the table grew


def test_it_leaves_the_total_of_an_incremental_run_unknown(feed, warehouse):
    warehouse.upsert(user_rows(0, 3, T0))
    run_now(feed)
    second = run_now(feed)
    assert second.total_rows is None and second.sync_mode == "incremental"


class StepClock:
    """A perf_counter that stands still except while a slowed step runs, which takes exactly one second."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls: dict[str, int] = {}

    def perf_counter(self) -> float:
        return self.now

    def slowed(self, name: str, function):
        def slow(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            self.now += 1.0
            return function(*args, **kwargs)

        return slow


def test_it_says_where_the_time_went_counting_none_of_it_twice(full_feed, warehouse, monkeypatch, settings):
    from types import SimpleNamespace

    from feeds.profiles import store
    from feeds.sync import changes, timings

    # One thread: the clock below is shared, so a second thread's steps would land inside this one's.
    settings.WSYNC_READ_AHEAD = False
    clock = StepClock()
    for module in (timings, store):  # the modules that time the steps, on the clock above
        monkeypatch.setattr(module, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    monkeypatch.setattr(changes.ChangedRows, "digests", clock.slowed("digests", changes.ChangedRows.digests))
    monkeypatch.setattr(store, "resolve_page", clock.slowed("resolve", store.resolve_page))
    warehouse.upsert(user_rows(0, 2000, T0))  # four pages
    run = run_now(full_feed)

    steps = run.timings
    assert steps.keys() == {"wait", "read", "fingerprint", "map", "resolve", "write", "commit"}
    assert clock.calls["digests"] >= 4 and clock.calls["resolve"] == 4
    assert steps["fingerprint"] == clock.calls["digests"] and steps["resolve"] == clock.calls["resolve"]
    # The slowed steps' seconds are not counted under the steps that call them, nor anywhere else.
    assert steps["map"] == steps["write"] == steps["read"] == steps["commit"] == steps["wait"] == 0
    assert sum(steps.values()) == clock.now


@pytest.mark.parametrize("page_size", [500, 1], ids=["one page", "a page each"])
def test_a_key_read_twice_keeps_its_last_row_when_only_the_first_changed(
    full_feed, warehouse, workspace, settings, page_size
):
    from feeds.models import DataModel

    # Two rows for one customer (a model joining plans, say), in one page or in two: the later row wins.
    settings.WSYNC_PAGE_SIZE = page_size
    warehouse.sql(
        "CREATE TABLE plans (customer_id VARCHAR, email VARCHAR, plan VARCHAR, score INTEGER, "
        "updated_at TIMESTAMPTZ)"
    )
    warehouse.sql(
        "INSERT INTO plans VALUES ('C1', 'a@x.test', 'old', 1, ?), ('C1', 'a@x.test', 'new', 2, ?)", [T0, T0]
    )
    DataModel.objects.filter(pk=full_feed.data_model_id).update(
        sql="SELECT customer_id, email, plan, score, updated_at FROM plans ORDER BY score"
    )
    run_now(full_feed)
    assert store_users(workspace)["C1"]["plan"] == "new"

    # Only the first row changes; writing it alone would let it overwrite the row that wins.
    warehouse.sql("UPDATE plans SET plan = 'older' WHERE score = 1")
    run = run_now(full_feed)
    assert run.state == RunState.SUCCEEDED
    assert store_users(workspace)["C1"] == {"email": "a@x.test", "plan": "new", "score": 2}
