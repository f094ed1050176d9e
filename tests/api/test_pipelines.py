"""Field transformations and pipelines: the wizard's rules, states through the engine, trigger, report, runs."""

from __future__ import annotations

import pytest

from feeds.accounts.models import Role
from feeds.models import Feed, FeedState, FieldTransformation
from feeds.sync import engine
from feeds.sync.models import RunState, SyncRun
from tests.api.conftest import MAPPINGS, pipeline_body

# --- field transformations ------------------------------------------------------------------------


def test_it_creates_and_reads_a_field_transformation(api, api_mapping):
    assert api_mapping["destination_type"] == "event_batch"
    assert api_mapping["mappings"] == MAPPINGS
    assert api.get("field-transformations").json() == [api_mapping]
    assert FieldTransformation.objects.get(slug="users-mapping").mappings == MAPPINGS


def test_it_refuses_a_mapping_with_the_wizards_message(api, api_model):
    bad = [{"mapping_type": "static", "source": None, "destination": "user_identities.email", "value": "x"}]
    response = api.post("field-transformations", {"id": "bad", "name": "Bad", "mappings": bad})
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "invalid_mapping",
        "message": "An identity must come from a column, not a static value.",
        "field": "mappings[0].mapping_type",
    }
    no_identity = [{"mapping_type": "column", "source": "plan", "destination": "user_attributes.plan"}]
    response = api.post("field-transformations", {"id": "bad", "name": "Bad", "mappings": no_identity})
    assert "Map at least one identity" in response.json()["errors"][0]["message"]
    assert api.post("field-transformations", {"id": "bad", "name": "Bad", "mappings": "x"}).status_code == 400


def test_it_checks_a_changed_mapping_against_the_pipelines_that_use_it(api, api_pipeline, api_mapping):
    unknown = [
        *MAPPINGS,
        {"mapping_type": "column", "source": "shoe_size", "destination": "user_attributes.shoe"},
    ]
    response = api.put("field-transformations/users-mapping", {**api_mapping, "mappings": unknown})
    assert response.status_code == 400
    assert (
        "The column “shoe_size” is not in the data model's query" in response.json()["errors"][0]["message"]
    )
    assert api.delete("field-transformations/users-mapping").status_code == 400


# --- pipelines ------------------------------------------------------------------------------------


def test_it_creates_an_active_pipeline(api, api_pipeline):
    assert api_pipeline["state"] == "active" and api_pipeline["status"] == "healthy"
    assert api_pipeline["sync_mode"] == {
        "type": "incremental",
        "iterator": "updated_at",
        "iterator_data_type": "timestamptz",
        "from": None,
    }
    assert api_pipeline["schedule"] == {"type": "on_demand", "frequency": None, "start": None, "end": None}
    feed = Feed.objects.get(slug="crm-users")
    assert feed.state == FeedState.ACTIVE and feed.activated_on is not None
    assert feed.environment == "development" and feed.data_model.slug == "users"
    assert api.get("pipelines").json() == [api.get("pipelines/crm-users").json()]


def test_it_maps_reserved_names_when_no_transformation_is_given(api, api_model):
    body = pipeline_body(field_transformation_id=None, id="auto")
    response = api.post("pipelines", body)
    assert response.status_code == 200, response.content
    assert response.json()["field_transformation_id"] == "auto-mapping"
    mappings = FieldTransformation.objects.get(slug="auto-mapping").mappings
    assert {
        "mapping_type": "column",
        "source": "email",
        "destination": "user_identities.email",
        "value": None,
    } in mappings


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"connection_id": "nowhere"},
            "connection_id",
            "There is no connection “nowhere” in this workspace.",
        ),
        (
            {"data_model_id": "nowhere"},
            "data_model_id",
            "There is no data model “nowhere” in this workspace.",
        ),
        ({"environment": "staging"}, "environment", "“environment” must be one of: development, production."),
        (
            {
                "sync_mode": {
                    "type": "incremental",
                    "iterator": "shoe_size",
                    "iterator_data_type": "timestamptz",
                }
            },
            "sync_mode.iterator",
            "The column “shoe_size” is not in the data model's query.",
        ),
        (
            {"sync_mode": {"type": "incremental", "iterator": "updated_at", "iterator_data_type": "varchar"}},
            "sync_mode.iterator_data_type",
            "Pick one of the iterator data types this warehouse supports.",
        ),
        ({"schedule": {"type": "interval"}}, "schedule.frequency", "Pick how often the sync runs."),
        ({"schedule": {"type": "once", "start": "yesterday"}}, "schedule.start", None),
    ],
)
def test_it_refuses_pipelines_with_the_wizards_messages(api, api_mapping, change, field, message):
    response = api.post("pipelines", pipeline_body(**change))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == field
    if message:
        assert error["message"] == message
    assert not Feed.objects.exists()


