"""API fixtures: credentials per role, a client that sends their Bearer token, a real DuckDB warehouse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from feeds.accounts.models import Membership, Role
from feeds.api.credentials import create_credential
from feeds.demo import write_demo_warehouse

API = "/platform/v2/workspaces/acme"


class ApiClient:
    """A test client that sends JSON and the Bearer token of one credential."""

    def __init__(self, token: str | None, remote_addr: str = "127.0.0.1") -> None:
        self.client = Client(REMOTE_ADDR=remote_addr)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        url = path if path.startswith("/") else f"{API}/{path}"
        send = getattr(self.client, method.lower())
        if body is None:
            return send(url, query or None, headers=self.headers)
        return send(url, json.dumps(body), content_type="application/json", headers=self.headers)

    def get(self, path: str, **query: Any) -> Any:
        return self.call("GET", path, **query)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, {} if body is None else body)

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)


def token_for(client_id: str, secret: str) -> str:
    response = Client().post(
        "/oauth/token",
        json.dumps({"client_id": client_id, "client_secret": secret, "grant_type": "client_credentials"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.fixture(autouse=True)
def fresh_rate_limit(db) -> None:
    cache.clear()  # the database cache table (wsync_site.settings.CACHES): the counters the API shares


@pytest.fixture
def api_as(workspace, admin):
    """Return a factory: api_as("editor") is a client acting with a new editor credential."""

    def make(role: str = Role.ADMIN, ws: Any = None) -> ApiClient:
        ws = ws or workspace
        # A credential works while its creator is an admin of its workspace: take that workspace's admin.
        creator = Membership.objects.filter(workspace=ws, role=Role.ADMIN).first().user
        issued = create_credential(ws, name=f"{role} script", role=role, user=creator)
        return ApiClient(token_for(issued.credential.client_id, issued.client_secret))

    return make


@pytest.fixture
def api(api_as) -> ApiClient:
    return api_as(Role.ADMIN)


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_warehouse(
        tmp_path_factory.mktemp("api-warehouse") / "demo.duckdb", users=200, events=400
    )


@pytest.fixture(autouse=True)
def duckdb_roots(settings, demo_file: Path) -> None:
    settings.WSYNC_DUCKDB_ROOTS = [str(demo_file.parent)]


def connection_body(path: Path, connection_id: str = "demo", name: str = "Demo warehouse") -> dict:
    return {"id": connection_id, "name": name, "service_provider": "DuckDB", "config": {"path": str(path)}}


@pytest.fixture
def api_connection(api, demo_file: Path) -> dict:
    response = api.post("connections", connection_body(demo_file))
    assert response.status_code == 200, response.content
    return response.json()


USERS_SQL = "SELECT customer_id, email, first_name, plan, updated_at FROM users"


@pytest.fixture
def api_model(api, api_connection) -> dict:
    body = {"id": "users", "name": "Users", "type": "sql", "sql_query": USERS_SQL, "connection_id": "demo"}
    response = api.post("data-models", body)
    assert response.status_code == 200, response.content
    return response.json()


MAPPINGS = [
    {
        "mapping_type": "column",
        "source": "customer_id",
        "destination": "user_identities.customer_id",
        "value": None,
    },
    {"mapping_type": "column", "source": "email", "destination": "user_identities.email", "value": None},
    {"mapping_type": "ignore", "source": "updated_at", "destination": None, "value": None},
    {"mapping_type": "column", "source": "$unmapped", "destination": "user_attributes.*", "value": None},
]


def pipeline_body(**change) -> dict:
    return {
        "id": "crm-users",
        "name": "CRM users",
        "pipeline_type": "user_attributes",
        "connection_id": "demo",
        "data_model_id": "users",
        "field_transformation_id": "users-mapping",
        "environment": "development",
        "input_protection": "create_and_update",
        "sync_mode": {"type": "incremental", "iterator": "updated_at", "iterator_data_type": "timestamptz"},
        "schedule": {"type": "on_demand"},
        **change,
    }


@pytest.fixture
def api_mapping(api, api_model) -> dict:
    body = {
        "id": "users-mapping",
        "name": "Users mapping",
        "destination_type": "event_batch",
        "mappings": MAPPINGS,
    }
    response = api.post("field-transformations", body)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def api_pipeline(api, api_mapping) -> dict:
    response = api.post("pipelines", pipeline_body())
    assert response.status_code == 200, response.content
    return response.json()
