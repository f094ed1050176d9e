"""Delivery end to end: a real feed over DuckDB, its pages' diffs in the outbox, drained to the local receiver."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from feeds.outputs import delivery, service
from feeds.outputs.models import BatchState, OutboxBatch, Output, OutputState, Sends
from feeds.sync import engine, queue
from feeds.sync.models import SyncRun
from tests.outputs.conftest import make_output
from tests.sync.conftest import T0, Crash, run_now, user_rows

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def small_pages(settings):
    settings.WSYNC_PAGE_SIZE = 100


def webhook_batches(receiver):
    return [b for a in receiver.accepted if a.route == "/webhook" for b in a.body]


def test_it_sends_exactly_what_a_run_changed(feed, warehouse, workspace, receiver, clock):
    output = make_output(workspace, "webhook", receiver)
    service.connect(feed, output, None, sends=Sends.ATTRIBUTES)
    warehouse.upsert(user_rows(0, 250, T0))
    run_now(feed)
    done = delivery.drain(output.pk, clock=clock)
    assert done.delivered == 3  # 250 profiles at 100 a request
    first = webhook_batches(receiver)
    assert len(first) == 250
    assert first[0]["user_identities"] == {"customer_id": "C0000000", "email": "user0@example.com"}
    assert first[0]["user_attributes"] == {"plan": "free", "score": 1}

    # Ten users change plan, the rest are read again unchanged: only the ten are sent, only their plan.
    warehouse.upsert(
        user_rows(0, 10, T0 + timedelta(hours=1), plan="pro") + user_rows(10, 240, T0 + timedelta(hours=1))
    )
    run_now(feed)
    receiver.accepted.clear()
    delivery.drain(output.pk, clock=clock)
    second = webhook_batches(receiver)
    assert sorted(b["user_identities"]["customer_id"] for b in second) == [f"C{i:07d}" for i in range(10)]
    assert all(b["user_attributes"] == {"plan": "pro"} for b in second)
    assert len(set(receiver.idempotency_keys())) == len(receiver.idempotency_keys())


def test_it_keeps_the_outbox_with_the_page_when_the_worker_dies(
    feed, warehouse, workspace, receiver, clock, fail_after
):
    output = make_output(workspace, "webhook", receiver)
    service.connect(feed, output, None)
    warehouse.upsert(user_rows(0, 500, T0 + timedelta(minutes=1)))
    fail_after(3, Crash())
    with pytest.raises(Crash):
        run_now(feed)
    # Three pages were committed with the store, and so were their three batches: no more, no less.
    assert OutboxBatch.objects.count() == 3
    fail_after.disarm()
    crashed = SyncRun.objects.get()  # its worker is gone: take it up again, from its last committed page
    SyncRun.objects.filter(pk=crashed.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert queue.recover_stale(feed.pk) == 1
    engine.run(crashed.pk)
    delivery.drain(output.pk, clock=clock)
    sent = webhook_batches(receiver)
    assert sorted(b["user_identities"]["customer_id"] for b in sent) == [f"C{i:07d}" for i in range(500)]


def test_it_retries_with_backoff_and_honours_retry_after_without_counting_rate_limits(
    feed, warehouse, workspace, receiver, clock
):
    output = make_output(workspace, "webhook", receiver)
    service.connect(feed, output, None)
    warehouse.upsert(user_rows(0, 50, T0))
    run_now(feed)
    receiver.answer("429:7", "429:7", "503", "timeout")
    done = delivery.drain(output.pk, clock=clock)
    batch = OutboxBatch.objects.get()
    assert (done.rate_limited, done.retried, done.delivered) == (2, 2, 1)
    assert batch.state == BatchState.DELIVERED and batch.attempts == 2  # the 429s did not count
    assert clock.slept[:2] == [7.0, 7.0]  # Retry-After honoured
    assert 1.0 <= clock.slept[2] <= 2.0 and 2.0 <= clock.slept[3] <= 4.0  # exponential, with jitter
    assert len(receiver.idempotency_keys()) == 1


def test_it_dead_letters_after_the_retry_budget_and_on_a_permanent_answer(
    feed, warehouse, workspace, receiver, clock
):
    output = make_output(workspace, "webhook", receiver, batch_size=20)
    service.connect(feed, output, None)
    warehouse.upsert(user_rows(0, 40, T0))
    run_now(feed)
    receiver.answer("500", "500", "500", "500")  # the first batch: four failures, the budget
    done = delivery.drain(output.pk, clock=clock)
    first, second = OutboxBatch.objects.order_by("seq")
    assert (first.state, first.attempts) == (BatchState.DEAD, 4)
    assert "Gave up after 4 tries" in first.last_error and "HTTP 500" in first.last_error
    assert second.state == BatchState.DELIVERED and done.dead == 1

    # A redelivered dead letter goes again, with the same id.
    service.redeliver(first.connection, None, None)
    receiver.answer("413")
    delivery.drain(output.pk, clock=clock)
    first.refresh_from_db()
    assert first.state == BatchState.DEAD and first.attempts == 1
    assert "HTTP 413" in first.last_error and "scripted 413" in first.last_error  # the destination's words
    service.redeliver(first.connection, [first.pk], None)
    delivery.drain(output.pk, clock=clock)
    first.refresh_from_db()
    assert first.state == BatchState.DELIVERED and receiver.idempotency_keys()[-1] == first.batch_id


def test_a_401_faults_the_output_and_keeps_its_backlog(feed, warehouse, workspace, receiver, clock):
    output = make_output(workspace, "webhook", receiver, batch_size=10)
    service.connect(feed, output, None)
    warehouse.upsert(user_rows(0, 30, T0))
    run_now(feed)
    receiver.answer("401")
    done = delivery.drain(output.pk, clock=clock)
    output.refresh_from_db()
    assert done.faulted and output.state == OutputState.FAULTED and "HTTP 401" in output.fault
    assert OutboxBatch.objects.filter(state=BatchState.PENDING).count() == 3
    assert delivery.drain(output.pk, clock=clock).delivered == 0  # stays stopped
    service.reactivate(output, None)
    assert delivery.drain(output.pk, clock=clock).delivered == 3


def test_pause_keeps_the_backlog_and_resume_drains_it(feed, warehouse, workspace, receiver, clock):
    output = make_output(workspace, "webhook", receiver)
    connection = service.connect(feed, output, None)
    service.set_paused(connection, True, None)
    warehouse.upsert(user_rows(0, 120, T0))
    run_now(feed)
    assert delivery.drain(output.pk, clock=clock).delivered == 0
    assert service.counters([connection])[connection.pk].pending == 2
    service.set_paused(connection, False, None)
    assert delivery.drain(output.pk, clock=clock).delivered == 2
    connection.refresh_from_db()
    counters = service.counters([connection])[connection.pk]
    assert (counters.pending, counters.delivered, counters.delivered_changes) == (0, 2, 120)


def test_disconnect_asks_whether_to_drop_the_backlog(feed, warehouse, workspace, receiver, clock):
    output = make_output(workspace, "webhook", receiver)
    connection = service.connect(feed, output, None)
    warehouse.upsert(user_rows(0, 120, T0))
    run_now(feed)
    assert service.disconnect(connection, None, drop_backlog=False) == 0
    warehouse.upsert(user_rows(500, 10, T0 + timedelta(hours=1)))
    run_now(feed)  # a disconnected connection takes no new changes
    assert delivery.drain(output.pk, clock=clock).delivered == 2
    service.tick()
    assert not output.connections.exists()

    again = service.connect(feed, output, None)
    warehouse.upsert(user_rows(600, 10, T0 + timedelta(hours=2)))
    run_now(feed)
    assert service.disconnect(again, None, drop_backlog=True) == 1
    assert not OutboxBatch.objects.filter(state=BatchState.PENDING).exists()


def test_the_allow_list_and_what_to_send_shape_each_connection(feed, warehouse, workspace, receiver, clock):
    output = make_output(workspace, "webhook", receiver)
    service.connect(feed, output, None, sends=Sends.ATTRIBUTES, attributes=["plan"])
    warehouse.upsert(user_rows(0, 5, T0, score=3))
    run_now(feed)
    delivery.drain(output.pk, clock=clock)
    assert all(b["user_attributes"] == {"plan": "free"} for b in webhook_batches(receiver))
    receiver.accepted.clear()
    warehouse.upsert(user_rows(0, 5, T0 + timedelta(hours=1), score=4))  # only score changes: not allowed
    run_now(feed)
    delivery.drain(output.pk, clock=clock)
    assert webhook_batches(receiver) == []


def test_a_connection_with_history_gets_what_the_store_holds(feed, warehouse, workspace, receiver, clock):
    warehouse.upsert(user_rows(0, 30, T0))
    run_now(feed)
    output = make_output(workspace, "webhook", receiver)
    connection = service.connect(feed, output, None, history=True)
    assert service.send_history(connection.pk) == 1
    delivery.drain(output.pk, clock=clock)
    assert len(webhook_batches(receiver)) == 30


def test_an_output_that_does_not_answer_in_order_keeps_its_order(feed, warehouse, workspace, receiver, clock):
    output = make_output(workspace, "webhook", receiver, batch_size=10)
    service.connect(feed, output, None)
    warehouse.upsert(user_rows(0, 50, T0))
    run_now(feed)
    receiver.answer("503:15")  # the head waits; the batches behind it wait with it
    delivery.drain(output.pk, clock=clock)
    seqs = [OutboxBatch.objects.get(batch_id=k).seq for k in receiver.idempotency_keys()]
    assert seqs == sorted(seqs) == [1, 2, 3, 4, 5]


def test_an_output_faulted_elsewhere_is_not_drained(workspace, receiver, clock):
    output = make_output(workspace, "webhook", receiver)
    Output.objects.filter(pk=output.pk).update(state=OutputState.FAULTED)
    assert delivery.drain(output.pk, clock=clock).delivered == 0


def test_connections_receiving_the_same_batches_get_the_same_payloads_under_their_own_ids(
    feed, warehouse, workspace, receiver
):
    first = service.connect(feed, make_output(workspace, "webhook", receiver, name="One"), None)
    second = service.connect(feed, make_output(workspace, "webhook", receiver, name="Two"), None)
    narrow = service.connect(
        feed, make_output(workspace, "webhook", receiver, name="Three"), None, attributes=["plan"]
    )
    warehouse.upsert(user_rows(0, 150, T0))
    run_now(feed)

    def rows(connection):
        return list(OutboxBatch.objects.filter(connection=connection).order_by("seq"))

    one, two, three = rows(first), rows(second), rows(narrow)
    assert [b.payload for b in one] == [b.payload for b in two] and len(one) == 2  # 150 at 100 a request
    assert {b.batch_id for b in one}.isdisjoint(b.batch_id for b in two)
    assert [b.changes for b in one] == [100, 50]
    assert all('"score"' not in b.payload for b in three) and all('"score"' in b.payload for b in one)
