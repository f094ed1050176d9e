"""The provider table: every warehouse wsync knows, declared once, its module imported only when used.

Adding a provider is one module in this package, one row here and one test module. The model's choices
(`feeds.models.Provider`), the API's `service_provider` names and the Connect step's directory are read
from this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import Any

from feeds.warehouses.base import Warehouse


@dataclass(frozen=True)
class ProviderSpec:
    kind: str  # the key stored in Connection.provider; never changes once stored
    label: str  # the name pages and messages show
    api_name: str  # the API's `service_provider` value (mParticle's spelling)
    path: str  # dotted path of the class, imported on first use so vendor SDKs load only when needed


PROVIDERS: dict[str, ProviderSpec] = {
    spec.kind: spec
    for spec in (
        ProviderSpec("snowflake", "Snowflake", "Snowflake", "feeds.warehouses.snowflake.SnowflakeWarehouse"),
        ProviderSpec(
            "bigquery", "Google BigQuery", "BigQuery", "feeds.warehouses.bigquery.BigQueryWarehouse"
        ),
        ProviderSpec(
            "redshift", "Amazon Redshift", "Redshift", "feeds.warehouses.redshift.RedshiftWarehouse"
        ),
        ProviderSpec(
            "databricks",
            "Databricks (Delta Sharing)",
            "Databricks",
            "feeds.warehouses.databricks.provider.DatabricksWarehouse",
        ),
        ProviderSpec("postgres", "PostgreSQL", "PostgreSQL", "feeds.warehouses.postgres.PostgresWarehouse"),
        ProviderSpec("duckdb", "DuckDB", "DuckDB", "feeds.warehouses.duckdb.DuckDBWarehouse"),
    )
}


def label(kind: str) -> str:
    """Return the provider's display name; an unknown kind is shown as it is."""
    spec = PROVIDERS.get(kind)
    return spec.label if spec else kind


def api_name(kind: str) -> str:
    """Return the API's `service_provider` name for a provider; an unknown kind is shown as it is."""
    spec = PROVIDERS.get(kind)
    return spec.api_name if spec else kind


@cache
def provider_class(kind: str) -> type[Warehouse]:
    """Return the provider class for a registry key; raises KeyError for an unknown one."""
    module_name, _, class_name = PROVIDERS[kind].path.rpartition(".")
    return getattr(import_module(module_name), class_name)


def open_warehouse(kind: str, config: Mapping[str, Any]) -> Warehouse:
    """Return a provider instance for the decrypted connection config."""
    return provider_class(kind)(config)
