"""Alerts: one message when a feed's incident opens, one when it is resolved; who is told is the admins' choice."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from feeds.models import AuditEntry, Frequency, ScheduleType
from feeds.ops import alerts
from feeds.ops.models import AlertSettings, Delivery, Incident, IncidentKind
from feeds.sync.models import RunState, SyncRun
from feeds.warehouses.base import WarehouseError
from tests.personas import client_for
from tests.sync.conftest import T0, run_now, user_rows

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP server that takes webhook POSTs and keeps their JSON bodies."""

    def __init__(self, status: int = 200) -> None:
        received: list[dict] = []
        arrived = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(
                    {"path": self.path, "json": json.loads(body), "type": self.headers["Content-Type"]}
                )
                self.send_response(status)
                self.end_headers()
                arrived.set()

            def log_message(self, *args: object) -> None:
                pass

        self.received, self.arrived = received, arrived
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T000/secret-part"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def break_sql(feed) -> None:
    feed.data_model.sql = "SELECT customer_id, no_such_column FROM users"
    feed.data_model.save()


def mend_sql(feed, sql: str) -> None:
    feed.data_model.sql = sql
    feed.data_model.save()


def test_a_faulted_feed_alerts_the_admins_once_and_once_more_when_it_recovers(feed, warehouse, admin, viewer):
    warehouse.upsert(user_rows(0, 5, T0))
    sql = feed.data_model.sql
    break_sql(feed)
    assert run_now(feed).state == RunState.FAILED

    (incident,) = alerts.evaluate()
    assert incident.kind == IncidentKind.FAULTED and "no_such_column" in incident.summary
    (message,) = mail.outbox
    assert message.to == ["alice@acme.example"]  # no choice made yet: the workspace's admins
    assert message.subject == "[wsync] Feed faulted: feed “Users”"
    assert "no_such_column" in message.body and f"/w/acme/feeds/{feed.pk}/" in message.body

    assert run_now(feed).state == RunState.FAILED  # the same incident goes on: nobody is told again
    assert alerts.evaluate() == []
    assert len(mail.outbox) == 1 and Incident.objects.count() == 1

    mend_sql(feed, sql)
    assert run_now(feed).state == RunState.SUCCEEDED
    (resolved,) = alerts.evaluate()
    assert resolved.pk == incident.pk and resolved.resolved_at is not None
    assert mail.outbox[1].subject == "[wsync] Resolved: feed “Users” is syncing again"
    assert alerts.evaluate() == [] and len(mail.outbox) == 2
    assert list(Delivery.objects.values_list("event", "channel", "ok")) == [
        ("resolved", "email", True),
        ("opened", "email", True),
    ]


def test_retries_of_a_passing_problem_alert_nothing_until_the_run_fails_for_good(
    feed, warehouse, admin, fail_after
):
    warehouse.upsert(user_rows(0, 5, T0))
    fail_after(0, WarehouseError("The warehouse timed out.", permanent=False))
    run = run_now(feed)
    assert run.state == RunState.QUEUED and run.next_retry_at is not None
    assert alerts.evaluate() == [] and mail.outbox == []

    for _ in range(2):  # the retries come due and fail the same way
        SyncRun.objects.filter(pk=run.pk).update(next_retry_at=timezone.now() - timedelta(seconds=1))
        from feeds.sync import engine

        engine.run(run.pk)
    run.refresh_from_db()
    assert run.state == RunState.FAILED and run.attempt == 3

    (incident,) = alerts.evaluate()
    assert incident.kind == IncidentKind.FAILED and incident.run_id == run.pk
    assert mail.outbox[0].subject == "[wsync] Run failed: feed “Users”"
    assert "timed out" in mail.outbox[0].body


def test_an_interval_feed_without_a_success_in_n_intervals_is_late(feed, admin):
    feed.schedule_type, feed.frequency = ScheduleType.INTERVAL, Frequency.HOURLY
    feed.schedule_start = feed.activated_on = T0
    feed.save()
    assert alerts.evaluate(now=T0 + timedelta(hours=2, minutes=59)) == []
    (incident,) = alerts.evaluate(now=T0 + timedelta(hours=3, minutes=1))  # 3 × hourly by default
    assert incident.kind == IncidentKind.LATE and "more than 3 × its hourly interval" in incident.summary

    SyncRun.objects.create(
        feed=feed, state=RunState.SUCCEEDED, finished_at=T0 + timedelta(hours=3, minutes=2)
    )
    (resolved,) = alerts.evaluate(now=T0 + timedelta(hours=3, minutes=3))
    assert resolved.resolved_at is not None and len(mail.outbox) == 2


