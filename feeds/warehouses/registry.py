"""The registry of warehouse providers: dotted paths, imported only when a provider is used.

Adding a provider is one module in this package, one line here and one test module.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import import_module
from typing import Any

from feeds.warehouses.base import Warehouse

PROVIDERS: dict[str, str] = {
    "snowflake": "feeds.warehouses.snowflake.SnowflakeWarehouse",
    "bigquery": "feeds.warehouses.bigquery.BigQueryWarehouse",
    "redshift": "feeds.warehouses.redshift.RedshiftWarehouse",
    "databricks": "feeds.warehouses.databricks.DatabricksWarehouse",
    "postgres": "feeds.warehouses.postgres.PostgresWarehouse",
    "duckdb": "feeds.warehouses.duckdb.DuckDBWarehouse",
}

LABELS: dict[str, str] = {
    "snowflake": "Snowflake",
    "bigquery": "Google BigQuery",
    "redshift": "Amazon Redshift",
    "databricks": "Databricks (Delta Sharing)",
    "postgres": "PostgreSQL",
    "duckdb": "DuckDB",
}


@cache
def provider_class(kind: str) -> type[Warehouse]:
    """Return the provider class for a registry key; raises KeyError for an unknown one."""
    module_name, _, class_name = PROVIDERS[kind].rpartition(".")
    return getattr(import_module(module_name), class_name)


def open_warehouse(kind: str, config: Mapping[str, Any]) -> Warehouse:
    """Return a provider instance for the decrypted connection config."""
    return provider_class(kind)(config)