def test_it_answers_409_for_a_pipeline_id_that_exists(api, api_pipeline):
    response = api.post("pipelines", pipeline_body(name="Another name"))
    assert response.status_code == 409


def test_it_changes_the_schedule_with_a_put(api, api_pipeline):
    body = {
        **api_pipeline,
        "schedule": {"type": "interval", "frequency": "daily", "start": "2026-03-01T06:00:00Z"},
    }
    response = api.put("pipelines/crm-users", body)
    assert response.status_code == 200, response.content
    assert response.json()["schedule"] == {
        "type": "interval",
        "frequency": "daily",
        "start": "2026-03-01T06:00:00.000Z",
        "end": None,
    }
    assert Feed.objects.get(slug="crm-users").frequency == "daily"


def test_it_pauses_and_resumes_with_a_put_of_state_for_admins_only(api, api_as, api_pipeline):
    editor = api_as(Role.EDITOR)
    assert editor.put("pipelines/crm-users", {"state": "paused"}).status_code == 403
    paused = api.put("pipelines/crm-users", {"state": "paused"})
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    assert Feed.objects.get(slug="crm-users").state == FeedState.PAUSED
    assert editor.put("pipelines/crm-users", {"state": "active"}).status_code == 403
    resumed = api.put("pipelines/crm-users", {"state": "active"})
    assert resumed.json()["state"] == "active"
    assert SyncRun.objects.filter(feed__slug="crm-users", kind="catch_up").count() == 1


def test_it_triggers_a_run_and_reports_it(api, api_pipeline):
    response = api.post("pipelines/crm-users/trigger")
    assert response.status_code == 200
    run_id = response.json()["pipeline_run_id"]
    assert response.json()["status"] == "trigger_requested"
    busy = api.post("pipelines/crm-users/trigger")
    assert busy.status_code == 400
    assert busy.json() == {
        "statusCode": 400,
        "errors": [{"code": "in_progress", "message": "Pipeline crm-users is already in progress."}],
    }
    engine.run(run_id)
    assert SyncRun.objects.get(pk=run_id).state == RunState.SUCCEEDED
    report = api.get("pipelines/crm-users/report").json()
    assert report["state"] == "active" and report["connection"]["status"] == "healthy"
    assert report["latest_run"]["id"] == report["latest_successful_run"]["id"] == run_id
    run = api.get(f"pipelines/crm-users/runs/{run_id}").json()
    assert run["status"] == "complete" and run["records_extracted"] == 200
    assert run["counts"]["profiles_created"] == 200 and run["errors"] == []
    assert run["data_interval_end"]


def test_it_pages_and_filters_runs(api, api_pipeline):
    ids = []
    for _ in range(3):
        run_id = api.post("pipelines/crm-users/trigger").json()["pipeline_run_id"]
        engine.run(run_id)
        ids.append(run_id)
    first = api.get("pipelines/crm-users/runs", pageSize=2).json()
    assert [r["id"] for r in first["items"]] == ids[::-1][:2] and first["totalItems"] == 3
    second = api.get("pipelines/crm-users/runs", pageSize=2, currentPage=2).json()
    assert [r["id"] for r in second["items"]] == ids[:1]
    assert api.get("pipelines/crm-users/runs", startDate="2999-01-01T00:00:00Z").json()["items"] == []
    assert api.get("pipelines/crm-users/runs", pageSize="x").status_code == 400
    # An offset PostgreSQL cannot store (schemathesis found it) is compared in UTC, not a 500.
    assert (
        len(api.get("pipelines/crm-users/runs", startDate="0097-03-13T18:18:51+19:03").json()["items"]) == 3
    )
    assert api.get("pipelines/crm-users/runs", startDate="0001-01-01T00:00:00+01:00").status_code == 400
    assert api.get("pipelines/crm-users/runs/999999").status_code == 404


def test_it_refuses_a_trigger_for_a_paused_pipeline(api, api_pipeline):
    api.put("pipelines/crm-users", {"state": "paused"})
    response = api.post("pipelines/crm-users/trigger")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "This sync is paused. Resume it to run it."


def test_it_deletes_a_pipeline_for_admins(api, api_as, api_pipeline):
    assert api_as(Role.EDITOR).delete("pipelines/crm-users").status_code == 403
    assert api.delete("pipelines/crm-users").status_code == 204
    assert api.get("pipelines/crm-users").status_code == 404
    assert not Feed.objects.exists()
