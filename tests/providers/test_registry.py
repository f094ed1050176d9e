"""The provider table is the one list of providers: the model, the API and the Connect step read it."""

from __future__ import annotations

import pytest
from django.test import Client

from feeds.api.connections import provider_kind
from feeds.api.errors import Invalid
from feeds.connect.providers import directory
from feeds.models import Connection, Provider
from feeds.warehouses.registry import PROVIDERS, provider_class


@pytest.mark.parametrize("kind", list(PROVIDERS))
def test_it_imports_for_each_row_the_class_of_that_kind(kind: str) -> None:
    assert provider_class(kind).kind == kind


def test_it_offers_the_table_s_rows_as_the_connection_choices() -> None:
    table = [(spec.kind, spec.label) for spec in PROVIDERS.values()]
    assert Connection._meta.get_field("provider").choices == table
    assert Provider.choices == table
    assert (Provider.POSTGRES, Provider.POSTGRES.label) == ("postgres", "PostgreSQL")


def test_it_lists_every_row_in_the_connect_directory_by_label() -> None:
    assert sorted(e.label for e in directory()) == sorted(spec.label for spec in PROVIDERS.values())


def test_it_names_providers_in_the_api_as_mparticle_does() -> None:
    names = {spec.kind: spec.api_name for spec in PROVIDERS.values()}
    assert names == {
        "snowflake": "Snowflake",
        "bigquery": "BigQuery",
        "redshift": "Redshift",
        "databricks": "Databricks",
        "postgres": "PostgreSQL",
        "duckdb": "DuckDB",
    }
    for kind, name in names.items():
        assert provider_kind(name.upper()) == provider_kind(kind) == kind


def test_it_refuses_a_service_provider_outside_the_table_naming_the_api_names() -> None:
    with pytest.raises(Invalid) as refused:
        provider_kind("Oracle")
    assert "Snowflake, BigQuery, Redshift, Databricks, PostgreSQL, DuckDB" in str(refused.value)


def test_it_publishes_the_table_s_api_names_as_the_schema_s_enum(db) -> None:
    schema = Client().get("/platform/v2/openapi.json").json()
    connection = schema["components"]["schemas"]["ConnectionInput"]["properties"]
    assert connection["service_provider"]["enum"] == [spec.api_name for spec in PROVIDERS.values()]
