"""Databricks through Delta Sharing, one module per job.

- `tableref.py`: the data model, a table reference (Delta Sharing has no SQL engine);
- `profile.py`: the recipient profile and its checks;
- `delta_types.py`: Delta types, and record batches to rows;
- `window.py`: which files and rows a read window keeps;
- `sort.py`: a windowed read in iterator order, sorted out of core by DuckDB;
- `provider.py`: `DatabricksWarehouse`, the provider (the registry names it).
"""

from __future__ import annotations

from feeds.warehouses.databricks.provider import DatabricksWarehouse
from feeds.warehouses.databricks.tableref import SQL_EXPLANATION

__all__ = ["SQL_EXPLANATION", "DatabricksWarehouse"]
