"""Finding 6: no input reaches a 500. Unicode digits, negative and huge numbers in query parameters and path
segments, oversized and deeply nested API bodies are each answered 4xx with a message that names the field."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from feeds.accounts.models import Role
from feeds.api.credentials import create_credential
from tests.api.conftest import ApiClient, token_for
from tests.personas import client_for

API = "/platform/v2/workspaces/acme"
BAD_NUMBERS = ["²", "٣", "--5", "-5", "0", "9" * 40, "1e3", " ", "5.0"]


@pytest.fixture
def api(workspace, admin) -> ApiClient:
    issued = create_credential(workspace, name="probe", role=Role.ADMIN, user=admin)
    return ApiClient(token_for(issued.credential.client_id, issued.client_secret))


@pytest.mark.parametrize(
    "q", ["²", "--5", "-5", "9" * 30, "-" + "9" * 19, "\u00b2\u00b3", "x" * 5000, "a\x00b"]
)
def test_it_searches_profiles_for_any_text_without_a_server_error(workspace, viewer, q):
    response = client_for(viewer).get("/w/acme/profiles/", {"q": q})
    assert response.status_code == 200
    assert "No profile matches" in response.content.decode()  # nothing in the workspace matches it


def test_it_still_finds_a_profile_by_its_mpid(workspace, viewer):
    from feeds.profiles.models import Profile

    Profile.objects.create(workspace=workspace, environment="production", mpid=2**63 - 1)
    response = client_for(viewer).get("/w/acme/profiles/", {"q": str(2**63 - 1)})
    assert f"/w/acme/profiles/{2**63 - 1}/" in response.content.decode()


@pytest.mark.parametrize("page", BAD_NUMBERS)
def test_it_answers_any_page_number_on_the_feed_and_explorer_pages(workspace, viewer, active_feed, page):
    client = client_for(viewer)
    for url in ["/w/acme/profiles/", f"/w/acme/feeds/{active_feed.pk}/", "/w/acme/feeds/"]:
        assert client.get(url, {"page": page, "activity_page": page}).status_code == 200, url


def test_it_answers_404_for_ids_too_large_for_the_database(workspace, viewer, active_feed):
    client = client_for(viewer)
    huge = "9" * 30
    for url in [
        f"/w/acme/feeds/{huge}/",
        f"/w/acme/feeds/{active_feed.pk}/runs/{huge}/",
        f"/w/acme/profiles/{huge}/",
    ]:
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_it_refuses_a_bad_page_number_on_the_api_naming_the_parameter(api, active_feed, value):
    for name in ["currentPage", "pageSize"]:
        response = api.get("pipelines/users/runs", **{name: value})
        assert response.status_code == 400, (name, value)
        error = response.json()["errors"][0]
        assert error["field"] == name and "whole number" in error["message"]


@pytest.mark.parametrize("run_id", ["²", "-1", "9" * 40, "１"])
def test_it_answers_404_for_a_run_id_that_cannot_exist(api, active_feed, run_id):
    response = api.get(f"pipelines/users/runs/{run_id}")
    assert response.status_code == 404
    assert response.json()["statusCode"] == 404


@pytest.mark.parametrize("port", ["²", "-5", "9" * 40, 10**30])
def test_it_refuses_a_bad_port_in_a_connection_naming_the_field(api, port):
    body = {"id": "pg", "name": "PG", "service_provider": "PostgreSQL"}
    body["config"] = {"host": "db.example.com", "port": port, "database": "d", "user": "u", "password": "p"}
    response = api.post("connections", body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "config.port"


def test_it_answers_413_in_the_api_shape_for_a_body_over_the_limit(api, settings):
    settings.WSYNC_API_MAX_BODY_BYTES = 10_000
    body = {"id": "big", "name": "x" * 20_000, "type": "sql", "sql_query": "SELECT 1"}
    response = api.post("data-models", body)
    assert response.status_code == 413
    assert response.json()["statusCode"] == 413
    assert "larger than 10,000 bytes" in response.json()["errors"][0]["message"]


def test_it_answers_413_for_a_body_over_djangos_own_limit(api):
    response = api.post("data-models", {"id": "big", "name": "x" * 3_000_000})
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "body_too_large"


def test_it_answers_413_to_the_token_endpoint_too(workspace):
    body = json.dumps({"client_id": "x" * 3_000_000})
    response = Client().post("/oauth/token", body, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.parametrize("depth", [33, 5_000, 200_000])
def test_it_answers_400_in_the_api_shape_for_nesting_past_the_limit(api, depth):
    raw = '{"id": "deep", "name": "x", "extra": ' + "[" * depth + "]" * depth + "}"
    response = api.client.post(
        f"{API}/data-models", raw, content_type="application/json", headers=api.headers
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "too_deep" and "nested deeper than 32 levels" in error["message"]


def test_it_accepts_nesting_within_the_limit(api):
    raw = '{"id": "ok", "name": "x", "extra": ' + "[" * 20 + "]" * 20 + "}"
    response = api.client.post(
        f"{API}/data-models", raw, content_type="application/json", headers=api.headers
    )
    assert response.json()["errors"][0]["code"] != "too_deep"


def test_it_refuses_text_with_nul_naming_the_field(api):
    response = api.post(
        "data-models", {"id": "nul", "name": "a\x00b", "type": "sql", "sql_query": "SELECT 1"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "name"
    response = api.post("data-models", {"id": "nul", "name": "x", "extra": [{"a\x00": 1}]})
    assert response.json()["errors"][0]["field"] == "extra.0.a\x00"


ODD_SEGMENTS = ["²", "-1", "9" * 40, "a" * 300, "%00", "%C0%AF", "..%2F..", "１"]


@pytest.mark.parametrize("segment", ODD_SEGMENTS)
def test_it_answers_every_api_address_with_an_odd_segment_below_500(api, active_feed, segment):
    paths = [
        f"connections/{segment}",
        f"data-models/{segment}",
        f"field-transformations/{segment}",
        f"pipelines/{segment}",
        f"pipelines/{segment}/report",
        f"pipelines/{segment}/runs",
        f"pipelines/users/runs/{segment}",
    ]
    for path in paths:
        response = api.get(path)
        assert response.status_code in (400, 404), (path, response.status_code)
        assert response.json()["statusCode"] == response.status_code


@pytest.mark.parametrize("value", [*BAD_NUMBERS, "%00", "\x00", "²⁰²⁴-01-01", "+999999-01-01T00:00:00Z"])
def test_it_answers_every_api_query_parameter_with_an_odd_value_below_500(api, active_feed, value):
    for path, name in [
        ("connections", "serviceProvider"),
        ("pipelines/users/runs", "startDate"),
        ("pipelines/users/runs", "endDate"),
    ]:
        response = api.get(path, **{name: value})
        assert response.status_code in (200, 400), (path, name, response.status_code)


@pytest.mark.parametrize("value", ["²", "--5", "9" * 40, "\x00", "a" * 3000])
def test_it_answers_every_page_with_an_odd_query_value_below_500(workspace, editor, active_feed, value):
    client = client_for(editor)
    pages = [
        "/w/acme/feeds/",
        f"/w/acme/feeds/{active_feed.pk}/",
        "/w/acme/profiles/",
        "/w/acme/directory/",
        "/w/acme/feeds/new/duckdb/",
        f"/w/acme/feeds/{active_feed.pk}/setup/connect/",
        f"/w/acme/feeds/{active_feed.pk}/setup/model/",
        f"/w/acme/feeds/{active_feed.pk}/setup/map/",
        f"/w/acme/feeds/{active_feed.pk}/setup/schedule/",
        f"/w/acme/feeds/{active_feed.pk}/setup/review/",
    ]
    params = ["q", "page", "activity_page", "conflicts_page", "environment", "provider", "connection"]
    for path in pages:
        response = client.get(path, dict.fromkeys(params, value))
        assert response.status_code < 500, path
    assert client.get(f"/w/acme/feeds/new/{value[:50]}/").status_code < 500


def test_it_answers_wizard_addresses_with_huge_ids_below_500(workspace, editor, active_feed):
    client = client_for(editor)
    huge = "9" * 30
    for path in [
        f"/w/acme/feeds/{huge}/setup/connect/",
        f"/w/acme/feeds/{huge}/setup/model/",
        f"/w/acme/feeds/{active_feed.pk}/setup/map/node/{huge}/",
        f"/w/acme/feeds/{active_feed.pk}/setup/map/node/{huge}/delete/",
        f"/w/acme/settings/members/{huge}/role/",
        f"/w/acme/settings/members/{huge}/invite/",
        f"/w/acme/settings/api/{huge}/take-over/",
    ]:
        assert client.post(path, {"role": "viewer"}).status_code < 500, path
