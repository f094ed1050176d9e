"""Redshift stand-in: the throwaway PostgreSQL cluster behind a small wire-protocol proxy.

redshift_connector 2.2 cannot talk to plain PostgreSQL (docs/providers.md, "What the stand-ins work
around"): it sends Redshift-only startup parameters that PostgreSQL refuses, and it parses
`server_version` strictly.
The proxy keeps only the startup keys PostgreSQL knows, answers "N" to SSLRequest, rewrites the
server_version ParameterStatus to Redshift's "8.0.2", then pipes bytes unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    # Imported lazily at run time so pytest can register (and assert-rewrite) the plugin itself.
    from tests.standins.postgres_fixtures import Cluster, PgDatabase

# Registers pg_cluster / pg_database (tests/conftest.py lists only this module).
pytest_plugins = ["tests.standins.postgres_fixtures"]

SSL_REQUEST = 80877103
POSTGRES_STARTUP_KEYS = {"user", "database", "application_name", "client_encoding", "options", "DateStyle"}
REDSHIFT_VERSION = b"8.0.2"


def _filter_startup(body: bytes) -> bytes:
    """Rebuild a StartupMessage body (after the length) without the Redshift-only keys."""
    protocol, rest = body[:4], body[4:].split(b"\x00")
    pairs = [(rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2) if rest[i]]
    kept = b"".join(k + b"\x00" + v + b"\x00" for k, v in pairs if k.decode() in POSTGRES_STARTUP_KEYS)
    payload = protocol + kept + b"\x00"
    return struct.pack("!I", len(payload) + 4) + payload


async def _client_startup(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """Read SSLRequest(s) and the StartupMessage; return the filtered startup packet."""
    while True:
        (length,) = struct.unpack("!I", await reader.readexactly(4))
        body = await reader.readexactly(length - 4)
        if struct.unpack("!I", body[:4])[0] == SSL_REQUEST:
            writer.write(b"N")
            await writer.drain()
            continue
        if struct.unpack("!I", body[:4])[0] >> 16 != 3:
            return struct.pack("!I", length) + body  # CancelRequest and friends pass through
        return _filter_startup(body)


async def _server_greeting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Relay server messages until the first ReadyForQuery, rewriting server_version."""
    while True:
        head = await reader.readexactly(5)
        body = await reader.readexactly(struct.unpack("!I", head[1:])[0] - 4)
        if head[:1] == b"S" and body.startswith(b"server_version\x00"):
            body = b"server_version\x00" + REDSHIFT_VERSION + b"\x00"
            head = b"S" + struct.pack("!I", len(body) + 4)
        writer.write(head + body)
        await writer.drain()
        if head[:1] in (b"Z", b"E"):
            return


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()


async def _handle(target_port: int, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
    s_writer = None
    try:
        startup = await _client_startup(c_reader, c_writer)
        s_reader, s_writer = await asyncio.open_connection("127.0.0.1", target_port)
        s_writer.write(startup)
        await s_writer.drain()
        greeting = asyncio.ensure_future(_server_greeting(s_reader, c_writer))
        # The client's password answer must reach the server while we read the greeting.
        upstream = asyncio.ensure_future(_pipe(c_reader, s_writer))
        await greeting
        await asyncio.gather(upstream, _pipe(s_reader, c_writer))
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        for w in (c_writer, s_writer):
            with contextlib.suppress(Exception):
                if w is not None:
                    w.close()


@dataclass
class RedshiftProxy:
    port: int
    loop: asyncio.AbstractEventLoop
    server: asyncio.base_events.Server
    thread: threading.Thread


def _start_proxy(target_port: int) -> RedshiftProxy:
    loop = asyncio.new_event_loop()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))

    async def serve() -> asyncio.base_events.Server:
        return await asyncio.start_server(lambda r, w: _handle(target_port, r, w), sock=sock)

    # The loop runs in its own thread from the start: this thread may already run one (Playwright's).
    thread = threading.Thread(target=loop.run_forever, name="redshift-proxy", daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(serve(), loop).result(timeout=10)
    return RedshiftProxy(sock.getsockname()[1], loop, server, thread)


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    pytest.fail("Redshift proxy did not listen within 10 s", pytrace=False)


@pytest.fixture(scope="session")
def redshift_proxy(pg_cluster: Cluster) -> Iterator[RedshiftProxy]:
    """The proxy on a free 127.0.0.1 port, in a thread of this process (stopped with the session)."""
    proxy = _start_proxy(pg_cluster.port)
    _wait_listening(proxy.port)
    yield proxy
    proxy.loop.call_soon_threadsafe(proxy.server.close)
    proxy.loop.call_soon_threadsafe(proxy.loop.stop)
    proxy.thread.join(timeout=10)


@dataclass(frozen=True)
class RedshiftDatabase:
    db: PgDatabase
    port: int

    def config(self, **overrides: object) -> dict[str, object]:
        """A provider config that logs in through the proxy with the md5 role."""
        base: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.port,
            "database": self.db.database,
            "user": self.db.user,
            "password": self.db.password,
            "auth_method": "password",
            # The proxy answers "N" to TLS: a local stand-in, so unencrypted connections are allowed.
            "allow_unencrypted": True,
        }
        return {**base, **overrides}


@pytest.fixture
def redshift_database(pg_cluster: Cluster, redshift_proxy: RedshiftProxy) -> Iterator[RedshiftDatabase]:
    """A database of its own for one test; its role stores an md5 password (no SCRAM in the client)."""
    from tests.standins.postgres_fixtures import drop_database, make_database

    db = make_database(pg_cluster, md5=True)
    yield RedshiftDatabase(db, redshift_proxy.port)
    drop_database(db)
