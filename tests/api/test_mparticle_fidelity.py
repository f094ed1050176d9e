"""Issue 21: an mParticle customer's scripts run against wsync, and the API keeps its own promises.

One contract test (or a few) per item of the issue, against the real API over Django's test client, the
real database cache or the real Redis, and the real engine. Items 5 and 6 (connection-check time, Snowflake's
environment) are the providers' (tests/providers).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.db import connection as db
from django.test import Client
from django.utils import timezone

from feeds.accounts.models import Role
from feeds.api.credentials import create_credential
from feeds.models import FieldTransformation
from feeds.sync import engine
from feeds.sync.models import SyncRun
from tests.api.conftest import pipeline_body

ROOT = Path(__file__).resolve().parents[2]
REDIS_TEST_DB = "redis://127.0.0.1:6379/13"  # this suite's own Redis database number


# --- 1. the rate limit: its setting, and one counter per credential across processes ----------------


def test_the_rate_limit_setting_is_read_from_the_environment():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "wsync_site.test_settings", "WSYNC_API_RATE_LIMIT": "30"}
    read = "import django; django.setup(); from django.conf import settings; print(settings.WSYNC_API_RATE_LIMIT)"
    out = subprocess.run([sys.executable, "-c", read], env=env, cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "30", out.stderr


def test_the_counter_lives_in_the_database_cache_table(api, settings):
    settings.WSYNC_API_RATE_LIMIT = 2
    assert [api.get("connections").status_code for _ in range(3)] == [200, 200, 429]
    with db.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM wsync_cache")
        keys = [row[0] for row in cursor.fetchall()]
    assert any("wsync-api-rate:credential:" in key for key in keys)


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_TEST_DB}
    }
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


COUNT_IN_ANOTHER_PROCESS = """
import sys, django
django.setup()
from feeds.api import ratelimit
for _ in range(int(sys.argv[2])):
    ratelimit.count(sys.argv[1])
