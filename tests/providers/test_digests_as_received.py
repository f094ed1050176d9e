"""Redshift and BigQuery digest each row as received and decode only the rows asked for.

Through their real clients and stand-ins: a page's digests tell rows apart as the values do (equal rows,
equal digests; one value changed, NULL against empty text: different digests), its rows are the values a
preview gives, and a full-mode feed's unchanged re-run writes nothing while a changed row is written alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from feeds.models import Feed, SyncMode
from feeds.profiles.models import Profile
from feeds.sync import service
from feeds.sync.models import RunState
from feeds.sync.tasks import run_feed
from feeds.warehouses.base import WirePage
from feeds.warehouses.registry import open_warehouse
from tests.feed_fixtures import feed_on_warehouse


@dataclass
class Source:
    provider: str
    config: dict[str, Any]
    run: Callable[[str], None]  # runs setup SQL in the warehouse
    text: str  # the warehouse's text type


@pytest.fixture(params=["redshift", "bigquery"])
def source(request: Any) -> Source:
    return request.getfixturevalue(f"_{request.param}_source")


@pytest.fixture
def _redshift_source(redshift_database: Any) -> Source:
    def run(sql: str) -> None:
        with redshift_database.db.admin() as connection:
            connection.execute(sql)
            connection.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {redshift_database.db.user}")

    return Source("redshift", redshift_database.config(), run, "VARCHAR(40)")


@pytest.fixture
def _bigquery_source(bigquery_config: dict[str, Any], bigquery_sql: Any) -> Source:
    return Source("bigquery", bigquery_config, bigquery_sql, "STRING")


def _read(source: Source, sql: str, page_size: int = 100) -> list[Any]:
    return list(open_warehouse(source.provider, source.config).read(sql, None, page_size))


def test_each_row_is_digested_as_received_and_decoded_on_demand(source: Source) -> None:
    source.run(f"CREATE TABLE d (id INTEGER, v {source.text}, n INTEGER)")
    source.run(
        "INSERT INTO d VALUES (1, 'same', 7), (2, 'same', 7), (3, 'other', 7), (4, NULL, 7), (5, '', 7)"
    )
    source.run("INSERT INTO d VALUES (6, 'same', 8), (7, 'None', 7)")
    sql = "SELECT v, n FROM d ORDER BY id"
    (page,) = _read(source, sql)
    assert isinstance(page, WirePage) and page.digests is not None
    assert len(page.digests) == len(page) == 7
    assert page.digests[0] == page.digests[1]  # equal rows, equal digests
    assert len(set(page.digests[1:])) == 6  # one value changed, NULL, empty text, the text "None": all apart
    assert page.take([2, 4]).rows == [("other", 7), ("", 7)]  # only the rows asked for are decoded
    assert page.rows == open_warehouse(source.provider, source.config).preview(sql, 20).rows


def test_digests_are_the_same_on_every_read_and_page_size(source: Source) -> None:
    source.run(f"CREATE TABLE d (id INTEGER, v {source.text})")
    source.run("INSERT INTO d VALUES " + ", ".join(f"({i}, 'v{i % 3}')" for i in range(25)))
    sql = "SELECT id, v FROM d ORDER BY id"
    whole = [d for page in _read(source, sql, 100) for d in page.digests]
    paged = [d for page in _read(source, sql, 7) for d in page.digests]
    assert whole == paged and len(set(whole)) == 25


# --- a full-mode feed: the engine uses the digests --------------------------------------------


def _feed(workspace: Any, source: Source) -> Feed:
    sql = "SELECT customer_id, email, plan FROM users"
    return feed_on_warehouse(
        workspace, source.provider, source.config, sql, sync_mode=SyncMode.FULL, iterator_type=""
    )


def _sync(feed: Feed) -> Any:
    run = service.request_run(feed, None)
    run_feed(run.pk)
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED, run.error
    return run


def _plans() -> list[Any]:
    return sorted(p.attribute_values().get("plan") for p in Profile.objects.all())


@pytest.mark.django_db
def test_a_full_re_sync_writes_nothing_unchanged_and_only_the_row_that_changed(
    workspace: Any, source: Source
) -> None:
    source.run(f"CREATE TABLE users (customer_id {source.text}, email {source.text}, plan {source.text})")
    values = ", ".join(f"('C{i}', 'u{i}@example.com', 'free')" for i in range(30))
    source.run(f"INSERT INTO users VALUES {values}")
    feed = _feed(workspace, source)

    first = _sync(feed)
    assert (first.rows_read, first.profiles_created) == (30, 30)
    again = _sync(feed)
    assert (again.rows_read, again.profiles_unchanged, again.profiles_updated, again.profiles_created) == (
        30,
        30,
        0,
        0,
    )
    source.run("UPDATE users SET plan = 'pro' WHERE customer_id = 'C7'")
    third = _sync(feed)
    assert (third.profiles_updated, third.profiles_unchanged, third.profiles_created) == (1, 29, 0)
    assert _plans() == sorted(["pro"] + ["free"] * 29)
