"""Every provider's check, describe and preview answer within the preview timeout, in plain words.

Each provider's real client is pointed at a server that accepts the connection and never says a word
(tests/standins/silent.py): what a warehouse behind a dead network path looks like. A BigQuery connection
with no network once held a request 576 s and then said "unexpected error".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from feeds.warehouses.base import WarehouseError
from feeds.warehouses.registry import open_warehouse
from feeds.warehouses.sqlwarehouse import bounded, no_answer
from tests.standins.bigquery import ACCOUNT, service_account_key
from tests.standins.silent import SilentServer, serve_silently


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    with serve_silently() as server:
        yield server


def silent_config(kind: str, server: SilentServer) -> dict[str, Any]:
    """Return a connection config of `kind` whose every address is the silent server."""
    if kind in ("postgres", "redshift"):
        return {"host": "127.0.0.1", "port": server.port, "database": "crm", "user": "u", "password": "p"}
    if kind == "snowflake":
        return {
            "account_identifier": "xy12345",
            "user": "u",
            "password": "p",
            "warehouse": "WH",
            "database": "DB",
            "role": "R",
            "host": "127.0.0.1",
            "port": server.port,
            "protocol": "http",
        }
    if kind == "bigquery":
        key, _ = service_account_key(ACCOUNT, f"{server.url}/token")
        return {
            "project_id": "wsync-test",
            "dataset_id": "crm",
            "service_account_id": ACCOUNT,
            "service_account_key": key,
            "api_endpoint": server.url,
        }
    assert kind == "databricks"
    return {"provider": "share", "schema": "crm", "endpoint": f"{server.url}/sharing", "bearer_token": "t"}


NETWORKED = ["postgres", "redshift", "snowflake", "bigquery", "databricks"]
SQL = {"databricks": "users"}


@pytest.mark.parametrize("kind", NETWORKED)
def test_a_check_gives_up_in_plain_words(kind: str, silent_server: SilentServer, settings: Any) -> None:
    settings.WSYNC_PREVIEW_TIMEOUT = 1
    result = open_warehouse(kind, silent_config(kind, silent_server)).check()
    assert silent_server.was_reached()  # it reached the network and waited there
    assert (result.ok, result.permanent) == (False, False)
    assert "unexpected" not in result.message.lower() and "Traceback" not in result.message
    assert any(words in result.message for words in ("did not answer", "not answering", "reach")), (
        result.message
    )


@pytest.mark.parametrize("method", ["describe", "preview"])
@pytest.mark.parametrize("kind", NETWORKED)
def test_describe_and_preview_give_up_in_plain_words(
    kind: str, method: str, silent_server: SilentServer, settings: Any
) -> None:
    settings.WSYNC_PREVIEW_TIMEOUT = 1
    warehouse = open_warehouse(kind, silent_config(kind, silent_server))
    sql = SQL.get(kind, "SELECT 1 AS one")
    with pytest.raises(WarehouseError) as caught:
        getattr(warehouse, method)(sql, *([5] if method == "preview" else []))
    warehouse.close()
    assert silent_server.was_reached()
    assert caught.value.permanent is False
    assert "unexpected" not in caught.value.message.lower()


def test_the_bound_answers_while_the_work_is_still_stuck(settings: Any) -> None:
    # Work that outlives every driver timeout: the caller still gets the plain answer, the work is abandoned.
    import threading

    release = threading.Event()
    with pytest.raises(WarehouseError) as caught:
        bounded(release.wait, 0.01, lambda error: no_answer(0.01))
    release.set()
    assert caught.value.message == no_answer(0.01).message
    assert caught.value.permanent is False


def test_the_bound_hands_errors_back_in_plain_words() -> None:
    def fail() -> None:
        raise OSError("socket exploded")

    with pytest.raises(WarehouseError) as caught:
        bounded(fail, 5, lambda error: WarehouseError(f"mapped {type(error).__name__}", permanent=False))
    assert caught.value.message == "mapped OSError"