"""


def test_with_redis_every_process_counts_into_one_limit(api_as, workspace, admin, settings, redis_cache):
    settings.WSYNC_API_RATE_LIMIT = 5
    issued = create_credential(workspace, name="paced script", role=Role.VIEWER, user=admin)
    from tests.api.conftest import ApiClient, token_for

    client = ApiClient(token_for(issued.credential.client_id, issued.client_secret))
    assert client.get("connections").status_code == 200  # 1 of 5, counted here
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "wsync_site.test_settings",
        "WSYNC_REDIS_URL": REDIS_TEST_DB,
    }
    key = f"credential:{issued.credential.pk}"
    other = subprocess.run(
        [sys.executable, "-c", COUNT_IN_ANOTHER_PROCESS, key, "4"], env=env, cwd=ROOT, capture_output=True
    )
    assert other.returncode == 0, other.stderr
    limited = client.get("connections")  # 6 of 5: the other process's four requests counted
    assert limited.status_code == 429 and limited["X-mp-rate-limit-remaining"] == "0"


# --- 2. a deleted pipeline takes its automatic mapping with it --------------------------------------


def test_a_deleted_pipelines_automatic_mapping_goes_with_it(api, api_model):
    assert api.post("pipelines", pipeline_body(id="auto", field_transformation_id=None)).status_code == 200
    assert api.delete("pipelines/auto").status_code == 204
    assert not FieldTransformation.objects.filter(slug="auto-mapping").exists()
    plans = {
        "id": "plans",
        "name": "Plans",
        "type": "sql",
        "sql_query": "SELECT customer_id, plan, updated_at FROM users",
        "connection_id": "demo",
    }
    assert api.post("data-models", plans).status_code == 200
    again = api.post(
        "pipelines", pipeline_body(id="auto", field_transformation_id=None, data_model_id="plans")
    )
    assert again.status_code == 200, again.content
    sources = {m["source"] for m in FieldTransformation.objects.get(slug="auto-mapping").mappings}
    assert "email" not in sources  # made for the new model's columns, not the old one's


def test_a_mapping_another_pipeline_uses_stays(api, api_model):
    api.post("pipelines", pipeline_body(id="auto", field_transformation_id=None))
    body = pipeline_body(id="twin", name="Twin", field_transformation_id="auto-mapping")
    assert api.post("pipelines", body).status_code == 200
    assert api.delete("pipelines/auto").status_code == 204
    assert FieldTransformation.objects.filter(slug="auto-mapping").exists()


# --- 3. every error names the request's own path to the field ---------------------------------------


def test_errors_name_the_field_as_the_request_spells_it(api, api_mapping):
    schedule = {
        "type": "interval",
        "frequency": "daily",
        "start": "2030-01-02T00:00:00Z",
        "end": "2030-01-01T00:00:00Z",
    }
    refused = api.post("pipelines", pipeline_body(schedule=schedule))
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "schedule.end"
    listing = api.get("connections", serviceProvider="AAA")
    assert listing.status_code == 400
    assert listing.json()["errors"][0]["field"] == "serviceProvider"
    assert "“serviceProvider” must be one of" in listing.json()["errors"][0]["message"]


# --- 4. the served schema and the server agree (schemathesis runs: test_schema.py) -------------------


def test_the_schema_documents_what_the_server_does(api, api_pipeline):
    document = Client().get("/platform/v2/openapi.json").json()
    schemas, paths = document["components"]["schemas"], document["paths"]
    assert "400" in paths["/platform/v2/workspaces/{workspaceId}/connections"]["get"]["responses"]
    name = schemas["ConnectionInput"]["properties"]["name"]
    assert name["minLength"] == 1 and name["pattern"] == "\\S"
    assert api.post("connections", {"id": "x", "name": "  ", "service_provider": "DuckDB"}).status_code == 400
    assert "id" not in schemas["ConnectionUpdate"]["required"]
    connection = api.get("connections/demo").json()
    del connection["id"]
    assert api.put("connections/demo", connection).status_code == 200  # as the schema allows
    runs = next(p for p in paths.values() if "get" in p and p["get"]["operationId"] == "list_runs")
    page_size = next(p for p in runs["get"]["parameters"] if p["name"] == "pageSize")
    assert page_size["schema"]["maximum"] == 100
    too_many = api.get("pipelines/crm-users/runs", pageSize=101)
    assert too_many.status_code == 400 and too_many.json()["errors"][0]["field"] == "pageSize"
    empty = api.get("pipelines/crm-users/runs", startDate="")
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "startDate"


# --- 7 and 8. run times in ISO-8601 with offset, and the run fields mParticle scripts read -----------


def test_runs_carry_mparticles_fields_and_parseable_times(api, api_pipeline):
    run_id = api.post("pipelines/crm-users/trigger").json()["pipeline_run_id"]
    queued = api.get(f"pipelines/crm-users/runs/{run_id}").json()
    assert queued["pipeline_run_state"] == "queued" and queued["logical_date"]  # set for a manual run too
    engine.run(run_id)
    run = api.get(f"pipelines/crm-users/runs/{run_id}").json()
    assert run["workspace_id"] == "acme" and run["pipeline_run_state"] == "success"
    assert run["pipeline_run_type"] == "manual" and run["is_externally_triggered"] is True
    for name in ("logical_date", "start_date", "end_date", "data_interval_end", "queued_on"):
        parsed = datetime.fromisoformat(run[name])
        assert parsed.utcoffset() == timedelta(0), name
    assert run["data_interval_end"].endswith("Z")
    report = api.get("pipelines/crm-users/report").json()
    assert datetime.fromisoformat(report["latest_run"]["data_interval_end"]).tzinfo is not None


# --- 9. the token service takes what OAuth2 client libraries send ------------------------------------


@pytest.fixture
def credential(workspace, admin):
    return create_credential(workspace, name="oauth library", role=Role.VIEWER, user=admin)


def test_a_form_encoded_token_request_is_accepted(credential):
    body = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": credential.credential.client_id,
            "client_secret": credential.client_secret,
            "audience": "https://api.mparticle.com",
        }
    )
    response = Client().post("/oauth/token", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    listed = Client().get(
        "/platform/v2/workspaces/acme/connections", headers={"Authorization": f"Bearer {token}"}
    )
    assert listed.status_code == 200


def test_basic_client_credentials_are_accepted_and_wrong_ones_refused(credential):
    pair = f"{credential.credential.client_id}:{credential.client_secret}"
    basic = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    form = "application/x-www-form-urlencoded"
    ok = Client().post("/oauth/token", "grant_type=client_credentials", content_type=form, headers=basic)
    assert ok.status_code == 200, ok.content
    wrong = {"Authorization": "Basic " + base64.b64encode(b"nobody:nothing").decode()}
    refused = Client().post("/oauth/token", "grant_type=client_credentials", content_type=form, headers=wrong)
    assert refused.status_code == 401 and refused.json()["errors"][0]["code"] == "invalid_client"
    garbled = Client().post(
        "/oauth/token",
        "grant_type=client_credentials",
        content_type=form,
        headers={"Authorization": "Basic %%"},
    )
    assert garbled.status_code == 400


# --- 10. mParticle settings stored and returned, or refused with the reason -----------------------


SNOWFLAKE_UNLOAD = {
    "storage_integration": "mp_us1_123_123_s3",
    "aws_iam_user_arn": "arn:aws:iam::338661164609:user/externalstages/abc",
    "aws_external_id": "ABC123_SFCRole=2_abcdefg=",
}


def test_snowflakes_unload_settings_are_stored_and_returned(api, snowflake_config):
    body = {
        "id": "snow",
        "name": "Snowflake",
        "service_provider": "Snowflake",
        "config": {**snowflake_config, **SNOWFLAKE_UNLOAD},
    }
    created = api.post("connections", body)
    assert created.status_code == 200, created.content
    assert {k: created.json()["config"][k] for k in SNOWFLAKE_UNLOAD} == SNOWFLAKE_UNLOAD
    assert created.json()["config"]["password"] == "************"
    fetched = api.get("connections/snow").json()
    assert {k: fetched["config"][k] for k in SNOWFLAKE_UNLOAD} == SNOWFLAKE_UNLOAD
    assert api.put("connections/snow", fetched).status_code == 200  # the GET-edit-PUT round trip keeps them
    assert api.get("connections/snow").json()["config"]["storage_integration"] == "mp_us1_123_123_s3"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"data_plan_id": "checkout_plan"}, "data_plan_id", "no data plans"),
        ({"data_plan_version": 2}, "data_plan_version", "no data plans"),
        ({"partner_feed_id": 1234}, "partner_feed_id", "no input feeds"),
        ({"partner_feed_key": "us1-abc"}, "partner_feed_key", "no input feeds"),
        (
            {
                "sync_mode": {
                    "type": "incremental",
                    "iterator": "updated_at",
                    "iterator_data_type": "timestamptz",
                    "until": "2030-01-01T00:00:00Z",
                }
            },
            "sync_mode.until",
            "does not stop reading",
        ),
    ],
)
def test_settings_wsync_cannot_honour_are_refused_not_dropped(api, api_mapping, change, field, words):
    response = api.post("pipelines", pipeline_body(**change))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == field and error["code"] == "unsupported" and words in error["message"]


def test_null_mparticle_settings_are_accepted_and_returned(api, api_mapping):
    nulls = {
        "data_plan_id": None,
        "data_plan_version": None,
        "partner_feed_id": None,
        "partner_feed_key": None,
    }
    response = api.post("pipelines", pipeline_body(**nulls))
    assert response.status_code == 200, response.content
    pipeline = response.json()
    assert {k: pipeline[k] for k in nulls} == nulls and pipeline["sync_mode"]["until"] is None
    assert api.put("pipelines/crm-users", pipeline).status_code == 200


# --- 11. event field transformations map to any field of the batch schema -------------------------


def test_event_mappings_reach_every_batch_field(api, api_model):
    mappings = [
        {
            "mapping_type": "static",
            "source": None,
            "destination": "events[].event_type",
            "value": "screen_view",
        },
        {"mapping_type": "column", "source": "plan", "destination": "events[].data.screen_name"},
        {"mapping_type": "column", "source": "customer_id", "destination": "events[].data.event_id"},
        {"mapping_type": "column", "source": "email", "destination": "events[].data.session_id"},
        {"mapping_type": "column", "source": "first_name", "destination": "events[].data.custom_flags.first"},
        {
            "mapping_type": "column",
            "source": "updated_at",
            "destination": "events[].data.timestamp_unixtime_ms",
        },
        {
            "mapping_type": "static",
            "source": None,
            "destination": "events[].data.location.country_code",
            "value": "DE",
        },
        {"mapping_type": "column", "source": "customer_id", "destination": "user_identities.customer_id"},
    ]
    body = {"id": "screens", "name": "Screens", "destination_type": "event_batch", "mappings": mappings}
    response = api.post("field-transformations", body)
    assert response.status_code == 200, response.content
    pipeline = pipeline_body(
        id="screens", name="Screens", pipeline_type="events", field_transformation_id="screens"
    )
    assert api.post("pipelines", pipeline).status_code == 200
    run_id = api.post("pipelines/screens/trigger").json()["pipeline_run_id"]
    engine.run(run_id)
    run = SyncRun.objects.get(pk=run_id)
    assert run.state == "succeeded", run.error
    assert run.events_written == 200
    nonsense = {
        **body,
        "id": "nonsense",
        "mappings": [*mappings[:2], {**mappings[2], "destination": "events[].data.shoe"}],
    }
    refused = api.post("field-transformations", nonsense)
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "mappings[2].destination"


# --- 12. mParticle's rate-limit headers on every answer --------------------------------------------


def test_every_counted_answer_carries_the_rate_limit_headers(api, settings):
    settings.WSYNC_API_RATE_LIMIT = 3
    answers = [
        api.get("connections"),
        api.get("connections/nothing"),
        api.get("connections"),
        api.get("connections"),
    ]
    assert [a.status_code for a in answers] == [200, 404, 200, 429]
    assert [a["X-mp-rate-limit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    for answer in answers:
        assert answer["X-mp-rate-limit-limit"] == "3"
        assert 1 <= int(answer["X-mp-rate-limit-reset"]) <= 60
    assert answers[-1]["X-mp-rate-limit-percentage-used"] == "100"


# --- 13. v1 addresses say where v2 is ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "v1", "v2"),
    [
        ("GET", "pipelines/crm-users/status", "pipelines/crm-users/report"),
        ("GET", "pipelines/crm-users/status/runs", "pipelines/crm-users/runs"),
        ("GET", "pipelines/crm-users/status/runs/7", "pipelines/crm-users/runs/7"),
        ("POST", "pipelines/crm-users", "pipelines/crm-users/trigger"),
        ("GET", "connections", "connections"),
    ],
)
def test_v1_addresses_answer_410_with_the_v2_address(api, method, v1, v2):
    response = api.call(
        method, f"/platform/v1/workspaces/acme/inputs/warehouse/{v1}", {} if method == "POST" else None
    )
    assert response.status_code == 410 and response["Content-Type"] == "application/json"
    assert f"{method} /platform/v2/workspaces/acme/{v2}" in response.json()["errors"][0]["message"]
    assert response["Link"] == f'</platform/v2/workspaces/acme/{v2}>; rel="successor-version"'


# --- 14. history of an on-demand pipeline: read by its first trigger, as mParticle's -----------------


def _with_timestamp_field(api) -> None:
    model = api.get("data-models/users").json()
    assert api.put("data-models/users", {**model, "timestamp_field": "updated_at"}).status_code == 200


def test_an_on_demand_pipeline_starts_nothing_before_its_first_trigger(api, api_mapping):
    _with_timestamp_field(api)
    start = (timezone.now() - timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sync_mode = {
        "type": "incremental",
        "iterator": "updated_at",
        "iterator_data_type": "timestamptz",
        "from": start,
    }
    assert api.post("pipelines", pipeline_body(sync_mode=sync_mode)).status_code == 200
    assert api.get("pipelines/crm-users/runs").json()["items"] == []
    run_id = api.post("pipelines/crm-users/trigger").json()["pipeline_run_id"]
    engine.run(run_id)
    runs = api.get("pipelines/crm-users/runs").json()["items"]
    assert [(r["id"], r["pipeline_run_type"]) for r in runs] == [(run_id, "manual")]
    assert runs[0]["records_extracted"] == 200  # the whole history, in the first triggered run


def test_a_scheduled_pipelines_history_runs_are_labelled_backfill(api, api_mapping, settings):
    settings.WSYNC_BACKFILL_WINDOW_DAYS = 3650
    _with_timestamp_field(api)
    start = (timezone.now() - timedelta(days=3650 * 2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sync_mode = {
        "type": "incremental",
        "iterator": "updated_at",
        "iterator_data_type": "timestamptz",
        "from": start,
    }
    body = pipeline_body(sync_mode=sync_mode, schedule={"type": "once", "start": later})
    assert api.post("pipelines", body).status_code == 200
    runs = api.get("pipelines/crm-users/runs").json()["items"]
    assert runs and {r["pipeline_run_type"] for r in runs} == {"backfill"}
    assert all(r["is_externally_triggered"] is False for r in runs)
    assert json.dumps(runs)  # plain JSON throughout
