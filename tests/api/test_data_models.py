"""Data models: the SQL rule and the column probe (LIMIT 0) on create and update."""

from __future__ import annotations

from django.test import Client

from feeds.models import DataModel
from tests.api.conftest import USERS_SQL


def _body(**change) -> dict:
    return {
        "id": "users",
        "name": "Users",
        "type": "sql",
        "sql_query": USERS_SQL,
        "connection_id": "demo",
        **change,
    }


def test_it_creates_a_model_with_the_probed_columns(api, api_connection):
    response = api.post("data-models", _body())
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "sql" and body["sql_query"] == USERS_SQL and body["status"] == "healthy"
    assert [c["name"] for c in body["columns"]] == [
        "customer_id",
        "email",
        "first_name",
        "plan",
        "updated_at",
    ]
    model = DataModel.objects.get(slug="users")
    assert model.is_probed and model.connection.slug == "demo"


def test_it_uses_the_only_connection_when_none_is_named(api, api_connection):
    body = _body()
    del body["connection_id"]
    assert api.post("data-models", body).json()["connection_id"] == "demo"


def test_it_refuses_sql_that_writes(api, api_connection):
    response = api.post("data-models", _body(sql_query="DELETE FROM users"))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "invalid_sql" and "remove DELETE" in error["message"]
    assert not DataModel.objects.exists()


def test_it_refuses_sql_the_warehouse_cannot_run(api, api_connection):
    response = api.post("data-models", _body(sql_query="SELECT nope FROM users"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "query_failed"
    assert "nope" in response.json()["errors"][0]["message"]


def test_it_refuses_an_unknown_connection(api, api_connection):
    response = api.post("data-models", _body(connection_id="elsewhere"))
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "connection_id"


def test_it_reprobes_on_update(api, api_model):
    response = api.put(
        "data-models/users", {**api_model, "sql_query": "SELECT customer_id, email FROM users"}
    )
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["columns"]] == ["customer_id", "email"]
    assert api.get("data-models/users").json()["sql_query"] == "SELECT customer_id, email FROM users"


def test_it_lists_gets_and_deletes(api, api_model):
    assert [m["id"] for m in api.get("data-models").json()] == ["users"]
    assert api.get("data-models/users").json() == api_model
    assert api.post("data-models", _body()).status_code == 409
    assert api.delete("data-models/users").status_code == 204
    assert api.get("data-models/users").status_code == 404


def test_it_answers_a_put_of_another_state_with_400(api, api_model):
    assert api_model["state"] == "active"
    response = api.put("data-models/users", {**api_model, "state": "inactive"})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "state" and "always “active”" in error["message"]
    assert api.put("data-models/users", {**api_model, "state": "active"}).status_code == 200


def test_the_schema_says_a_data_models_state_is_always_active(db):
    schemas = Client().get("/platform/v2/openapi.json").json()["components"]["schemas"]
    state = schemas["DataModel"]["properties"]["state"]
    assert state["enum"] == ["active"] and state["readOnly"] is True
    assert schemas["DataModelInput"]["properties"]["state"]["enum"] == ["active"]
