"""The OpenAPI document, the docs page, and schemathesis against the served schema (no 500s, no schema violations)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from feeds.accounts.models import Role
from feeds.api.credentials import create_credential
from tests.api.conftest import token_for

EXAMPLES = 15  # per operation: bounded so the suite stays fast


def test_it_serves_an_openapi_3_document(db):
    response = Client().get("/platform/v2/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/platform/v2/workspaces/{workspaceId}/pipelines/{pipelineId}/trigger" in document["paths"]
    connected = document["paths"][
        "/platform/v2/workspaces/{workspaceId}/pipelines/{pipelineId}/outputs/{connectionId}"
    ]
    assert {"get", "patch", "delete"} <= set(connected)
    assert "/platform/v2/workspaces/{workspaceId}/outputs/{outputId}/test" in document["paths"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_docs_page_lists_every_operation(db):
    html = Client().get("/platform/v2/docs/").content.decode()
    assert "/platform/v2/workspaces/{workspaceId}/field-transformations/{fieldTransformationId}" in html
    assert "Start an on-demand run" in html and "oauth/token" in html
    assert "cdn" not in html.lower()


# Unknown query parameters are ignored, as most HTTP APIs (and mParticle's) do: not generated as negative cases.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict({"generation": {"allow-extra-parameters": False}})


@pytest.fixture
def api_output(db, workspace, api_pipeline, settings) -> dict[str, str]:
    """A webhook output (to a closed local port) connected to the seeded pipeline; its ids by path name."""
    from feeds.models import Feed
    from feeds.outputs import service

    settings.WSYNC_OUTPUT_TIMEOUT = 1
    hook = {"url": "http://127.0.0.1:9/hook", "signing_secret": "whsec-schema", "batch_size": 100}
    output = service.save_output(workspace, "webhook", "Hook", hook, None)
    connected = service.connect(Feed.objects.get(workspace=workspace, slug="crm-users"), output, None)
    return {"outputId": str(output.pk), "connectionId": str(connected.pk)}


@pytest.fixture
def api_schema(db, workspace, admin, api_pipeline, api_output, settings, bearer):
    settings.WSYNC_API_RATE_LIMIT = 100_000
    settings.ALLOWED_HOSTS = ["*"]
    # As Django's test client does, keep the test's connection (and transaction) open across requests,
    # which the plain WSGI handler would close; after `bearer`, whose test-client request reconnects it.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/platform/v2/openapi.json", get_wsgi_application(), config=CONFIG
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(workspace, admin) -> dict[str, str]:
    issued = create_credential(workspace, name="schemathesis", role=Role.ADMIN, user=admin)
    return {"Authorization": f"Bearer {token_for(issued.credential.client_id, issued.client_secret)}"}


SEEDED = {
    "connectionId": "demo",
    "dataModelId": "users",
    "fieldTransformationId": "users-mapping",
    "pipelineId": "crm-users",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _seeds(path: str, outputs: dict[str, str]) -> dict[str, str]:
    """The seeded ids for a path: a pipeline's connected output there, else the warehouse connection."""
    return {**SEEDED, **outputs} if "/outputs" in path else {**SEEDED, "outputId": outputs["outputId"]}


def test_the_api_keeps_its_schema(api_schema, api_output, bearer):
    # Operation by operation with Hypothesis directly (schemathesis' pytest plugin predates pytest 9).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    operations.sort(key=lambda o: o.method.upper() == "DELETE")  # deletes last, so the others find objects
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy(), seeded=st.booleans())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,  # CI runs the same examples every time; explore with a seed by hand
        )
        def keeps_schema(case, seeded):
            parameters = case.path_parameters or {}
            if "workspaceId" in parameters:
                parameters["workspaceId"] = "acme"  # the credential's workspace: reach the real code
            if seeded:  # half the cases address the objects that exist, the others random ids
                seeds = _seeds(case.operation.path, api_output)
                parameters.update({k: v for k, v in seeds.items() if k in parameters})
            case.call_and_validate(headers=bearer, checks=CHECKS)

        keeps_schema()


def _operations(api_schema) -> list:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    operations.sort(key=lambda o: o.method.upper() == "DELETE")  # deletes last, so the others find objects
    return operations