def test_the_late_threshold_is_the_workspaces_choice(feed, admin):
    feed.schedule_type, feed.frequency = ScheduleType.INTERVAL, Frequency.HOURLY
    feed.schedule_start = feed.activated_on = T0
    feed.save()
    AlertSettings.objects.create(workspace=feed.workspace, late_after_intervals=10)
    assert alerts.evaluate(now=T0 + timedelta(hours=9)) == []
    assert len(alerts.evaluate(now=T0 + timedelta(hours=11))) == 1


def test_it_emails_only_the_chosen_members_who_are_still_members(feed, warehouse, admin, editor, viewer):
    config = AlertSettings.objects.create(workspace=feed.workspace)
    config.recipients.set([editor, viewer])
    viewer.memberships.all().delete()  # left the workspace since
    break_sql(feed)
    run_now(feed)
    alerts.evaluate()
    assert [m.to for m in mail.outbox] == [["eddie@acme.example"]]


def test_it_posts_slack_compatible_json_to_the_webhook(feed, warehouse, admin, receiver):
    config = AlertSettings.objects.create(workspace=feed.workspace, webhook_url=receiver.url)
    config.recipients.set([])
    break_sql(feed)
    run_now(feed)
    alerts.evaluate()
    assert receiver.arrived.wait(10)
    (posted,) = receiver.received
    assert posted["path"] == "/hooks/T000/secret-part" and posted["type"] == "application/json"
    assert posted["json"]["text"].startswith("Feed faulted: feed “Users” in workspace “Acme”.")
    assert mail.outbox == []  # nobody chosen for email
    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.ok, delivery.to) == ("webhook", True, "127.0.0.1")


def test_a_webhook_to_a_private_address_is_refused_by_the_allow_list(
    feed, warehouse, admin, receiver, settings
):
    AlertSettings.objects.create(workspace=feed.workspace, webhook_url=receiver.url)
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = []
    break_sql(feed)
    run_now(feed)
    alerts.evaluate()
    assert receiver.received == []
    webhook = Delivery.objects.get(channel="webhook")
    assert not webhook.ok and "private network address" in webhook.detail


def test_a_webhook_that_answers_an_error_is_recorded_as_not_sent(feed, warehouse, admin):
    failing = Receiver(status=500)
    try:
        AlertSettings.objects.create(workspace=feed.workspace, webhook_url=failing.url)
        break_sql(feed)
        run_now(feed)
        alerts.evaluate()
    finally:
        failing.close()
    webhook = Delivery.objects.get(channel="webhook")
    assert not webhook.ok and webhook.detail == "The webhook answered HTTP 500."


# --- The settings page: admins configure, members read, outsiders see nothing ------------------------------


def test_admins_choose_who_is_told_and_the_change_is_audited(feed, admin, editor, receiver):
    response = client_for(admin).post(
        "/w/acme/settings/alerts/",
        {"recipients": [editor.pk], "webhook_url": receiver.url, "late_after_intervals": 4},
    )
    assert response.status_code == 302
    config = AlertSettings.objects.get(workspace=feed.workspace)
    assert list(config.recipients.all()) == [editor] and config.late_after_intervals == 4
    entry = AuditEntry.objects.get(target="Alert settings")
    assert entry.changes["recipients"] == ["", "eddie@acme.example"]
    assert entry.changes["webhook_url"] == ["", "127.0.0.1/…"]  # the URL's path is the webhook's secret
    assert "secret-part" not in json.dumps(entry.changes)


def test_a_wrong_value_gets_a_message_naming_the_field(admin, settings):
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = []
    response = client_for(admin).post(
        "/w/acme/settings/alerts/", {"webhook_url": "http://10.1.2.3/hook", "late_after_intervals": 0}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "private network address" in form.errors["webhook_url"][0]
    assert form.errors["late_after_intervals"]
    assert not AlertSettings.objects.exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_other_roles_read_the_page_but_may_not_change_it(request, role, workspace, feed, warehouse):
    user = request.getfixturevalue(role)
    break_sql(feed)
    run_now(feed)
    alerts.evaluate()
    page = client_for(user).get("/w/acme/settings/alerts/")
    assert (
        page.status_code == 200 and b"Feed faulted" in page.content and b"alert-settings" not in page.content
    )
    assert client_for(user).post("/w/acme/settings/alerts/", {"late_after_intervals": 2}).status_code == 403
    assert not AlertSettings.objects.exists()


def test_outsiders_do_not_see_the_workspaces_alerts(outsider, workspace):
    assert client_for(outsider).get("/w/acme/settings/alerts/").status_code == 404
    assert (
        client_for(outsider).post("/w/acme/settings/alerts/", {"late_after_intervals": 2}).status_code == 404
    )


def test_the_history_shows_each_incident_and_what_was_sent(feed, warehouse, admin):
    break_sql(feed)
    run_now(feed)
    alerts.evaluate()
    page = client_for(admin).get("/w/acme/settings/alerts/").content.decode()
    assert (
        "Feed faulted" in page
        and "no_such_column" in page
        and "opened · email: sent" in page
        and "Open" in page
    )
