"""Field transformations and pipelines: the wizard's rules, states through the engine, trigger, report, runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from feeds.accounts.models import Role
from feeds.models import (
    AuditEntry,
    Environment,
    Feed,
    FeedState,
    FieldTransformation,
    Frequency,
    Health,
    InputProtection,
    ScheduleType,
)
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
        "until": None,  # mParticle's field, returned; a value is refused (test_mparticle_fidelity.py)
        "lookback_seconds": 0,
        "timezone": "UTC",
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
        ({"environment": "staging"}, "environment", "“environment” must be one of: production, development."),
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
        (
            {"sync_mode": {**pipeline_body()["sync_mode"], "lookback_seconds": 90}},
            "sync_mode.lookback_seconds",
            "“sync_mode.lookback_seconds” must be a whole number of minutes, in seconds (e.g. 3600).",
        ),
        (
            {"sync_mode": {**pipeline_body()["sync_mode"], "lookback_seconds": 31 * 86400}},
            "sync_mode.lookback_seconds",
            "“sync_mode.lookback_seconds” must be from 0 to 2592000 seconds (30 days).",
        ),
        (
            {"sync_mode": {**pipeline_body()["sync_mode"], "lookback_seconds": -60}},
            "sync_mode.lookback_seconds",
            None,
        ),
        (
            {"sync_mode": {**pipeline_body()["sync_mode"], "timezone": "Mars/Olympus"}},
            "sync_mode.timezone",
            "“sync_mode.timezone” must be UTC or an IANA time zone name such as Europe/Berlin.",
        ),
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


def test_a_name_only_a_draft_holds_is_free_for_a_pipeline_and_an_active_ones_is_not(
    api, api_mapping, workspace
):
    draft = Feed.objects.create(workspace=workspace, slug="draft", name="CRM users", state=FeedState.DRAFT)
    assert api.post("pipelines", pipeline_body()).status_code == 200
    response = api.post("pipelines", pipeline_body(id="second"))
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "name"
    assert Feed.objects.filter(name="CRM users").count() == 2 and Feed.objects.filter(pk=draft.pk).exists()


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


def test_an_admin_restarts_a_stuck_run_through_the_api(api, api_as, api_pipeline):
    from feeds.sync import queue

    run_id = api.post("pipelines/crm-users/trigger").json()["pipeline_run_id"]
    queue.claim(run_id)  # a worker took it up, and then hangs
    url = f"pipelines/crm-users/runs/{run_id}/restart"
    assert api_as(Role.EDITOR).post(url).status_code == 403
    restarted = api.post(url)
    assert restarted.status_code == 200, restarted.content
    body = restarted.json()
    assert body["state"] == "queued" and body["errors"] == []
    assert [(a["number"], a["outcome"]) for a in body["attempts"]] == [(1, "stopped")]
    engine.run(run_id)
    done = api.get(f"pipelines/crm-users/runs/{run_id}").json()
    assert done["status"] == "complete" and done["errors"] == []
    again = api.post(url)
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "not_running"


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


def test_it_sets_the_lookback_window_and_time_zone_as_the_wizard_does(api, api_mapping):
    sync_mode = {**pipeline_body()["sync_mode"], "lookback_seconds": 3600, "timezone": "Europe/Berlin"}
    created = api.post("pipelines", pipeline_body(sync_mode=sync_mode))
    assert created.status_code == 200, created.content
    assert created.json()["sync_mode"]["lookback_seconds"] == 3600
    assert created.json()["sync_mode"]["timezone"] == "Europe/Berlin"
    feed = Feed.objects.get(slug="crm-users")
    assert (feed.lookback_seconds, feed.timezone) == (3600, "Europe/Berlin")
    # A PUT that leaves them out keeps them; one that sets them is audited like the wizard's edit.
    renamed = api.put("pipelines/crm-users", {"name": "CRM people"})
    assert renamed.json()["sync_mode"]["lookback_seconds"] == 3600
    changed = api.put("pipelines/crm-users", {"sync_mode": {"lookback_seconds": 0, "timezone": "UTC"}})
    assert changed.status_code == 200, changed.content
    feed.refresh_from_db()
    assert (feed.lookback_seconds, feed.timezone) == (0, "UTC")
    edit = AuditEntry.objects.filter(action="edit").first()
    assert edit.changes["lookback_seconds"] == [3600, 0]
    assert edit.changes["timezone"] == ["Europe/Berlin", "UTC"]


@pytest.mark.parametrize(
    ("field", "where", "declared"),
    [
        ("environment", "PipelineInput", Environment),
        ("input_protection", "PipelineInput", InputProtection),
        ("state", "Pipeline", FeedState),
        ("type", "Schedule", ScheduleType),
        ("frequency", "Schedule", Frequency),
    ],
)
def test_it_publishes_every_value_the_model_holds(db, field, where, declared):
    schema = Client().get("/platform/v2/openapi.json").json()["components"]["schemas"][where]
    assert schema["properties"][field]["enum"] == declared.values


@pytest.mark.parametrize("value", Environment.values + InputProtection.values)
def test_it_accepts_and_saves_every_environment_and_input_protection(api, api_pipeline, value):
    field = "environment" if value in Environment.values else "input_protection"
    response = api.put("pipelines/crm-users", {**api_pipeline, field: value})
    assert response.status_code == 200, response.content
    assert response.json()[field] == value == getattr(Feed.objects.get(slug="crm-users"), field)


def test_it_describes_lookback_and_time_zone_in_the_schema(db):
    sync_mode = Client().get("/platform/v2/openapi.json").json()["components"]["schemas"]["SyncMode"]
    lookback = sync_mode["properties"]["lookback_seconds"]
    assert (lookback["minimum"], lookback["maximum"], lookback["multipleOf"]) == (0, 2592000, 60)
    assert sync_mode["properties"]["timezone"]["default"] == "UTC"


def test_it_filters_runs_by_their_logical_date(api, api_pipeline):
    feed = Feed.objects.get(slug="crm-users")
    scheduled = SyncRun.objects.create(
        feed=feed,
        kind="scheduled",
        state=RunState.SUCCEEDED,
        logical_date=datetime(2026, 1, 10, tzinfo=UTC),
    )
    manual = SyncRun.objects.create(
        feed=feed, state=RunState.SUCCEEDED, queued_at=datetime(2026, 3, 10, tzinfo=UTC)
    )

    # The scheduled run was queued today, but it stands for January 10th.
    def ids(**query):
        return [r["id"] for r in api.get("pipelines/crm-users/runs", **query).json()["items"]]

    assert ids(endDate="2026-02-01T00:00:00Z") == [scheduled.pk]
    assert ids(startDate="2026-02-01T00:00:00Z") == [manual.pk]
    assert ids(startDate="2026-01-10T00:00:00Z", endDate="2026-01-10T00:00:00Z") == [scheduled.pk]
    assert ids(endDate="2026-01-09T23:59:59Z") == []


def test_it_reports_a_faulted_pipeline_with_its_errors(api, api_pipeline):
    Feed.objects.filter(slug="crm-users").update(
        status=Health.FAULTED, errors=[{"message": "The column “updated_at” is gone from the model."}]
    )
    errors = [{"message": "The column “updated_at” is gone from the model."}]
    pipeline = api.get("pipelines/crm-users").json()
    assert pipeline["status"] == "faulted" and pipeline["errors"] == errors
    report = api.get("pipelines/crm-users/report").json()
    assert report["status"] == "faulted" and report["errors"] == errors
    assert report["state"] == "active" and report["latest_run"] is None


# --- field transformations: the rest of the resource ------------------------------------------------


def test_it_gets_one_field_transformation_and_answers_409_for_a_taken_id(api, api_mapping):
    assert api.get("field-transformations/users-mapping").json() == api_mapping
    taken = api.post("field-transformations", {**api_mapping, "name": "Again"})
    assert taken.status_code == 409
    assert taken.json()["errors"][0]["code"] == "conflict"
    assert FieldTransformation.objects.get(slug="users-mapping").name == "Users mapping"
    assert api.get("field-transformations/nowhere").status_code == 404


def test_it_deletes_an_unused_field_transformation_for_admins(api, api_as, api_mapping):
    assert api_as(Role.EDITOR).delete("field-transformations/users-mapping").status_code == 403
    assert api.delete("field-transformations/users-mapping").status_code == 204
    assert api.get("field-transformations/users-mapping").status_code == 404
    assert not FieldTransformation.objects.exists()
    assert AuditEntry.objects.filter(action="delete mapping", target="Users mapping").exists()


# --- viewers read and change nothing ----------------------------------------------------------------


def test_it_refuses_a_viewers_trigger_and_creates(api_as, api_pipeline, api_mapping):
    viewer = api_as(Role.VIEWER)
    assert viewer.post("pipelines/crm-users/trigger").status_code == 403
    assert not SyncRun.objects.exists()
    creates = {
        "data-models": {"id": "other", "name": "Other", "sql_query": "SELECT 1", "connection_id": "demo"},
        "field-transformations": {**api_mapping, "id": "other", "name": "Other"},
        "pipelines": pipeline_body(id="other", name="Other"),
    }
    for path, body in creates.items():
        response = viewer.post(path, body)
        assert response.status_code == 403, path
        assert response.json()["errors"][0]["code"] == "forbidden"
    assert not Feed.objects.filter(slug="other").exists()
    assert not FieldTransformation.objects.filter(slug="other").exists()
