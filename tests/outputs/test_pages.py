"""Output pages through the one access check: roles, plain-words errors, audit, counters and dead letters."""

from __future__ import annotations

import pytest

from feeds.models import AuditEntry
from feeds.outputs import service
from feeds.outputs.models import BatchState, FeedOutput, OutboxBatch, Output
from tests.outputs.conftest import make_output
from tests.personas import client_for
from tests.standins.outputs_http import SECRET


@pytest.fixture
def hook(workspace, receiver):
    return make_output(workspace, "webhook", receiver)


def test_the_directory_lists_outputs_and_kinds_to_members_only(workspace, viewer, outsider, hook):
    page = client_for(viewer).get("/w/acme/outputs/")
    assert page.status_code == 200 and "Webhook" in page.text and "Add Braze" not in page.text
    assert client_for(outsider).get("/w/acme/outputs/").status_code == 404


def test_an_editor_adds_an_output_and_wrong_values_name_their_field(workspace, editor, receiver):
    client = client_for(editor)
    wrong = client.post("/w/acme/outputs/new/webhook/", {"name": "Hook", "url": "ftp://x", "batch_size": "0"})
    assert wrong.status_code == 200 and not Output.objects.exists()
    assert "Start the address with https://." in wrong.text
    assert (
        "Batch size must be between 1 and 10,000." in wrong.text
        and "Signing secret is required." in wrong.text
    )
    good = client.post(
        "/w/acme/outputs/new/webhook/",
        {"name": "Hook", "url": f"{receiver.url}/webhook", "batch_size": "500", "signing_secret": SECRET},
    )
    assert good.status_code == 302
    output = Output.objects.get()
    assert output.config == {"url": f"{receiver.url}/webhook", "batch_size": 500}
    assert SECRET not in client.get(f"/w/acme/outputs/{output.pk}/").text  # never shown again
    assert AuditEntry.objects.filter(action="create output", target="Hook").exists()
    test = client.post(f"/w/acme/outputs/{output.pk}/test/", follow=True)
    assert "Test event delivered to Hook." in test.text and len(receiver.accepted) == 1


def test_a_viewer_cannot_connect_and_an_editor_cannot_pause(
    workspace, viewer, editor, admin, active_feed, hook
):
    assert (
        client_for(viewer)
        .post(f"/w/acme/feeds/{active_feed.pk}/outputs/connect/", {"output": hook.pk})
        .status_code
        == 403
    )
    made = client_for(editor).post(
        f"/w/acme/feeds/{active_feed.pk}/outputs/connect/",
        {"output": hook.pk, "sends": "both", "attributes": "plan, country"},
    )
    assert made.status_code == 302
    connection = FeedOutput.objects.get()
    assert connection.attributes == ["country", "plan"]
    assert client_for(editor).post(f"/w/acme/connected-outputs/{connection.pk}/pause/").status_code == 403
    assert (
        client_for(admin)
        .post(f"/w/acme/connected-outputs/{connection.pk}/pause/", {"paused": "1"})
        .status_code
        == 302
    )
    connection.refresh_from_db()
    assert connection.paused
    again = client_for(editor).post(
        f"/w/acme/feeds/{active_feed.pk}/outputs/connect/", {"output": hook.pk, "sends": "both"}
    )
    assert "This feed already sends to Webhook." in again.text
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"connect output", "pause output"} <= actions


def test_the_feed_pages_show_the_green_plus_and_the_counters(workspace, editor, active_feed, hook):
    connection = service.connect(active_feed, hook, None)
    OutboxBatch.objects.create(connection=connection, seq=1, batch_id="b1", payload="[]", changes=3)
    OutboxBatch.objects.create(
        connection=connection,
        seq=2,
        batch_id="b2",
        payload="[]",
        state=BatchState.DEAD,
        last_error="HTTP 400: bad",
    )
    listing = client_for(editor).get("/w/acme/feeds/")
    assert (
        "Connected Outputs" in listing.text
        and f"/w/acme/feeds/{active_feed.pk}/outputs/connect/" in listing.text
    )
    summary = client_for(editor).get(f"/w/acme/feeds/{active_feed.pk}/")
    assert 'id="connected-outputs"' in summary.text
    assert '<td class="pending">1</td>' in summary.text and "HTTP 400: bad" in summary.text


