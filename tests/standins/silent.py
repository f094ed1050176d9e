"""A server that accepts connections and never answers: a warehouse behind a dead network path.

It counts the connections it accepted, so a test knows the provider really got as far as the network
(rather than failing earlier for another reason), and holds them open until the test ends.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class SilentServer:
    port: int
    accepted: int = 0
    _held: list[socket.socket] = field(default_factory=list)
    _first: threading.Event = field(default_factory=threading.Event)

    def was_reached(self) -> bool:
        """True once a client connected. The kernel completes a connection before the server accepts it, so a
        client that gave up fast may be accepted a moment later: wait for that (an event, not a sleep)."""
        return self._first.wait(timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def serve_silently() -> Iterator[SilentServer]:
    """Start a silent server on a free 127.0.0.1 port; stop it and drop its connections on exit."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = SilentServer(port=int(listener.getsockname()[1]))
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # the listener was closed: the test is over
            server._held.append(conn)  # read nothing, answer nothing
            server.accepted += 1
            server._first.set()

    thread = threading.Thread(target=accept, name="silent-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stopping.set()
        listener.close()
        for conn in server._held:
            with contextlib.suppress(OSError):
                conn.close()
        thread.join(timeout=5)