def test_the_api_refuses_what_its_schema_forbids(api_schema, bearer):
    """Negative cases: every value the schema forbids is answered 4xx in the error shape, never 2xx or 5xx."""
    for operation in _operations(api_schema):

        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), seeded=st.booleans())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def refuses(case, seeded):
            broken = _negative_components(case)
            parameters = case.path_parameters or {}
            if "workspaceId" in parameters and seeded and "path" not in broken:
                parameters["workspaceId"] = "acme"  # reach the body's checks, behind the workspace's
                parameters.update({k: v for k, v in SEEDED.items() if k in parameters})
            case.call_and_validate(
                headers=None if "header" in broken else bearer,
                checks=[not_a_server_error, negative_data_rejection, content_type_conformance],
            )

        refuses()


def _negative_components(case) -> set[str]:
    """Return where the case breaks the schema ("path", "query", "header", "body")."""
    return {
        str(getattr(where, "value", where))
        for where, info in case.meta.components.items()
        if info.mode == GenerationMode.NEGATIVE
    }


def _positive_case(operation):
    """Return one schema-valid case of the operation addressing the seeded objects of workspace acme."""
    found = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=1,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def take(case):
        found.append(case)

    take()
    case = found[0]
    if case.path_parameters:
        case.path_parameters.update(
            {"workspaceId": "acme", **{k: v for k, v in SEEDED.items() if k in case.path_parameters}}
        )
    return case


def test_every_operation_answers_401_without_a_valid_token(api_schema):
    for operation in _operations(api_schema):
        if operation.path == "/oauth/token":
            continue  # the one operation without a token: it hands them out
        case = _positive_case(operation)
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}):
            response = case.call(headers=headers)
            assert response.status_code == 401, (operation.label, headers, response.text)
            assert response.json()["errors"][0]["code"] == "unauthorized"


@pytest.fixture
def viewer(workspace, admin) -> dict[str, str]:
    """A viewer's Authorization header; asked for before api_schema, whose WSGI calls keep one connection."""
    issued = create_credential(workspace, name="viewer", role=Role.VIEWER, user=admin)
    return {"Authorization": f"Bearer {token_for(issued.credential.client_id, issued.client_secret)}"}


def test_every_write_answers_403_to_a_viewer(viewer, api_schema):
    writes = [o for o in _operations(api_schema) if o.method.upper() != "GET" and o.path != "/oauth/token"]
    assert len(writes) >= 12
    for operation in writes:
        response = _positive_case(operation).call(headers=viewer)
        assert response.status_code == 403, (operation.label, response.text)
        assert response.json()["errors"][0]["code"] == "forbidden"


def test_links_lead_from_a_create_to_the_object_it_made(api_schema, bearer, demo_file):
    """The schema's links, followed by schemathesis' state machine: create, then get, update, delete."""
    links = api_schema.raw_schema["paths"]["/platform/v2/workspaces/{workspaceId}/connections"]["post"]
    assert set(links["responses"]["200"]["links"]) == {
        "GetConnection",
        "UpdateConnection",
        "DeleteConnection",
    }
    machine = api_schema.as_state_machine()

    class Stateful(machine):
        def get_call_kwargs(self, case):
            if case.path_parameters and "workspaceId" in case.path_parameters:
                case.path_parameters["workspaceId"] = "acme"
            return {"headers": bearer}

        def validate_response(self, response, case, additional_checks=(), **kwargs):
            case.validate_response(response, checks=CHECKS)

    run_state_machine_as_test(
        Stateful,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        ),
    )


def test_each_link_of_a_create_reaches_what_it_created(db, api, demo_file):
    """Follow the served links by hand from real creates: their parameters name the new object."""
    from tests.api.conftest import MAPPINGS, connection_body

    document = Client().get("/platform/v2/openapi.json").json()
    by_id = {
        operation["operationId"]: (address, method)
        for address, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }
    bodies = {
        "connections": connection_body(demo_file, "linked"),
        "field-transformations": {"id": "linked", "name": "Linked", "mappings": MAPPINGS},
    }
    for plural, body in bodies.items():
        address = f"/platform/v2/workspaces/{{workspaceId}}/{plural}"
        created = api.post(address.format(workspaceId="acme"), body)
        assert created.status_code == 200, created.content
        links = document["paths"][address]["post"]["responses"]["200"]["links"]
        for link in links.values():
            target, method = by_id[link["operationId"]]
            values = {
                name: created.json()["id"] if expression == "$response.body#/id" else "acme"
                for name, expression in link["parameters"].items()
            }
            if method == "get":
                assert api.get(target.format(**values)).json()["id"] == "linked", target
