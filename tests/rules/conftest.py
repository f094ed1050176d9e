"""Fixtures for rules: batches as the mapper makes them, and (for runs) the engine's DuckDB users table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import api, api_as, fresh_rate_limit  # noqa: F401  (the API's fixtures)
from tests.sync.conftest import Warehouse


def batch(email: Any = "ada@example.com", plan: Any = "pro", **attributes: Any) -> dict[str, Any]:
    """Return a batch in the mapper's shape with an email, a customer id and user attributes."""
    ids = {"customer_id": "C1"}
    if email is not None:
        ids["email"] = email
    return {
        "environment": "production",
        "user_identities": ids,
        "user_attributes": {"plan": plan, **attributes} if plan is not ... else dict(attributes),
        "events": [],
        "source_request_id": "r",
    }


def event_batch(name: str = "buy", **attributes: Any) -> dict[str, Any]:
    """Return a batch with one custom event."""
    b = batch()
    b["events"] = [
        {
            "event_type": "custom_event",
            "data": {"event_name": name, "custom_event_type": "other", "custom_attributes": dict(attributes)},
        }
    ]
    return b


def step(action: dict[str, Any], condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """Return a clean, enabled step (raises when the step has a problem, so a test cannot build a bad one)."""
    from feeds.rules.steps import clean_step

    cleaned, problems = clean_step(
        {"name": extra.pop("name", "step"), "action": action, "condition": condition, **extra}
    )
    assert problems == {}, problems
    return cleaned


@pytest.fixture
def warehouse(tmp_path: Path, settings: Any) -> Warehouse:
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path)]
    return Warehouse(tmp_path / "warehouse.duckdb")
