"""Connections: the provider's settings, a real connection test, masked secrets, ids, filters."""

from __future__ import annotations

from feeds.models import Connection
from tests.api.conftest import connection_body

SECRET = "pa55word-that-never-leaks"


def test_it_creates_a_tested_connection(api, demo_file):
    response = api.post("connections", connection_body(demo_file))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "demo" and body["service_provider"] == "DuckDB"
    assert body["state"] == "active" and body["status"] == "healthy" and body["errors"] == []
    assert body["config"] == {"path": str(demo_file)}
    assert body["created_by"] == "alice@acme.example" and body["created_on"].endswith("Z")
    saved = Connection.objects.get(slug="demo")
    assert saved.provider == "duckdb" and saved.last_checked_on is not None


def test_it_lists_and_filters_by_service_provider(api, api_connection):
    assert [c["id"] for c in api.get("connections").json()] == ["demo"]
    assert [c["id"] for c in api.get("connections", serviceProvider="DuckDB").json()] == ["demo"]
    assert api.get("connections", serviceProvider="Snowflake").json() == []
    assert api.get("connections", serviceProvider="Oracle").status_code == 400


def test_it_refuses_a_connection_whose_test_fails(api, demo_file):
    body = connection_body(demo_file.parent / "missing.duckdb")
    response = api.post("connections", body)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "connection_failed" and "missing.duckdb" in error["message"]
    assert "Traceback" not in error["message"]
    assert not Connection.objects.exists()


def test_it_refuses_bad_settings_with_the_providers_message(api, demo_file):
    response = api.post("connections", connection_body("relative/file.duckdb"))
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "invalid",
        "message": "Give the full path, starting with “/”, for example /srv/data/warehouse.duckdb.",
        "field": "config.path",
    }
    outside = api.post("connections", connection_body("/etc/other.duckdb"))
    assert "may only open DuckDB files under" in outside.json()["errors"][0]["message"]
    missing = api.post("connections", {**connection_body(demo_file), "config": {}})
    assert missing.json()["errors"][0]["message"] == "Database file is required."


def test_it_answers_409_for_an_id_that_exists(api, api_connection, demo_file):
    response = api.post("connections", connection_body(demo_file, name="Another name"))
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "conflict"


def test_it_refuses_ids_that_are_not_slugs(api, demo_file):
    response = api.post("connections", connection_body(demo_file, connection_id="has space"))
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "id"


def test_it_updates_a_connection_and_its_state(api, api_connection):
    response = api.put("connections/demo", {**api_connection, "name": "Renamed", "state": "inactive"})
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed" and response.json()["state"] == "inactive"
    assert api.get("connections/demo").json()["name"] == "Renamed"


def test_it_masks_secrets_and_keeps_them_when_the_mask_comes_back(api, workspace):
    # A PostgreSQL connection pointing at the local test server (private hosts are allowed in tests),
    # which has TLS off: a local warehouse, so unencrypted connections are allowed explicitly.
    body = {
        "id": "pg",
        "name": "Local PostgreSQL",
        "service_provider": "PostgreSQL",
        "config": {
            "host": "127.0.0.1",
            "port": 5432,
            "database": "postgres",
            "user": "postgres",
            "password": SECRET,
            "allow_unencrypted": True,
        },
    }
    created = api.post("connections", body)
    assert created.status_code == 200, created.content
    assert created.json()["config"]["password"] == "************"
    assert SECRET not in created.content.decode()
    again = api.put("connections/pg", {**created.json(), "name": "Still local"})
    assert again.status_code == 200, again.content
    assert Connection.objects.get(slug="pg").secrets["password"] == SECRET
    assert SECRET not in api.get("connections").content.decode()


def test_it_refuses_settings_the_provider_does_not_have(api, demo_file):
    body = connection_body(demo_file)
    body["config"]["colour"] = "blue"
    response = api.post("connections", body)
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "config.colour"


def test_it_deletes_only_unused_connections(api, api_model):
    used = api.delete("connections/demo")
    assert used.status_code == 400 and "data model “Users”" in used.json()["errors"][0]["message"]
    assert api.delete("data-models/users").status_code == 204
    assert api.delete("connections/demo").status_code == 204
    assert api.get("connections/demo").status_code == 404
