"""Each output kind against a real receiver: the vendor stand-ins over HTTP, and RabbitMQ itself."""

from __future__ import annotations

import uuid

import pika
import pytest

from feeds.outputs import delivery, service
from feeds.outputs.models import BatchState, OutboxBatch, OutputState
from tests.feed_fixtures import build_feed
from tests.outputs.conftest import make_output
from tests.standins.outputs_http import SECRET
from tests.sync.conftest import T0, USER_COLUMNS, run_now, user_rows

pytestmark = pytest.mark.django_db(transaction=True)

MAPPINGS = [
    {"mapping_type": "column", "source": "customer_id", "destination": "user_identities.customer_id"},
    {"mapping_type": "column", "source": "email", "destination": "user_identities.email"},
    {"mapping_type": "column", "source": "plan", "destination": "user_attributes.plan"},
    {"mapping_type": "static", "destination": "events[].event_type", "value": "custom_event"},
    {"mapping_type": "static", "destination": "events[].data.event_name", "value": "plan_checked"},
    {"mapping_type": "static", "destination": "events[].data.custom_event_type", "value": "other"},
    {"mapping_type": "column", "source": "updated_at", "destination": "events[].data.timestamp_unixtime_ms"},
    {"mapping_type": "ignore", "source": "score"},
]


@pytest.fixture
def both_feed(workspace, warehouse, settings):
    """An incremental feed whose every row sets a plan and records one event."""
    from feeds.models import Connection, FeedState

    settings.WSYNC_PAGE_SIZE = 100
    connection = Connection.objects.create(
        workspace=workspace,
        slug="duck2",
        name="Duck 2",
        provider="duckdb",
        config={"path": str(warehouse.path)},
    )
    return build_feed(
        workspace,
        connection,
        sql="SELECT customer_id, email, plan, score, updated_at FROM users",
        columns=USER_COLUMNS,
        mappings=[{"source": None, "value": None, **m} for m in MAPPINGS],
        slug="both",
        name="Both",
        state=FeedState.ACTIVE,
        iterator="updated_at",
        iterator_type="timestamptz",
    )


def _run(feed, output, warehouse, clock, users=200):
    service.connect(feed, output, None)
    warehouse.upsert(user_rows(0, users, T0))
    run_now(feed)
    return delivery.drain(output.pk, clock=clock)


def test_mparticle_gets_bulk_requests_of_at_most_100_batches_each_with_a_source_request_id(
    both_feed, workspace, warehouse, receiver, clock
):
    output = make_output(workspace, "mparticle", receiver)
    done = _run(both_feed, output, warehouse, clock, users=250)
    assert done.delivered == 3 and not receiver.refused
    bodies = [a.body for a in receiver.accepted]
    assert [len(b) for b in bodies] == [100, 100, 50]
    ids = [b["source_request_id"] for body in bodies for b in body]
    assert len(set(ids)) == 250
    first = bodies[0][0]
    assert (
        first["user_attributes"] == {"plan": "free"}
        and first["events"][0]["data"]["event_name"] == "plan_checked"
    )


def test_mparticle_with_a_wrong_secret_faults_the_output(both_feed, workspace, warehouse, receiver, clock):
    output = make_output(workspace, "mparticle", receiver, api_secret="wrong")
    done = _run(both_feed, output, warehouse, clock, users=10)
    output.refresh_from_db()
    assert done.faulted and output.state == OutputState.FAULTED
    assert "Invalid API key or secret" in output.fault
    assert OutboxBatch.objects.filter(state=BatchState.PENDING).count() == 1


def test_braze_gets_at_most_75_attributes_and_75_events_a_request(
    both_feed, workspace, warehouse, receiver, clock
):
    output = make_output(workspace, "braze", receiver)
    _run(both_feed, output, warehouse, clock, users=200)
    assert not receiver.refused
    bodies = [a.body for a in receiver.accepted]
    assert all(len(b["attributes"]) <= 75 and len(b["events"]) <= 75 for b in bodies)
    assert sum(len(b["attributes"]) for b in bodies) == 200 == sum(len(b["events"]) for b in bodies)
    assert bodies[0]["attributes"][0] == {"external_id": "C0000000", "plan": "free"}
    assert bodies[0]["events"][0]["name"] == "plan_checked"


def test_amplitude_gets_identify_calls_and_events_with_insert_ids(
    both_feed, workspace, warehouse, receiver, clock
):
    output = make_output(workspace, "amplitude", receiver)
    _run(both_feed, output, warehouse, clock, users=200)
    assert not receiver.refused
    identified = [i for a in receiver.accepted if a.route == "/identify" for i in a.body]
    events = [e for a in receiver.accepted if a.route == "/2/httpapi" for e in a.body["events"]]
    assert len(identified) == 200 and identified[0]["user_properties"] == {"$set": {"plan": "free"}}
    assert len(events) == 200 and len({e["insert_id"] for e in events}) == 200


