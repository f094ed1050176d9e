"""/healthz and manage.py check_health: database, broker, the worker's and the scheduler's last beat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from django_q.scheduler import scheduler
from django_q.signals import post_spawn

from feeds import tick
from feeds.ops import beats
from feeds.ops.models import Beat
from feeds.sync.models import RunState, SyncRun
from tests.standins.postgres_fixtures import free_port

pytestmark = pytest.mark.django_db


def alive() -> None:
    beats.beat(beats.WORKER)
    beats.beat(beats.SCHEDULER)


def healthz() -> tuple[int, dict]:
    response = Client().get("/healthz")
    return response.status_code, response.json()


@pytest.fixture
def redis_broker(monkeypatch):
    """Point django-q2 at a Redis broker (its configuration, read once at import, is what changes)."""

    def use(url: str) -> None:
        monkeypatch.setattr(Conf, "ORM", None)
        monkeypatch.setattr(Conf, "REDIS", url)

    return use


def test_it_answers_200_when_every_part_is_alive():
    alive()
    status, body = healthz()
    assert status == 200 and body["ok"] is True
    assert set(body["checks"]) == {"database", "broker", "worker", "scheduler"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["worker"]["age_seconds"] < 60


def test_it_needs_no_sign_in_and_no_https_redirect(settings):
    settings.SECURE_SSL_REDIRECT = True
    alive()
    assert Client().get("/healthz").status_code == 200


@time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False)  # the age is what /healthz shows
def test_it_answers_503_for_a_stale_worker(settings):
    alive()
    Beat.objects.filter(name=beats.WORKER).update(at=timezone.now() - timedelta(minutes=10))
    status, body = healthz()
    assert status == 503 and body["ok"] is False
    assert body["checks"]["worker"]["ok"] is False and "600 s ago" in body["checks"]["worker"]["detail"]
    assert body["checks"]["scheduler"]["ok"] is True


def test_it_answers_503_before_any_worker_was_seen():
    status, body = healthz()
    assert status == 503
    assert "manage.py qcluster" in body["checks"]["worker"]["detail"]


def test_a_worker_busy_with_a_long_run_counts_by_the_runs_heartbeat(feed):
    alive()
    Beat.objects.filter(name=beats.WORKER).update(at=timezone.now() - timedelta(minutes=30))
    SyncRun.objects.create(feed=feed, state=RunState.RUNNING, heartbeat_at=timezone.now())
    status, body = healthz()
    assert status == 200 and body["checks"]["worker"]["ok"] is True


def test_it_answers_503_for_a_stopped_broker_and_names_no_secret(redis_broker):
    alive()
    redis_broker(f"redis://:broker-password@127.0.0.1:{free_port()}/0")  # nothing listens there
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {
        "ok": False,
        "detail": "The task broker does not answer (ConnectionError).",
        "age_seconds": None,
    }
    assert b"broker-password" not in response.content and b"127.0.0.1" not in response.content


def test_it_pings_a_running_redis_broker(redis_broker):
    alive()
    redis_broker("redis://127.0.0.1:6379/13")
    status, body = healthz()
    assert status == 200 and body["checks"]["broker"]["ok"] is True


# django-q2's scheduler closes the database connection when it is done, as a cluster process should: outside a
# test transaction.
@pytest.mark.django_db(transaction=True)
def test_the_scheduler_enqueueing_the_minute_task_is_its_tick_and_the_worker_running_it_its_beat():
    post_spawn.send(sender="django_q", proc_name="worker-1")  # a worker starts: the minute tick exists
    post_spawn.send(sender="django_q", proc_name="worker-2")  # once, however many start
    assert Schedule.objects.filter(name=tick.TICK, func=tick.TICK_FUNC).count() == 1
    scheduler(broker=get_broker())  # django-q2's own scheduler
    assert Beat.objects.filter(name=beats.SCHEDULER).exists()
    assert OrmQ.objects.count() == 1  # the minute task waits in the broker for a worker
    assert not Beat.objects.filter(name=beats.WORKER).exists()
    tick.run()  # its last step beats for the worker
    status, _ = healthz()
    assert status == 200


def test_check_health_exits_1_and_says_what_is_wrong(capsys):
    beats.beat(beats.SCHEDULER)
    with pytest.raises(SystemExit) as stopped:
        call_command("check_health")
    assert stopped.value.code == 1
    out = capsys.readouterr().out
    assert "ok   database: answers" in out and "FAIL worker: no worker has been seen yet" in out


def test_check_health_exits_0_when_healthy(capsys):
    alive()
    call_command("check_health", "--json")
    assert '"ok": true' in capsys.readouterr().out
