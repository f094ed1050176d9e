"""One set of feeds: a pipeline made through the API shows in the feed pages and the wizard, and back."""

from __future__ import annotations

from feeds import wizard
from feeds.model.query import run_query
from feeds.models import Feed, FeedState
from feeds.sync import engine
from tests.api.conftest import USERS_SQL, pipeline_body
from tests.personas import client_for


def test_a_pipeline_made_through_the_api_shows_in_the_feed_pages(api, api_mapping, viewer):
    created = api.post("pipelines", pipeline_body())
    assert created.status_code == 200
    run_id = api.post("pipelines/crm-users/trigger").json()["pipeline_run_id"]
    engine.run(run_id)
    feed = Feed.objects.get(slug="crm-users")
    page = client_for(viewer).get(f"/w/acme/feeds/{feed.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "CRM users" in html and f"/w/acme/feeds/{feed.pk}/runs/{run_id}/" in html
    listing = client_for(viewer).get("/w/acme/feeds/").content.decode()
    assert "CRM users" in listing
    review = client_for(viewer).get(f"/w/acme/feeds/{feed.pk}/setup/review/")
    assert review.status_code == 200 and "FROM users" in review.content.decode()


def test_a_feed_made_in_the_wizard_shows_in_the_api(api, workspace, editor, demo_file):
    connection = wizard.save_connection(
        workspace,
        connection=None,
        provider="duckdb",
        name="Wizard warehouse",
        config={"path": str(demo_file)},
        secrets={},
        user=editor,
    )
    draft = wizard.create_draft(workspace, "Wizard feed", connection, editor)
    outcome = run_query(connection, USERS_SQL, 5)
    model = {
        "sql": USERS_SQL,
        "columns": outcome.columns,
        "columns_sql": USERS_SQL,
        "timestamp_field": "updated_at",
    }
    wizard.save_section(draft, "model", model, editor)
    client = client_for(editor)
    client.get(f"/w/acme/feeds/{draft.pk}/setup/map/")  # the mapping step fills in the automatic mapping
    schedule = {"sync_mode": "incremental", "iterator": "updated_at", "iterator_type": "timestamptz"}
    wizard.save_section(draft, "schedule", {**schedule, "schedule_type": "on_demand"}, editor)
    activated = client.post(f"/w/acme/feeds/{draft.pk}/setup/review/activate/")
    assert activated.status_code == 302
    draft.refresh_from_db()
    assert draft.state == FeedState.ACTIVE

    pipeline = api.get(f"pipelines/{draft.slug}").json()
    assert pipeline["name"] == "Wizard feed" and pipeline["state"] == "active"
    assert pipeline["connection_id"] == connection.slug
    assert pipeline["sync_mode"]["iterator"] == "updated_at"
    model_json = api.get(f"data-models/{pipeline['data_model_id']}").json()
    assert model_json["sql_query"] == USERS_SQL
    mapping = api.get(f"field-transformations/{pipeline['field_transformation_id']}").json()
    assert any(m["destination"] == "user_identities.email" for m in mapping["mappings"])
    assert api.get(f"connections/{connection.slug}").json()["service_provider"] == "DuckDB"
    assert api.post(f"pipelines/{draft.slug}/trigger").status_code == 200


def test_a_wizard_draft_shows_as_a_draft_and_the_api_can_activate_it(api, workspace, editor, demo_file):
    connection = wizard.save_connection(
        workspace,
        connection=None,
        provider="duckdb",
        name="Wizard warehouse",
        config={"path": str(demo_file)},
        secrets={},
        user=editor,
    )
    draft = wizard.create_draft(workspace, "Half done", connection, editor)
    outcome = run_query(connection, USERS_SQL, 5)
    model = {"sql": USERS_SQL, "columns": outcome.columns, "columns_sql": USERS_SQL, "timestamp_field": ""}
    wizard.save_section(draft, "model", model, editor)
    draft.refresh_from_db()
    listed = api.get(f"pipelines/{draft.slug}").json()
    assert listed["state"] == "draft" and listed["field_transformation_id"] is None
    body = {"state": "active", "sync_mode": {"type": "full"}, "schedule": {"type": "on_demand"}}
    response = api.put(f"pipelines/{draft.slug}", body)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "active"
    assert response.json()["field_transformation_id"] == f"{draft.slug}-mapping"
