"""What the ninja declarations add on their way to the client: headers on every kind of answer, the
refusal of a body the schema forbids naming its own path, and the served document's enums."""

from __future__ import annotations

from django.test import Client

from feeds.models import FeedState, Frequency
from tests.api.conftest import MAPPINGS


def test_a_204_and_a_refusal_carry_the_rate_limit_headers_too(api, settings):
    settings.WSYNC_API_RATE_LIMIT = 5
    created = api.post("field-transformations", {"id": "gone", "name": "Gone", "mappings": MAPPINGS})
    refused = api.post("field-transformations", {"id": "bad", "name": "Bad", "mappings": "all"})
    deleted = api.delete("field-transformations/gone")
    assert [created.status_code, refused.status_code, deleted.status_code] == [200, 400, 204]
    assert [a["X-mp-rate-limit-remaining"] for a in (created, refused, deleted)] == ["4", "3", "2"]


def test_a_nested_value_the_schema_forbids_is_refused_naming_its_path(api, api_pipeline):
    response = api.put("pipelines/crm-users", {"schedule": {"frequency": "fortnightly"}})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (
        error["field"] == "schedule.frequency"
        and "must be one of: " + ", ".join(Frequency.values) in error["message"]
    )
    mapping = api.put("field-transformations/users-mapping", {"name": "x", "mappings": [{"mapping_type": 5}]})
    assert mapping.json()["errors"][0]["field"] == "mappings[0].mapping_type"


def test_the_document_is_openapi_3_0_with_nullable_enums_inline(db):
    document = Client().get("/platform/v2/openapi.json").json()
    assert document["openapi"] == "3.0.3"
    assert not any({"type": "null"} in schema.get("anyOf", []) for schema in _schemas(document))
    frequency = document["components"]["schemas"]["Schedule"]["properties"]["frequency"]
    assert frequency["enum"] == Frequency.values and frequency["nullable"] is True
    assert document["components"]["schemas"]["Pipeline"]["properties"]["state"]["enum"] == FeedState.values


def _schemas(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas(value)
