"""Wizard fixtures: a real DuckDB demo warehouse, and feeds at each step of the wizard."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds import wizard
from feeds.demo import write_demo_warehouse
from feeds.models import Connection, Feed

USERS_SQL = "SELECT customer_id, email, first_name, plan, updated_at FROM users ORDER BY customer_id"


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_warehouse(tmp_path_factory.mktemp("warehouse") / "demo.duckdb", users=200, events=1000)


@pytest.fixture(autouse=True)
def duckdb_roots(settings, demo_file: Path) -> None:
    settings.WSYNC_DUCKDB_ROOTS = [str(demo_file.parent)]


@pytest.fixture
def connection(workspace, editor, demo_file: Path) -> Connection:
    return wizard.save_connection(
        workspace,
        connection=None,
        provider="duckdb",
        name="Demo warehouse",
        config={"path": str(demo_file)},
        secrets={},
        user=editor,
    )


@pytest.fixture
def draft(workspace, editor, connection) -> Feed:
    """A draft feed that has passed the Connect step."""
    return wizard.create_draft(workspace, "Users feed", connection, editor)


@pytest.fixture
def modelled(draft: Feed, editor) -> Feed:
    """A draft whose data model ran (columns known) with a timestamp field picked."""
    from feeds.model.query import run_query

    outcome = run_query(draft.connection, USERS_SQL, 5)
    assert outcome.ok, outcome.error
    values = {
        "sql": USERS_SQL,
        "columns": outcome.columns,
        "columns_sql": USERS_SQL,
        "timestamp_field": "updated_at",
    }
    wizard.save_section(draft, "model", values, editor)
    draft.refresh_from_db()
    return draft
