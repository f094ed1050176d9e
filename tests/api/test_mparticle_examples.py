"""mParticle's documented Warehouse Sync example requests, replayed as they are written.

The bodies below are mParticle's published examples (token request, v2 Snowflake connection, v2 pipeline,
Data Mapping's field transformation, trigger, run history); values are the documents' own. Only what
cannot be the document's is changed, and said so: the connection's address points the real Snowflake
connector at the local stand-in, and a data model (whose v2 shape mParticle's pages leave open) is wsync's.
"""

from __future__ import annotations

import copy
import json

import pytest
from django.test import Client

from feeds.accounts.models import Role
from feeds.api.credentials import create_credential
from tests.api.conftest import ApiClient

# POST https://sso.auth.mparticle.com/oauth/token (v2 overview)
TOKEN_REQUEST = {
    "client_id": None,  # the credential's
    "client_secret": None,
    "audience": "https://api.mparticle.com",
    "grant_type": "client_credentials",
}

# POST /connections: the v2 Snowflake connection (reference and v2 migration guide).
SNOWFLAKE_CONNECTION = {
    "id": "example-connection",
    "name": "Example Connection",
    "state": "active",
    "service_provider": "Snowflake",
    "config": {
        "account_identifier": "xy12345.eu-west-1.aws",
        "region": "eu-west-1.aws",
        "warehouse": "WSYNC_WH",
        "database": None,  # the stand-in's database for this test
        "role": "WSYNC_READER",
        "user": "wsync",
        "password": None,  # the stand-in's
        "storage_integration": "mp_us1_123_123_s3",
        "aws_iam_user_arn": "arn:aws:iam::338661164609:user/externalstages/abc123",
        "aws_external_id": "ABC123_SFCRole=2_abcdefg=",
    },
}

# POST /pipelines: the v2 pipeline of mParticle's reference, comments taken out.
PIPELINE = """
{
  "id": "example-pipeline",
  "name": "Example Pipeline",
  "pipeline_type": "user_attributes",
  "connection_id": "example-connection",
  "data_model_id": "example-data-model",
  "field_transformation_id": null,
  "partner_feed_id": 1234,
  "partner_feed_key": "us1-...",
  "state": "active",
  "sync_mode": {
    "type": "incremental",
    "iterator": "updated_at",
    "iterator_data_type": "timestamp_ltz",
    "from": "2023-01-01T00:00:00Z",
    "until": null
  },
  "schedule": {
    "type": "interval",
    "frequency": "hourly",
    "start": "2023-10-01T00:00:00Z",
    "end": null
  },
  "environment": "development",
  "data_plan_id": null,
  "data_plan_version": null
}
"""

# POST /field-transformations: Data Mapping's example (eventId, sessionId, timeStamp → a screen_view).
FIELD_TRANSFORMATION = {
    "id": "example-field-transformation",
    "name": "Example Field Transformation",
    "destination_type": "event_batch",
    "mappings": [
        {"mapping_type": "column", "source": "eventId", "destination": "events[].data.event_id"},
        {"mapping_type": "column", "source": "sessionId", "destination": "events[].data.session_id"},
        {
            "mapping_type": "column",
            "source": "timeStamp",
            "destination": "events[].data.timestamp_unixtime_ms",
        },
        {"mapping_type": "static", "destination": "events[].event_type", "value": "screen_view"},
        {"mapping_type": "column", "source": "screenName", "destination": "events[].data.screen_name"},
        {"mapping_type": "column", "source": "email", "destination": "user_identities.email"},
    ],
}


@pytest.fixture
def snowflake_users(snowflake_sql):
    snowflake_sql("CREATE TABLE users (customer_id VARCHAR, email VARCHAR, updated_at TIMESTAMP_LTZ)")
    snowflake_sql(
        "INSERT INTO users VALUES ('C1', 'a@example.com', '2023-06-01 00:00:00 +00:00'::TIMESTAMP_LTZ), "
        "('C2', 'b@example.com', '2023-07-01 00:00:00 +00:00'::TIMESTAMP_LTZ)"
    )


def test_mparticles_examples_run_as_written(workspace, admin, snowflake_config, snowflake_users):
    issued = create_credential(workspace, name="mParticle script", role=Role.ADMIN, user=admin)
    token_request = {
        **TOKEN_REQUEST,
        "client_id": issued.credential.client_id,
        "client_secret": issued.client_secret,
    }
    token = Client().post("/oauth/token", json.dumps(token_request), content_type="application/json")
    assert token.status_code == 200 and token.json()["token_type"] == "Bearer"
    assert token.json()["expires_in"] == 28800
    api = ApiClient(token.json()["access_token"])

    connection = copy.deepcopy(SNOWFLAKE_CONNECTION)
    connection["config"].update(
        database=snowflake_config["database"],
        password=snowflake_config["password"],
        # the address of the local stand-in, which mParticle's example (a real account) has no need of
        host=snowflake_config["host"],
        port=snowflake_config["port"],
        protocol=snowflake_config["protocol"],
    )
    created = api.post("connections", connection)
    assert created.status_code == 200, created.content
    body = created.json()
    assert body["status"] == "healthy" and body["config"]["password"] == "************"
    assert body["config"]["storage_integration"] == "mp_us1_123_123_s3"
    assert [c["id"] for c in api.get("connections", serviceProvider="Snowflake").json()] == [
        "example-connection"
    ]

    model = {
        "id": "example-data-model",
        "name": "Example Data Model",
        "type": "sql",
        # Snowflake folds unquoted names to upper case; quoted aliases keep the example's names.
        "sql_query": 'SELECT customer_id AS "customer_id", email AS "email", updated_at AS "updated_at" FROM users',
        "timestamp_field": "updated_at",
    }
    made = api.post("data-models", model)
    assert made.status_code == 200, made.content

    pipeline = json.loads(PIPELINE)
    refused = api.post("pipelines", pipeline)  # the example names an input feed, which wsync has not
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "partner_feed_id"
    assert "no input feeds" in refused.json()["errors"][0]["message"]
    for name in ("partner_feed_id", "partner_feed_key"):
        del pipeline[name]
    created_pipeline = api.post("pipelines", pipeline)
    assert created_pipeline.status_code == 200, created_pipeline.content
    saved = created_pipeline.json()
    assert saved["state"] == "active" and saved["schedule"]["frequency"] == "hourly"
    assert saved["sync_mode"]["iterator_data_type"] == "timestamp_ltz"

    transformation = api.post("field-transformations", FIELD_TRANSFORMATION)
    assert transformation.status_code == 200, transformation.content

    busy = api.post("pipelines/example-pipeline/trigger")  # the initial sync (start passed) is queued
    assert busy.status_code == 400
    assert busy.json()["errors"][0]["message"] == "Pipeline example-pipeline is already in progress."
    runs = api.get(
        "pipelines/example-pipeline/runs",
        currentPage=1,
        pageSize=10,
        startDate="2023-01-01T00:00:00Z",
        endDate="2099-01-01T00:00:00Z",
    ).json()
    assert runs["items"] and runs["items"][0]["pipeline_run_type"] == "scheduled"
    assert api.get("pipelines/example-pipeline/report").json()["pipeline_id"] == "example-pipeline"
