"""Fixtures for the engine: a real DuckDB warehouse file, a feed over it, and the store as a dict."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from feeds.accounts.models import Workspace
from feeds.models import Connection, Feed, FeedState, ScheduleType, SyncMode
from tests.feed_fixtures import build_feed

T0 = datetime(2026, 1, 1, tzinfo=UTC)
USER_MAPPINGS = [
    {
        "mapping_type": "column",
        "source": "customer_id",
        "destination": "user_identities.customer_id",
        "value": None,
    },
    {"mapping_type": "column", "source": "email", "destination": "user_identities.email", "value": None},
    {"mapping_type": "column", "source": "plan", "destination": "user_attributes.plan", "value": None},
    {"mapping_type": "column", "source": "score", "destination": "user_attributes.score", "value": None},
    {"mapping_type": "ignore", "source": "updated_at", "destination": None, "value": None},
]
USER_COLUMNS = [
    {"name": "customer_id", "type": "string"},
    {"name": "email", "type": "string"},
    {"name": "plan", "type": "string"},
    {"name": "score", "type": "integer"},
    {"name": "updated_at", "type": "timestamp_tz"},
]


class Warehouse:
    """A DuckDB file with a users table; every write opens and closes its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sql(
            "CREATE TABLE users (customer_id VARCHAR PRIMARY KEY, email VARCHAR, plan VARCHAR, "
            "score INTEGER, updated_at TIMESTAMPTZ)"
        )

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.path)) as connection:
            connection.execute("SET TimeZone = 'UTC'")
            result = connection.execute(query, params)
            return result.fetchall() if result.description else []

    def upsert(self, rows: list[tuple[str, str, str, int, datetime]]) -> None:
        """Insert or replace users (customer_id, email, plan, score, updated_at)."""
        with duckdb.connect(str(self.path)) as connection:
            connection.executemany("INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?, ?)", rows)

    def users(self) -> dict[str, dict[str, Any]]:
        """Return what the store should hold: customer id → email, plan and score."""
        rows = self.sql("SELECT customer_id, email, plan, score FROM users")
        return {c: {"email": e, "plan": p, "score": s} for c, e, p, s in rows}


@pytest.fixture
def warehouse(tmp_path: Path, settings: Any) -> Warehouse:
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path)]  # DuckDB opens only files under the allowed folders
    return Warehouse(tmp_path / "warehouse.duckdb")


def user_rows(start: int, count: int, at: datetime, *, plan: str = "free", score: int = 1) -> list[tuple]:
    return [(f"C{i:07d}", f"user{i}@example.com", plan, score, at) for i in range(start, start + count)]


def make_feed(workspace: Workspace, path: Path, **settings: Any) -> Feed:
    """Return an active feed over the warehouse's users table (incremental on updated_at by default)."""
    connection = Connection.objects.create(
        workspace=workspace, slug="duck", name="Duck", provider="duckdb", config={"path": str(path)}
    )
    values: dict[str, Any] = {
        "sync_mode": SyncMode.INCREMENTAL,
        "iterator": "updated_at",
        "iterator_type": "timestamptz",
        "schedule_type": ScheduleType.ON_DEMAND,
        "state": FeedState.ACTIVE,
        "activated_on": T0,
        "mappings": USER_MAPPINGS,
    }
    values.update(settings)
    return build_feed(
        workspace,
        connection,
        sql="SELECT customer_id, email, plan, score, updated_at FROM users",
        columns=USER_COLUMNS,
        **values,
    )


@pytest.fixture
def feed(workspace: Workspace, warehouse: Warehouse) -> Feed:
    return make_feed(workspace, warehouse.path)


def store_users(workspace: Workspace, environment: str = "production") -> dict[str, dict[str, Any]]:
    """Return the profile store as customer id → email, plan, score (plus a profile count check)."""
    from feeds.profiles.models import Profile
    from tests.profile_fixtures import identities_by_profile

    identities = identities_by_profile(workspace, environment)
    attributes = {
        p.pk: p.attribute_values()
        for p in Profile.objects.filter(workspace=workspace, environment=environment)
    }
    result = {}
    for profile_id, ids in identities.items():
        attrs = attributes.get(profile_id, {})
        result[ids["customer_id"]] = {
            "email": ids.get("email"),
            "plan": attrs.get("plan"),
            "score": attrs.get("score"),
        }
    return result


def profile_count(workspace: Workspace) -> int:
    from feeds.profiles.models import Profile

    return Profile.objects.filter(workspace=workspace).count()


class Crash(BaseException):
    """Stands for the worker process dying: not an Exception, so the engine cannot catch it."""


class FlakyWarehouse:
    """The real provider, with `event` happening as the engine asks for page `pages` (the one seam tests fake).

    Pages before it were written and committed by then; `event` may raise (a failure, a crash) or act
    (pause the feed, look at the run) and return, and the page is then handed over as usual.
    """

    def __init__(self, real: Any, pages: int, event: BaseException | Callable[[], None]) -> None:
        self.real, self.pages, self.event = real, pages, event

    def read(self, sql: str, window: Any, page_size: int) -> Iterator[Any]:
        for number, page in enumerate(self.real.read(sql, window, page_size)):
            if number == self.pages:
                if isinstance(self.event, BaseException):
                    raise self.event
                self.event()
            yield page

    def check(self) -> Any:
        return self.real.check()

    def close(self) -> None:
        self.real.close()


def _engine_reads_through(monkeypatch: pytest.MonkeyPatch, pages: int, event: Any) -> None:
    from feeds.sync import engine
    from feeds.warehouses.registry import open_warehouse

    monkeypatch.setattr(
        engine,
        "open_warehouse",
        lambda kind, config: FlakyWarehouse(open_warehouse(kind, config), pages, event),
    )


@pytest.fixture
def fail_after(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the engine's next warehouse fail after n pages with the given error."""
    from feeds.sync import engine
    from feeds.warehouses.registry import open_warehouse

    def arm(pages: int, error: BaseException) -> None:
        _engine_reads_through(monkeypatch, pages, error)

    def disarm() -> None:
        monkeypatch.setattr(engine, "open_warehouse", open_warehouse)

    arm.disarm = disarm  # type: ignore[attr-defined]
    return arm


@pytest.fixture
def while_reading(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Any:
    """Make the engine's warehouses call `action()` as the engine asks for page n (0 is the first page).

    For page n > 0 the pages before it are committed; page n itself is then written as usual, so an
    action that pauses the feed stops the run after page n. The run reads without looking ahead: a page
    read ahead is read while the one before it is written, a moment an action cannot be timed to.
    """
    settings.WSYNC_READ_AHEAD = False

    def arm(page: int, action: Callable[[], None]) -> None:
        _engine_reads_through(monkeypatch, page, action)

    return arm


def run_now(feed: Feed, kind: str = "manual") -> Any:
    """Queue a run through the service and execute it in this process; return the refreshed run."""
    from feeds.sync import engine, service

    run = service.request_run(feed, None, kind=kind)
    engine.run(run.pk)
    run.refresh_from_db()
    return run


HOUR = timedelta(hours=1)
