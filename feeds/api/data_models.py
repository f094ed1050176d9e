"""Saving a data model from API values: the SQL rule, then the column probe (a LIMIT 0 query).

No HTTP here. Refusals are ApiErrors carrying the wizard's messages.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from feeds import audit
from feeds.accounts.models import Workspace
from feeds.api.errors import Conflict, Invalid
from feeds.model.query import column_dicts
from feeds.models import Connection, DataModel, Health
from feeds.warehouses.base import WarehouseError
from feeds.warehouses.registry import open_warehouse, provider_class
from feeds.warehouses.sqlcheck import check_select


def probe_columns(connection: Connection, sql: str) -> list[dict[str, str]]:
    """Return the columns of `sql` (validated, then described); raises Invalid with the reason."""
    cls = provider_class(connection.provider)
    if cls.has_sql:
        problem = check_select(sql, cls.dialect)
        if problem is not None:
            raise Invalid(str(problem), code="invalid_sql", field="sql_query")
    try:
        warehouse = open_warehouse(connection.provider, connection.warehouse_config())
        try:
            columns = warehouse.describe(sql)
        finally:
            warehouse.close()
    except WarehouseError as error:
        raise Invalid(error.message, code="query_failed", field="sql_query") from None
    return column_dicts(columns)


def save_data_model(
    workspace: Workspace,
    *,
    model: DataModel | None,
    slug: str,
    name: str,
    connection: Connection,
    sql: str,
    timestamp_field: str | None,
    user: Any,
) -> DataModel:
    """Validate and probe the SQL, then save the model with its columns; raises Invalid or Conflict."""
    columns = probe_columns(connection, sql)
    names = [c["name"] for c in columns]
    if timestamp_field and timestamp_field not in names:
        raise Invalid(
            f"The column “{timestamp_field}” is not in the data model's query.", field="timestamp_field"
        )
    if model is None:
        if DataModel.objects.filter(workspace=workspace, slug=slug).exists():
            raise Conflict(f"A data model with id “{slug}” already exists in this workspace.")
        model = DataModel(workspace=workspace, slug=slug, created_by=user)
    is_new = model.pk is None
    if timestamp_field is None:
        timestamp_field = model.timestamp_field if model.timestamp_field in names else ""
    model.name, model.connection, model.sql = name, connection, sql
    model.columns, model.columns_sql, model.timestamp_field = columns, sql, timestamp_field
    model.status, model.errors, model.last_modified_by = Health.HEALTHY, [], user
    try:
        with transaction.atomic():
            model.save()
    except IntegrityError:
        raise Conflict(f"A data model with id “{slug}” already exists in this workspace.") from None
    audit.record(workspace, user, "create data model" if is_new else "edit data model", name)
    return model


def delete_data_model(model: DataModel, user: Any) -> None:
    """Delete a data model no pipeline uses; raises Invalid naming the pipelines that use it."""
    users = [f"“{f}”" for f in model.feeds.all()[:3]]
    if users:
        raise Invalid(f"The data model is used by pipeline {', '.join(users)}. Delete or change those first.")
    audit.record(model.workspace, user, "delete data model", model.name)
    model.delete()
