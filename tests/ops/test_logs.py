"""Log lines: one per request and per run step, with run/feed/workspace ids, JSON on demand, never a secret."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django_q.conf import Conf

from feeds.mapping.rules import auto_mappings
from feeds.models import Connection, FeedState
from feeds.ops.logs import ContextFilter, JsonFormatter, safe_path
from feeds.sync import service
from feeds.sync.models import RunState, SyncRun
from feeds.warehouses.registry import open_warehouse
from tests.feed_fixtures import build_feed
from tests.personas import client_for
from tests.standins.postgres_fixtures import PgDatabase

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log():
    """Every line logged (all loggers, DEBUG and up) through the JSON formatter, as the settings wire it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def cluster_in_process(monkeypatch):
    """django-q2's sync mode: a task goes through the real worker and monitor code, in this process."""
    monkeypatch.setattr(Conf, "SYNC", True)


def postgres_feed(workspace, db: PgDatabase, password: str):
    with db.admin() as conn:
        conn.execute("CREATE TABLE users (customer_id TEXT, email TEXT, plan TEXT, updated_at TIMESTAMPTZ)")
        conn.execute(
            "INSERT INTO users VALUES ('C1', 'ada@example.com', 'pro', now()), ('C2', 'al@example.com', 'free', now())"
        )
        conn.execute(f"GRANT SELECT ON users TO {db.user}")
    config = {k: v for k, v in db.config().items() if k != "password"}
    connection = Connection.objects.create(
        workspace=workspace,
        slug="pg",
        name="PG",
        provider="postgres",
        config=config,
        secrets={"password": password},
    )
    sql = "SELECT customer_id, email, plan, updated_at FROM users"
    columns = open_warehouse("postgres", {**config, "password": db.password}).describe(sql)
    return build_feed(
        workspace,
        connection,
        sql=sql,
        columns=[{"name": c.name, "type": c.type.value, "warehouse_type": c.warehouse_type} for c in columns],
        mappings=auto_mappings([c.name for c in columns], "user_attributes", "updated_at"),
        state=FeedState.ACTIVE,
        iterator="updated_at",
        iterator_type="timestamptz",
    )


def run_through_the_cluster(feed, django_capture_on_commit_callbacks) -> SyncRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = service.request_run(feed, None)
    run.refresh_from_db()
    return run


def test_a_run_logs_its_end_and_each_step_with_its_ids_and_never_the_password(
    workspace, pg_database, json_log, cluster_in_process, django_capture_on_commit_callbacks
):
    feed = postgres_feed(workspace, pg_database, pg_database.password)
    run = run_through_the_cluster(feed, django_capture_on_commit_callbacks)
    assert run.state == RunState.SUCCEEDED, run.error

    lines = json_log()
    ids = {"run_id": run.pk, "feed_id": feed.pk, "workspace_id": workspace.pk}
    run_lines = [line for line in lines if line["logger"] == "wsync.run"]
    assert run_lines[0]["message"] == f"run {run.pk}: a worker takes it up"
    assert run_lines[1]["message"].startswith(f"run {run.pk}: succeeded after attempt 1; rows read 2")
    steps = {line["step"]: line["seconds"] for line in run_lines if "step" in line}
    assert set(steps) == set(run.timings) and {"read", "write"} <= set(steps)
    assert all({k: line[k] for k in ids} == ids for line in run_lines)
    assert all(line["time"] and line["level"] for line in lines)
    assert pg_database.password not in json.dumps(lines)


def test_a_wrong_password_fails_the_run_and_is_not_logged_either(
    workspace, pg_database, json_log, cluster_in_process, django_capture_on_commit_callbacks
):
    feed = postgres_feed(workspace, pg_database, "wrong-password-do-not-log-me")
    run = run_through_the_cluster(feed, django_capture_on_commit_callbacks)
    assert run.state == RunState.FAILED
    text = json.dumps(json_log())
    assert f'"run_id": {run.pk}' in text and "wrong-password-do-not-log-me" not in text


def test_a_request_line_has_method_path_status_time_user_and_workspace(admin, json_log):
    client_for(admin).get("/w/acme/feeds/?q=x")
    (line,) = [line for line in json_log() if line["logger"] == "wsync.request"]
    assert {k: line[k] for k in ("method", "path", "status", "user_id", "workspace")} == {
        "method": "GET",
        "path": "/w/acme/feeds/",  # never the query string
        "status": 200,
        "user_id": admin.pk,
        "workspace": "acme",
    }
    assert line["duration_ms"] > 0 and 0 < line["cpu_ms"] <= line["duration_ms"] + 1


def test_a_posted_password_is_not_in_the_request_line(admin, json_log):
    client_for(admin).post(
        "/w/acme/feeds/new/postgres/",
        {
            "name": "PG",
            "host": "127.0.0.1",
            "port": 1,
            "database": "d",
            "user": "u",
            "password": "posted-secret-9",
        },
    )
    lines = json_log()
    assert any(line["logger"] == "wsync.request" and line["method"] == "POST" for line in lines)
    assert "posted-secret-9" not in json.dumps(lines)


def test_one_time_tokens_in_paths_are_blanked():
    assert safe_path("/accounts/reset/MQ/abc-123/") == "/accounts/reset/…/…/"
    assert safe_path("/accounts/invite/MQ/abc-123/") == "/accounts/invite/…/…/"
    assert safe_path("/w/acme/feeds/") == "/w/acme/feeds/"


def test_the_text_format_carries_the_ids_too(settings):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    from feeds.ops.logs import context

    with context(run_id=7, feed_id=3, workspace_id=1):
        ContextFilter().filter(record)
    formatter = logging.Formatter(settings.LOGGING["formatters"]["text"]["format"])
    assert formatter.format(record).endswith("hello [run=7 feed=3 workspace=1]")
