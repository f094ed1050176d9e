"""A local HTTP receiver for the HTTP output kinds: webhook, mParticle, Braze and Amplitude.

Each route checks its vendor's documented request shape, authentication and size limits (docs/outputs.md)
and answers 400/401/413 as the vendor would. Tests script faults with `receiver.answer(...)`: the next
requests get 429 with Retry-After, 5xx, 401, or no answer until the client gives up (a timeout).
Accepted requests are kept in `receiver.accepted` (route, idempotency key, parsed body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

SECRET = "whsec-standin"  # the webhook signing secret the receiver checks
MPARTICLE_KEY, MPARTICLE_SECRET = "mp-key", "mp-secret"
BRAZE_KEY = "braze-rest-key"
AMPLITUDE_KEY = "amp-api-key"
IDENTITY_KEYS = {
    "customer_id",
    "email",
    "other",
    "other_id_2",
    "other_id_3",
    "other_id_4",
    "other_id_5",
    "other_id_6",
    "other_id_7",
    "other_id_8",
    "other_id_9",
    "other_id_10",
    "mobile_number",
    "phone_number_2",
    "phone_number_3",
    "facebook",
    "twitter",
    "google",
    "microsoft",
    "yahoo",
    "facebook_custom_audience_id",
}  # mParticle's user_identities schema refuses any other key


@dataclass
class Accepted:
    route: str
    key: str  # Idempotency-Key (webhook), source_request_id list (mParticle), "" otherwise
    body: Any


@dataclass
class Receiver:
    url: str = ""
    accepted: list[Accepted] = field(default_factory=list)
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    script: deque = field(default_factory=deque)  # scripted answers for the next requests
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)
    requests: int = 0
    latency: float = 0.0  # seconds each answer takes (a destination that is not instant)
    # Keep each accepted body (tests read them), and parse and check the shape of every webhook body. The
    # benchmark's receiver keeps only the keys, and checks the signature and key of every request but the
    # shape of one in `shape_every` (parsing a 300 KB body costs more CPU than wsync spends sending it):
    # a receiver that is the bottleneck measures nothing about wsync.
    keep_bodies: bool = True
    shape_every: int = 1

    def answer(self, *answers: str) -> None:
        """Script the next answers: "429:<retry-after>", "429", "500", "503:<retry-after>", "401", "timeout"."""
        self.script.extend(answers)

    def idempotency_keys(self, route: str = "/webhook") -> list[str]:
        return [a.key for a in self.accepted if a.route == route]


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as production servers do: no 40 ms delayed-ACK stall per answer

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        route = urllib.parse.urlsplit(self.path).path
        with self.receiver.lock:
            self.receiver.requests += 1
            scripted = self.receiver.script.popleft() if self.receiver.script else None
        if scripted is not None and self._scripted(scripted):
            return
        if self.receiver.latency:
            time.sleep(self.receiver.latency)
        check = {
            "/webhook": self._webhook,
            "/v2/bulkevents": self._mparticle,
            "/users/track": self._braze,
            "/identify": self._identify,
            "/2/httpapi": self._amplitude,
        }.get(route)
        if check is None:
            return self._reply(404, {"error": "no such route"})
        status, answer, accepted = check(raw)
        if 200 <= status < 300:
            with self.receiver.lock:
                self.receiver.accepted.append(accepted)
        else:
            self.receiver.refused.append((route, status, json.dumps(answer)))
        self._reply(status, answer)

    def _scripted(self, scripted: str) -> bool:
        code, _, after = scripted.partition(":")
        if code == "timeout":
            self.receiver.release.wait(10)
            self.close_connection = True
            return True
        headers = {"Retry-After": after} if after else {}
        self._reply(int(code), {"error": f"scripted {code}"}, headers)
        return True

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # Each check returns (status, answer, what to record).
    def _webhook(self, raw: bytes) -> tuple[int, Any, Any]:
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(self.headers.get("X-Wsync-Signature", ""), expected):
            return 401, {"error": "bad signature"}, None
        key = self.headers.get("Idempotency-Key", "")
        if not key:
            return 400, {"error": "Idempotency-Key header missing"}, None
        with self.receiver.lock:
            checked = self.receiver.requests % self.receiver.shape_every == 0
        if not checked:
            return 200, {"ok": True}, Accepted("/webhook", key, None)
        batches = orjson.loads(raw)
        problem = _batch_problem(batches)
        if problem:
            return 400, {"error": problem}, None
        return 200, {"ok": True}, Accepted("/webhook", key, batches if self.receiver.keep_bodies else None)

    def _mparticle(self, raw: bytes) -> tuple[int, Any, Any]:
        auth = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{MPARTICLE_KEY}:{MPARTICLE_SECRET}".encode()).decode()
        if auth != expected:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "Invalid API key or secret"}]}, None
        if len(raw) > 256 * 1024:
            return 413, {"errors": [{"message": "Request larger than 256 KB"}]}, None
        batches = json.loads(raw)
        if not isinstance(batches, list) or len(batches) > 100:
            return 400, {"errors": [{"message": "A bulk request takes at most 100 batches"}]}, None
        problem = _batch_problem(batches) or next(
            (
                f"batch {i} has no source_request_id"
                for i, b in enumerate(batches)
                if not b.get("source_request_id")
            ),
            None,
        )
        if problem:
            return 400, {"errors": [{"message": problem}]}, None
        keys = ",".join(b["source_request_id"] for b in batches)
        return 202, {}, Accepted("/v2/bulkevents", keys, batches)

    def _braze(self, raw: bytes) -> tuple[int, Any, Any]:
        if self.headers.get("Authorization") != f"Bearer {BRAZE_KEY}":
            return 401, {"message": "Invalid API key"}, None
        body = json.loads(raw)
        for part in ("attributes", "events", "purchases"):
            if len(body.get(part) or []) > 75:
                return 400, {"message": f"Too many {part}: at most 75 per request"}, None
        for item in [*(body.get("attributes") or []), *(body.get("events") or [])]:
            if not (item.get("external_id") or item.get("email") or item.get("braze_id")):
                return 400, {"message": "Each object needs an external_id, braze_id or email"}, None
        for event in body.get("events") or []:
            if not event.get("name") or not event.get("time"):
                return 400, {"message": "An event needs a name and a time"}, None
        return 201, {"message": "success"}, Accepted("/users/track", "", body)

    def _identify(self, raw: bytes) -> tuple[int, Any, Any]:
        form = urllib.parse.parse_qs(raw.decode())
        if form.get("api_key") != [AMPLITUDE_KEY]:
            return 401, {"error": "Invalid API key"}, None
        found = json.loads(form.get("identification", ["[]"])[0])
        if not found or any(not (i.get("user_id") or i.get("device_id")) for i in found):
            return 400, {"error": "Each identification needs a user_id or device_id"}, None
        return 200, {"code": 200}, Accepted("/identify", "", found)

    def _amplitude(self, raw: bytes) -> tuple[int, Any, Any]:
        if len(raw) > 1_000_000:
            return 413, {"code": 413, "error": "Payload too large"}, None
        body = json.loads(raw)
        if body.get("api_key") != AMPLITUDE_KEY:
            return 401, {"code": 401, "error": "Invalid API key"}, None
        found = body.get("events") or []
        if len(found) > 2000:
            return 413, {"code": 413, "error": "Too many events in the request"}, None
        minimum = int((body.get("options") or {}).get("min_id_length") or 5)
        for event in found:
            uid = str(event.get("user_id") or event.get("device_id") or "")
            if len(uid) < minimum or not event.get("event_type"):
                return (
                    400,
                    {"code": 400, "error": "Event missing a valid user_id / device_id or event_type"},
                    None,
                )
        keys = ",".join(str(e.get("insert_id") or "") for e in found)
        return 200, {"code": 200, "events_ingested": len(found)}, Accepted("/2/httpapi", keys, body)


def _batch_problem(batches: Any) -> str | None:
    """Return what is wrong with a list of mParticle batches (the interchange shape), or None."""
    if not isinstance(batches, list):
        return "the body must be a JSON array of batches"
    for i, batch in enumerate(batches):
        if batch.get("environment") not in ("production", "development"):
            return f"batch {i}: environment must be production or development"
        unknown = set(batch.get("user_identities") or {}) - IDENTITY_KEYS
        if unknown:
            return f"batch {i}: unknown user identities {sorted(unknown)}"
        for event in batch.get("events") or []:
            if not event.get("event_type") or not isinstance(event.get("data"), dict):
                return f"batch {i}: each event needs event_type and data"
    return None


def start_receiver(
    port: int = 0, *, keep_bodies: bool = True, shape_every: int = 1
) -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver(keep_bodies=keep_bodies, shape_every=shape_every)
    handler = type("Handler", (_Handler,), {"receiver": receiver})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found, server = start_receiver()
    yield found
    found.release.set()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":  # the benchmark runs the receiver in a process of its own
    import sys

    found, _ = start_receiver(int(sys.argv[1]), keep_bodies=False, shape_every=int(sys.argv[2]))
    print(found.url, flush=True)
    threading.Event().wait()