def test_dead_letters_download_and_redeliver_for_admins(workspace, admin, viewer, active_feed, hook):
    connection = service.connect(active_feed, hook, None)
    dead = OutboxBatch.objects.create(
        connection=connection,
        seq=1,
        batch_id="b1",
        payload='[{"environment":"production"}]',
        state=BatchState.DEAD,
    )
    page = client_for(viewer).get(f"/w/acme/connected-outputs/{connection.pk}/dead-letters/")
    assert "b1" in page.text and "Redeliver" not in page.text
    download = client_for(viewer).get(
        f"/w/acme/connected-outputs/{connection.pk}/dead-letters/{dead.pk}.json"
    )
    assert download.json() == [{"environment": "production"}]
    assert client_for(viewer).post(f"/w/acme/connected-outputs/{connection.pk}/redeliver/").status_code == 403
    client_for(admin).post(f"/w/acme/connected-outputs/{connection.pk}/redeliver/", {"batch": [dead.pk]})
    dead.refresh_from_db()
    assert dead.state == BatchState.PENDING and AuditEntry.objects.filter(action="redeliver").exists()


def test_disconnect_asks_about_the_backlog(workspace, admin, active_feed, hook):
    connection = service.connect(active_feed, hook, None)
    OutboxBatch.objects.create(connection=connection, seq=1, batch_id="b1", payload="[]")
    ask = client_for(admin).get(f"/w/acme/connected-outputs/{connection.pk}/disconnect/")
    assert "1 batch is still waiting to be delivered." in ask.text and "Drop the pending batches" in ask.text
    client_for(admin).post(f"/w/acme/connected-outputs/{connection.pk}/disconnect/", {"drop_backlog": "drop"})
    assert not FeedOutput.objects.exists() and not OutboxBatch.objects.exists()


def test_deleting_an_output_says_what_goes_and_is_for_admins(workspace, admin, editor, active_feed, hook):
    connection = service.connect(active_feed, hook, None)
    OutboxBatch.objects.create(connection=connection, seq=1, batch_id="b1", payload="[]")
    OutboxBatch.objects.create(
        connection=connection, seq=2, batch_id="b2", payload="[]", state=BatchState.DEAD
    )
    url = f"/w/acme/outputs/{hook.pk}/delete/"
    assert client_for(editor).get(url).status_code == 403
    assert client_for(editor).post(url, {"seen": str(connection.pk)}).status_code == 403
    assert url not in client_for(editor).get("/w/acme/outputs/").text
    assert url in client_for(admin).get("/w/acme/outputs/").text
    ask = client_for(admin).get(url)
    assert active_feed.name in ask.text
    assert "1 batch waiting to be delivered will never be sent, and 1 dead letter will be gone" in ask.text
    # A feed connected after the page was shown is not deleted unseen: the page asks again.
    again = client_for(admin).post(url, {"seen": ""})
    assert again.status_code == 200 and "connected or disconnected meanwhile" in again.text
    assert Output.objects.filter(pk=hook.pk).exists()
    done = client_for(admin).post(url, {"seen": str(connection.pk)})
    assert done.status_code == 302
    assert (
        not Output.objects.exists() and not FeedOutput.objects.exists() and not OutboxBatch.objects.exists()
    )
    entry = AuditEntry.objects.get(action="delete output")
    assert entry.changes["dead letters"] == [1, 0]


def test_reconnecting_while_the_backlog_drains_keeps_the_backlog(workspace, admin, active_feed, hook):
    connection = service.connect(active_feed, hook, None)
    OutboxBatch.objects.create(connection=connection, seq=1, batch_id="b1", payload="[]")
    FeedOutput.objects.filter(pk=connection.pk).update(next_seq=2)
    service.disconnect(connection, None, drop_backlog=False)
    again = service.connect(active_feed, hook, None, sends="events")
    assert again.pk == connection.pk and not again.disconnected and again.sends == "events"
    assert list(again.outbox.values_list("batch_id", "state")) == [("b1", BatchState.PENDING)]
    with pytest.raises(service.Invalid):
        service.connect(active_feed, hook, None)  # connected already
