"""A small Delta Sharing server for the tests: the open REST protocol over real Delta tables, stdlib only.

`python -m tests.standins.delta_sharing_server --root ROOT --token TOKEN` binds 127.0.0.1 on a free
port and prints that port on its first line. Shares, schemas and tables are the directories
ROOT/<share>/<schema>/<table>; table state comes from replaying the table's `_delta_log` JSON commits.

It answers what the delta-sharing 1.4 Python client asks in the parquet response format: the share,
schema and table listings, /version, /metadata and POST /query with the Delta-Table-Version header and
NDJSON lines. Data files are served by the same server under short-lived signed URLs (like the
pre-signed object-store URLs of a real server), with HEAD and byte ranges so readers can seek.
Every API request must carry the bearer token, or it gets a 401 with a JSON error body. Shares whose
name starts with "forbidden" answer 403, to exercise the client's permission-denied path.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

SIGNING_KEY = secrets.token_bytes(16)
URL_LIFETIME_S = 900
API = re.compile(r"^/shares(?:/([^/]+)(?:/schemas(?:/([^/]+)(?:/tables(?:/([^/]+)(?:/(\w+))?)?)?)?)?)?$")


class ProtocolError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def replay_log(table_dir: Path, version: int | None = None) -> dict[str, Any]:
    """Return {version, protocol, metaData, files} by applying the JSON commits in order."""
    state: dict[str, Any] = {"version": -1, "protocol": None, "metaData": None, "files": {}}
    for commit in sorted((table_dir / "_delta_log").glob("*.json")):
        number = int(commit.stem)
        if version is not None and number > version:
            break
        state["version"] = number
        for line in commit.read_text().splitlines():
            action = json.loads(line) if line.strip() else {}
            if "protocol" in action:
                state["protocol"] = action["protocol"]
            elif "metaData" in action:
                state["metaData"] = action["metaData"]
            elif "add" in action:
                state["files"][action["add"]["path"]] = action["add"]
            elif "remove" in action:
                state["files"].pop(action["remove"]["path"], None)
    if state["version"] < 0:
        raise ProtocolError(404, "RESOURCE_DOES_NOT_EXIST", f"Table version {version} does not exist.")
    return state


def sign(path: str, expires: int) -> str:
    return hmac.new(SIGNING_KEY, f"{path}:{expires}".encode(), hashlib.sha256).hexdigest()


class Handler(BaseHTTPRequestHandler):
    server: SharingServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return None  # quiet: pytest shows the server's stderr only when something breaks

    # --- dispatch -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path.removeprefix(self.server.prefix)
        try:
            if url.path.startswith("/files/"):
                self._serve_file(url.path, parse_qs(url.query), head=method == "HEAD")
                return
            self._authenticate()
            match = API.match(path) if url.path.startswith(self.server.prefix) else None
            if match is None:
                raise ProtocolError(404, "NOT_FOUND", f"No such endpoint: {url.path}")
            self._api(method, *(unquote(g) if g else None for g in match.groups()))
        except ProtocolError as error:
            self._send_json(error.status, {"errorCode": error.code, "message": error.message})

    def _authenticate(self) -> None:
        expected = f"Bearer {self.server.token}"
        if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
            raise ProtocolError(401, "UNAUTHENTICATED", "The bearer token is missing, wrong or expired.")

    def _api(
        self, method: str, share: str | None, schema: str | None, table: str | None, op: str | None
    ) -> None:
        path = urlsplit(self.path).path
        if share is None:
            # A recipient sees only the shares granted to it; "forbidden" ones exist but are not granted.
            shares = [p.name for p in self._children(self.server.root) if not p.name.startswith("forbidden")]
            self._send_json(200, {"items": [{"name": name, "id": name} for name in shares]})
            return
        share_dir = self._find(self.server.root, share, "share")
        if share.startswith("forbidden"):
            raise ProtocolError(403, "PERMISSION_DENIED", f"The recipient has no access to share {share}.")
        if schema is None and path.endswith("/schemas"):
            self._send_json(
                200, {"items": [{"name": p.name, "share": share} for p in self._children(share_dir)]}
            )
        elif schema is None:
            self._send_json(200, {"share": {"name": share, "id": share}})
        elif table is None and path.endswith("/tables"):
            schema_dir = self._find(share_dir, schema, "schema")
            items = [self._table_item(share, schema, p.name) for p in self._children(schema_dir)]
            self._send_json(200, {"items": items})
        elif table is None:
            raise ProtocolError(404, "NOT_FOUND", f"No such endpoint: {path}")
        else:
            table_dir = self._find(self._find(share_dir, schema, "schema"), table, "table")
            self._api_table(method, share, schema, table, table_dir, op)

    def _api_table(
        self, method: str, share: str, schema: str, table: str, table_dir: Path, op: str | None
    ) -> None:
        if op == "version" and method == "GET":
            state = replay_log(table_dir)
            self._send_lines(200, [], state["version"])
        elif op == "metadata" and method == "GET":
            state = replay_log(table_dir)
            self._send_lines(200, self._head_lines(state), state["version"])
        elif op == "query" and method == "POST":
            self._query(share, schema, table, table_dir)
        else:
            raise ProtocolError(404, "NOT_FOUND", f"No such endpoint: {method} {self.path}")

    # --- the query endpoint -------------------------------------------------------------

    def _query(self, share: str, schema: str, table: str, table_dir: Path) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        state = replay_log(table_dir, body.get("version"))
        lines = self._head_lines(state)
        remaining = body.get("limitHint")
        for add in state["files"].values():
            if remaining is not None and remaining <= 0:
                break  # like the reference server: enough files to cover the limit hint
            lines.append({"file": self._file_line(f"{share}/{schema}/{table}", add)})
            if remaining is not None:
                remaining -= json.loads(add.get("stats") or "{}").get("numRecords", 0)
        self._send_lines(200, lines, state["version"])

    def _head_lines(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        meta = state["metaData"]
        files = state["files"].values()
        return [
            {"protocol": {"minReaderVersion": 1}},
            {
                "metaData": {
                    "id": meta["id"],
                    "name": meta.get("name"),
                    "format": meta.get("format") or {"provider": "parquet"},
                    "schemaString": meta["schemaString"],
                    "partitionColumns": meta.get("partitionColumns", []),
                    "configuration": meta.get("configuration", {}),
                    "version": state["version"],
                    "size": sum(int(f["size"]) for f in files),
                    "numFiles": len(state["files"]),
                }
            },
        ]

    def _file_line(self, table_path: str, add: dict[str, Any]) -> dict[str, Any]:
        relative = f"{table_path}/{add['path']}"
        expires = int(time.time()) + URL_LIFETIME_S
        port = self.server.server_address[1]
        url = (
            f"http://127.0.0.1:{port}/files/{quote(relative)}?expires={expires}&sig={sign(relative, expires)}"
        )
        return {
            "url": url,
            "id": hashlib.md5(relative.encode()).hexdigest(),  # noqa: S324 - an id, not security
            "partitionValues": add.get("partitionValues", {}),
            "size": int(add["size"]),
            "stats": add.get("stats"),
            "expirationTimestamp": expires * 1000,
        }

    # --- data files ------------------------------------------------------------------------

    def _serve_file(self, url_path: str, query: dict[str, list[str]], *, head: bool) -> None:
        relative = unquote(url_path[len("/files/") :])
        expires = int((query.get("expires") or ["0"])[0])
        signature = (query.get("sig") or [""])[0]
        if expires < time.time() or not hmac.compare_digest(signature, sign(relative, expires)):
            raise ProtocolError(403, "ACCESS_DENIED", "The file URL has expired or its signature is wrong.")
        path = (self.server.root / relative).resolve()
        if not path.is_file() or not path.is_relative_to(self.server.root):
            raise ProtocolError(404, "NOT_FOUND", "No such file.")
        data = path.read_bytes()
        start, end = self._range(len(data))
        self.send_response(206 if (start, end) != (0, len(data) - 1) else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if self.headers.get("Range"):
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if not head:
            self.wfile.write(data[start : end + 1])

    def _range(self, size: int) -> tuple[int, int]:
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match is None:
            return 0, size - 1
        first, last = match.groups()
        if first == "":
            return max(size - int(last), 0), size - 1
        return int(first), min(int(last), size - 1) if last else size - 1

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _children(directory: Path) -> list[Path]:
        return sorted(p for p in directory.iterdir() if p.is_dir())

    @staticmethod
    def _find(parent: Path, name: str, what: str) -> Path:
        path = parent / name
        if "/" in name or name.startswith(".") or not path.is_dir():
            raise ProtocolError(404, "RESOURCE_DOES_NOT_EXIST", f"{what} '{name}' does not exist.")
        return path

    @staticmethod
    def _table_item(share: str, schema: str, name: str) -> dict[str, str]:
        return {
            "name": name,
            "schema": schema,
            "share": share,
            "shareId": share,
            "id": f"{share}.{schema}.{name}",
        }

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_lines(self, status: int, lines: list[dict[str, Any]], version: int) -> None:
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-ndjson; charset=utf-8")
        self.send_header("Delta-Table-Version", str(version))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SharingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, token: str, prefix: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.root = root.resolve()
        self.token = token
        self.prefix = prefix.rstrip("/")

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Readers drop connections they no longer need (e.g. after a ranged read); that is not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--prefix", default="", help="the endpoint's path, e.g. /api/2.0/delta-sharing")
    args = parser.parse_args(argv)
    server = SharingServer(args.root, args.token, args.prefix)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
