"""/metrics: Prometheus text, behind a bearer token, with values read from the database after real runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from feeds.models import FeedState
from feeds.sync.models import RunState, SyncRun
from tests.feed_fixtures import build_feed
from tests.sync.conftest import T0, run_now, user_rows

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests"
SCRAPED_AT = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def token(settings):
    settings.WSYNC_METRICS_TOKEN = TOKEN


def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def feed_labels(feed, **more: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"workspace": feed.workspace.slug, "feed": feed.slug, **more}.items()))


def test_it_counts_runs_rows_and_durations_after_real_runs(feed, warehouse):
    warehouse.upsert(user_rows(0, 40, T0))
    first = run_now(feed)
    warehouse.upsert(user_rows(30, 15, T0.replace(hour=5), plan="pro"))  # 10 updated, 5 new
    second = run_now(feed)
    assert first.state == second.state == RunState.SUCCEEDED
    SyncRun.objects.create(feed=feed)  # one waiting for a worker

    values = scrape()

    labels = feed_labels(feed)
    assert values[("wsync_runs", feed_labels(feed, state="succeeded"))] == 2
    assert values[("wsync_runs", feed_labels(feed, state="queued"))] == 1
    # The second run reads again the 30 rows still at the checkpoint's value (incremental reads are inclusive).
    assert (first.rows_read, second.rows_read) == (40, 45)
    assert values[("wsync_rows_read_total", labels)] == 85
    assert values[("wsync_profiles_created_total", labels)] == 45
    assert values[("wsync_profiles_updated_total", labels)] == second.profiles_updated == 10
    assert values[("wsync_rows_rejected_total", labels)] == 0
    assert values[("wsync_run_duration_seconds_count", labels)] == 2
    assert values[("wsync_run_duration_seconds_bucket", feed_labels(feed, le="+Inf"))] == 2
    took = sum(r.duration.total_seconds() for r in (first, second))
    assert values[("wsync_run_duration_seconds_sum", labels)] == pytest.approx(took, abs=0.01)
    assert 0 <= values[("wsync_seconds_since_last_success", labels)] < 600
    assert values[("wsync_queue_depth", (("waiting_for", "worker"),))] == 1
    assert values[("wsync_queue_depth", (("waiting_for", "retry"),))] == 0
    assert ("wsync_broker_queue_depth", ()) in values


def test_it_leaves_out_a_paused_feeds_last_success(feed, warehouse):
    warehouse.upsert(user_rows(0, 4, T0))
    run_now(feed)
    feed.state = FeedState.PAUSED
    feed.save()
    values = scrape()
    assert values[("wsync_rows_read_total", feed_labels(feed))] == 4
    assert ("wsync_seconds_since_last_success", feed_labels(feed)) not in values


def test_it_needs_the_token():
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_it_is_off_without_a_token(settings):
    settings.WSYNC_METRICS_TOKEN = ""
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404 and b"WSYNC_METRICS_TOKEN" in response.content


def queries_of_a_scrape() -> int:
    with CaptureQueriesContext(connection) as queries:
        scrape()
    return len(queries)


def test_a_scrape_takes_the_same_queries_for_one_feed_or_many(feed, warehouse):
    warehouse.upsert(user_rows(0, 3, T0))
    run_now(feed)
    one = queries_of_a_scrape()
    for i in range(5):
        other = build_feed(
            feed.workspace, feed.connection, sql=feed.data_model.sql, slug=f"f{i}", name=f"F{i}"
        )
        SyncRun.objects.create(feed=other, state=RunState.SUCCEEDED, rows_read=i)
    assert queries_of_a_scrape() == one


@pytest.mark.django_db(transaction=True)
def test_it_shows_each_outputs_backlog_and_delivery_lag(feed, warehouse):
    from feeds.outputs import delivery, service
    from feeds.outputs.models import OutboxBatch
    from tests.outputs.conftest import FakeClock, make_output
    from tests.standins.outputs_http import start_receiver

    receiver, server = start_receiver()
    try:
        output = make_output(feed.workspace, "webhook", receiver, name="CRM hook")
        service.connect(feed, output, None)
        warehouse.upsert(user_rows(0, 30, T0))
        run_now(feed)
        labels = (("output", "CRM hook"), ("workspace", feed.workspace.slug))
        # The batch has waited 90 s at the moment of the scrape.
        OutboxBatch.objects.update(created_at=SCRAPED_AT - timedelta(seconds=90))
        with time_machine.travel(SCRAPED_AT, tick=False):
            waiting = scrape()
        assert waiting[("wsync_outbox_backlog", labels)] == 1  # 30 profiles, 100 a batch
        assert waiting[("wsync_output_delivery_lag_seconds", labels)] == 90
        assert waiting[("wsync_outbox_dead_letters", labels)] == 0

        delivery.drain(output.pk, clock=FakeClock())
        drained = scrape()
        assert drained[("wsync_outbox_backlog", labels)] == 0
        assert drained[("wsync_output_delivery_lag_seconds", labels)] == 0
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