def test_an_attribute_removal_reaches_the_destination(workspace, warehouse, feed, receiver, clock):
    output = make_output(workspace, "amplitude", receiver)
    service.connect(feed, output, None)
    warehouse.upsert(user_rows(0, 3, T0))
    run_now(feed)
    delivery.drain(output.pk, clock=clock)
    receiver.accepted.clear()
    warehouse.sql(
        "UPDATE users SET plan = NULL, updated_at = updated_at + INTERVAL 1 HOUR WHERE customer_id = 'C0000001'"
    )
    run_now(feed)
    delivery.drain(output.pk, clock=clock)
    identified = [i for a in receiver.accepted if a.route == "/identify" for i in a.body]
    assert identified == [{"user_id": "C0000001", "user_properties": {"$unset": {"plan": "-"}}}]


@pytest.fixture
def rabbit_queue():
    name = f"outputs-{uuid.uuid4().hex[:10]}"
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
    channel = connection.channel()
    channel.queue_declare(name, auto_delete=False)
    yield channel, name
    channel.queue_delete(name)
    connection.close()


def test_rabbitmq_gets_every_batch_confirmed_with_its_id(feed, workspace, warehouse, clock, rabbit_queue):
    channel, queue = rabbit_queue
    output = make_output(workspace, "rabbitmq", routing_key=queue, batch_size=40)
    done = _run(feed, output, warehouse, clock, users=100)
    assert done.delivered == 3
    messages = []
    while (got := channel.basic_get(queue, auto_ack=True))[0] is not None:
        messages.append(got)
    ids = [properties.message_id for _, properties, _ in messages]
    assert ids == list(OutboxBatch.objects.order_by("seq").values_list("batch_id", flat=True))
    import json

    assert sum(len(json.loads(body)) for _, _, body in messages) == 100


def test_rabbitmq_refuses_an_unroutable_batch_and_a_wrong_password(feed, workspace, warehouse, clock):
    nowhere = make_output(
        workspace, "rabbitmq", name="Nowhere", routing_key=f"outputs-none-{uuid.uuid4().hex[:6]}"
    )
    _run(feed, nowhere, warehouse, clock, users=5)
    dead = OutboxBatch.objects.get(connection__output=nowhere)
    assert dead.state == BatchState.DEAD and "No queue is bound" in dead.last_error
    wrong = make_output(workspace, "rabbitmq", name="Wrong", routing_key="x", password="not-guest")
    service.connect(feed, wrong, None, history=False)
    assert service.send_history(wrong.connections.get().pk) == 1
    assert delivery.drain(wrong.pk, clock=clock).faulted
    wrong.refresh_from_db()
    assert wrong.state == OutputState.FAULTED and "refused the user or password" in wrong.fault


def test_send_test_event_reaches_the_webhook_signed(workspace, receiver):
    output = make_output(workspace, "webhook", receiver)
    assert service.send_test(output).delivered
    (accepted,) = receiver.accepted
    assert accepted.body[0]["events"][0]["data"]["event_name"] == "wsync test event"


def test_a_private_address_is_refused_unless_allowed(workspace, receiver, settings):
    output = make_output(workspace, "webhook", receiver)
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = False
    answer = service.send_test(output)
    assert answer.outcome == "permanent" and "private network address" in answer.message
    assert receiver.requests == 0


def test_a_saved_secret_goes_only_where_it_was_saved(workspace, receiver):
    output = make_output(workspace, "webhook", receiver)
    with pytest.raises(service.Invalid) as refused:
        service.save_output(
            workspace,
            "webhook",
            output.name,
            {"url": "https://elsewhere.example/hook", "signing_secret": ""},
            None,
            output=output,
        )
    assert (
        "signing_secret" in refused.value.errors
        and "Endpoint URL changed" in refused.value.errors["signing_secret"]
    )
    kept = service.save_output(
        workspace,
        "webhook",
        output.name,
        {"url": output.config["url"], "signing_secret": "", "batch_size": 50},
        None,
        output=output,
    )
    assert kept.secrets["signing_secret"] == SECRET and kept.config["batch_size"] == 50


def test_wrong_settings_name_their_field(workspace):
    with pytest.raises(service.Invalid) as refused:
        service.save_output(workspace, "webhook", "Hook", {"url": "ftp://x", "batch_size": "lots"}, None)
    errors = refused.value.errors
    assert errors["batch_size"] == "Batch size must be a whole number."
    assert errors["url"] == "Start the address with https://."
    assert errors["signing_secret"] == "Signing secret is required."
    with pytest.raises(service.Invalid) as unknown:
        service.save_output(workspace, "carrier-pigeon", "Bird", {}, None)
    assert "kind" in unknown.value.errors
