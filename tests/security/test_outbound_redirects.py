"""HTTP providers re-check every redirect: a public endpoint cannot bounce wsync to a private address.

Two real HTTP servers: the "endpoint" on 127.0.0.1 (allowed by WSYNC_ALLOW_PRIVATE_HOSTS as a one-network
list, standing for a public host) answers with a redirect to the "inside" server on 127.0.0.2 (loopback,
not allowed), which records every request it gets. Linux answers on all of 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

import pytest
import requests

from feeds.connect.checks import private_hosts
from feeds.warehouses.base import WarehouseError
from feeds.warehouses.outbound import guard_host, guarded_client_session, mount_guard


class Inside(http.server.BaseHTTPRequestHandler):
    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.asked.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"secret")

    do_POST = do_GET  # noqa: N815 - the stdlib's name; a followed 307 keeps the POST (and its body)

    def log_message(self, *args: object) -> None:
        return None


def serve(address: str, handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer((address, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{address}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def inside() -> Iterator[str]:
    Inside.asked = []
    yield from serve("127.0.0.2", Inside)


@pytest.fixture
def endpoint(inside: str) -> Iterator[str]:
    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            target = inside + "/latest/meta-data/" if self.path == "/literal" else self.path
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    yield from serve("127.0.0.1", Redirect)


@pytest.fixture
def only_the_endpoint(settings):
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]


def test_a_listed_network_is_allowed_and_its_neighbours_are_not(only_the_endpoint):
    assert guard_host("127.0.0.1") == "127.0.0.1"
    with pytest.raises(WarehouseError):
        guard_host("127.0.0.2")


def test_a_requests_session_refuses_a_redirect_to_a_private_address(only_the_endpoint, endpoint):
    session = mount_guard(requests.Session(), "endpoint", (5, 5))
    with pytest.raises(WarehouseError) as raised:
        session.get(endpoint + "/literal")
    assert raised.value.field == "endpoint" and "127.0.0.2" in raised.value.message
    assert Inside.asked == []


def test_an_aiohttp_session_refuses_a_redirect_to_a_private_address(only_the_endpoint, endpoint):
    async def fetch() -> None:
        async with guarded_client_session("endpoint") as session, session.get(endpoint + "/literal") as reply:
            await reply.read()

    with pytest.raises(WarehouseError) as raised:
        run_apart(fetch())
    assert raised.value.field == "endpoint" and "127.0.0.2" in raised.value.message
    assert Inside.asked == []


def name_for_inside(monkeypatch) -> None:
    """Make "inside.example" resolve to 127.0.0.2 in this process (the one seam faked: name resolution)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "inside.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


T = TypeVar("T")


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a loop of its own thread: a browser test earlier in the session may have left
    Playwright's event loop running on this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def fetch(url: str) -> bytes:
    async def run() -> bytes:
        async with guarded_client_session("endpoint") as session, session.get(url) as reply:
            return await reply.read()

    return run_apart(run())


def test_an_aiohttp_session_checks_the_address_a_name_resolves_to(only_the_endpoint, inside, monkeypatch):
    name_for_inside(monkeypatch)
    url = "http://inside.example:" + inside.rsplit(":", 1)[1] + "/"
    with pytest.raises(WarehouseError, match=r"127\.0\.0\.2"):
        fetch(url)
    assert Inside.asked == []


def test_an_aiohttp_session_connects_to_the_address_it_checked(settings, inside, monkeypatch):
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = ["127.0.0.2/32"]
    name_for_inside(monkeypatch)
    assert fetch("http://inside.example:" + inside.rsplit(":", 1)[1] + "/") == b"secret"
    assert Inside.asked == ["/"]


def test_the_guarded_sessions_follow_allowed_redirects(settings, endpoint, inside):
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = ["127.0.0.0/8"]
    session = mount_guard(requests.Session(), "endpoint", (5, 5))
    assert session.get(endpoint + "/literal").content == b"secret"
    assert Inside.asked == ["/latest/meta-data/"]


def test_a_malformed_network_fails_the_system_check(settings):
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = ["10.0.0.0/8", "the office"]
    (error,) = private_hosts()
    assert error.id == "wsync.E102" and "the office" in error.msg


@pytest.fixture
def bouncing_endpoint(inside: str) -> Iterator[str]:
    """An API endpoint that answers every request with a redirect to the inside server."""

    class Bounce(http.server.BaseHTTPRequestHandler):
        def bounce(self) -> None:
            self.send_response(307)
            self.send_header("Location", inside + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = bounce  # noqa: N815 - the stdlib's names

        def log_message(self, *args: object) -> None:
            return None

    yield from serve("127.0.0.1", Bounce)


def test_bigquery_never_follows_its_endpoint_to_a_private_address(
    only_the_endpoint, bigquery_config, bouncing_endpoint
):
    from feeds.warehouses.bigquery import BigQueryWarehouse

    result = BigQueryWarehouse({**bigquery_config, "api_endpoint": bouncing_endpoint}).check()
    assert not result.ok
    assert Inside.asked == []


def test_delta_sharing_never_follows_its_endpoint_to_a_private_address(
    only_the_endpoint, delta_sharing, bouncing_endpoint
):
    from feeds.warehouses.databricks import DatabricksWarehouse

    config = delta_sharing.config(
        profile_file="", endpoint=bouncing_endpoint, bearer_token=delta_sharing.token
    )
    result = DatabricksWarehouse(config).check()
    assert not result.ok and result.field is not None
    assert Inside.asked == []


def test_snowflake_never_follows_its_sign_in_to_a_private_address(
    only_the_endpoint, snowflake_config, bouncing_endpoint
):
    from feeds.warehouses.snowflake import SnowflakeWarehouse

    port = int(bouncing_endpoint.rsplit(":", 1)[1])
    config = {**snowflake_config, "host": "127.0.0.1", "port": port, "protocol": "http"}
    result = SnowflakeWarehouse(config).check()
    assert not result.ok
    assert Inside.asked == []  # the sign-in POST, with the password, never reached the inside server
