"""Saving a field transformation (a mapping) from API values, with feeds.mapping.rules' rules and messages.

No HTTP here. A transformation is checked on its own (destinations, static values, identities) and
again against the data model of every pipeline that uses it.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from feeds import audit
from feeds.accounts.models import Workspace
from feeds.api.errors import Conflict, Invalid
from feeds.mapping import UNMAPPED
from feeds.mapping.rules import validate_mappings
from feeds.models import FieldTransformation


def pipeline_type_of(mappings: list[dict[str, Any]]) -> str:
    """Return "events" when the mapping fills event fields, else "user_attributes"."""
    events = any(str(m.get("destination") or "").startswith("events[]") for m in mappings)
    return "events" if events else "user_attributes"


def mapping_problem(mappings: list[dict[str, Any]], columns: list[str] | None, pipeline_type: str) -> None:
    """Raise Invalid with the first problem; without columns, every named source counts as a column."""
    if columns is None:
        columns = [m["source"] for m in mappings if m.get("source") and m["source"] != UNMAPPED]
    problems = validate_mappings(mappings, columns, pipeline_type)
    if problems:
        first = problems[0]
        field = f"mappings[{first.index}].{first.field}" if first.index is not None else "mappings"
        raise Invalid(first.message, code="invalid_mapping", field=field)


def save_transformation(
    workspace: Workspace,
    *,
    transformation: FieldTransformation | None,
    slug: str,
    name: str,
    mappings: list[dict[str, Any]],
    user: Any,
) -> FieldTransformation:
    """Validate and save the mapping; raises Invalid (with the mapping's message) or Conflict."""
    mapping_problem(mappings, None, pipeline_type_of(mappings))
    if transformation is not None:
        for feed in transformation.feeds.select_related("data_model"):
            if feed.data_model is not None:
                mapping_problem(mappings, feed.data_model.column_names(), feed.pipeline_type)
    elif FieldTransformation.objects.filter(workspace=workspace, slug=slug).exists():
        raise Conflict(f"A field transformation with id “{slug}” already exists in this workspace.")
    saved = transformation or FieldTransformation(workspace=workspace, slug=slug, created_by=user)
    is_new = saved.pk is None
    saved.name, saved.mappings, saved.last_modified_by = name, mappings, user
    try:
        with transaction.atomic():
            saved.save()
    except IntegrityError:
        raise Conflict(f"A field transformation with id “{slug}” already exists in this workspace.") from None
    audit.record(workspace, user, "create mapping" if is_new else "edit mapping", name)
    return saved


def delete_transformation(transformation: FieldTransformation, user: Any) -> None:
    """Delete a mapping no pipeline uses; raises Invalid naming the pipelines that use it."""
    users = [f"“{f}”" for f in transformation.feeds.all()[:3]]
    if users:
        raise Invalid(f"The mapping is used by pipeline {', '.join(users)}. Delete or change those first.")
    audit.record(transformation.workspace, user, "delete mapping", transformation.name)
    transformation.delete()
