"""A fake PostgreSQL server that records what a client sends it: the attacker's host in the tests.

It answers "N" to SSLRequest and GSSENCRequest (no TLS), asks for the password in clear text, records
it, and refuses the login. A client that requires TLS hangs up after the "N" and sends nothing, so
`passwords` stays empty; one that settles for no TLS hands over its password.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104


@dataclass
class FakePostgres:
    port: int
    connections: int = 0  # TCP connections accepted
    passwords: list[str] = field(default_factory=list)  # passwords received in clear text
    lock: threading.Lock = field(default_factory=threading.Lock)


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client hung up")
        data += chunk
    return data


def _serve(fake: FakePostgres, sock: socket.socket) -> None:
    with fake.lock:
        fake.connections += 1
    while True:
        (length,) = struct.unpack("!I", _read(sock, 4))
        body = _read(sock, length - 4)
        if struct.unpack("!I", body[:4])[0] in (SSL_REQUEST, GSSENC_REQUEST):
            sock.sendall(b"N")
            continue
        break  # the StartupMessage
    sock.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
    kind, (length,) = _read(sock, 1), struct.unpack("!I", _read(sock, 4))
    payload = _read(sock, length - 4)
    if kind == b"p":
        with fake.lock:
            fake.passwords.append(payload.rstrip(b"\x00").decode())
    error = b"SFATAL\x00C28P01\x00Mpassword authentication failed\x00\x00"
    sock.sendall(b"E" + struct.pack("!I", len(error) + 4) + error)


@pytest.fixture
def fake_postgres() -> Iterator[FakePostgres]:
    """The fake server on a free 127.0.0.1 port, in a thread, for one test."""
    fake = FakePostgres(port=0)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with contextlib.suppress(ConnectionError, OSError, struct.error):
                _serve(fake, self.request)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
