"""fakesnow's server app, made to answer logins and large results the way Snowflake does.

fakesnow accepts any password and returns every result as one inline Arrow batch. Real
Snowflake refuses a wrong password or key with its failure JSON and serves large results
as remote chunks; the real connector has code paths for both, so this wrapper adds them:

- WSYNC_SF_PASSWORD: the only password accepted (else code 390100, as Snowflake answers);
- WSYNC_SF_PUBLIC_KEY: PEM public key that key-pair (JWT) logins must be signed with
  (else code 390144, as Snowflake answers);
- WSYNC_SF_CHUNK_ROWS: results larger than this are split into remote chunks that the
  connector downloads one by one from /wsync-chunks/{id};
- an account whose name starts with "nosuch" gets HTTP 403 at login, as Snowflake answers for
  an account it does not know; a warehouse, database or role named NO_SUCH_* is refused at
  login with Snowflake's codes (390201, 390189);
- `SYSTEM$WAIT(n)` waits n seconds as in Snowflake, and an abort-request (the connector's
  query timeout) stops the waiting query with Snowflake's 000604 "SQL execution canceled".

Run: python -m tests.standins.snowflake_server PORT
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import importlib
import io
import json
import os
import re
import sys
import uuid
from typing import Any

import jwt
import pyarrow as pa
import pyarrow.compute as pc
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

# `fakesnow.server` the attribute is a function; the module holds the app.
fakesnow_server = importlib.import_module("fakesnow.server")
_fakesnow_arrow = importlib.import_module("fakesnow.arrow")
_timestamp_struct = _fakesnow_arrow.timestamp_to_sf_struct
CHUNKS: dict[str, bytes] = {}
SERVED = {"chunks": 0}
WAITING: dict[str, asyncio.Event] = {}  # requestId -> set when the connector aborts the query
_WAIT = re.compile(r"SYSTEM\$WAIT\((\d+)\)", re.IGNORECASE)


def _timestamp_struct_with_nulls(ts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Snowflake sends a NULL timestamp as a null struct; fakesnow forgets the null mask."""
    struct = _timestamp_struct(ts)
    if not ts.null_count:
        return struct
    mask = pc.is_null(ts.combine_chunks() if isinstance(ts, pa.ChunkedArray) else ts)
    fields = [struct.type.field(i) for i in range(struct.type.num_fields)]
    return pa.StructArray.from_arrays(struct.flatten(), fields=fields, mask=mask)


_fakesnow_arrow.timestamp_to_sf_struct = _timestamp_struct_with_nulls  # type: ignore[attr-defined]


def _failure(code: str, message: str) -> JSONResponse:
    # Snowflake answers a refused login with HTTP 200 and success false.
    body = {"data": {"nextAction": None, "authnMethod": "PASSWORD"}, "code": code, "message": message}
    return JSONResponse({**body, "success": False, "headers": None})


def _login_refusal(data: dict[str, Any]) -> JSONResponse | None:
    if data.get("AUTHENTICATOR") == "SNOWFLAKE_JWT":
        try:
            jwt.decode(data.get("TOKEN", ""), os.environ["WSYNC_SF_PUBLIC_KEY"], algorithms=["RS256"])
        except jwt.PyJWTError:
            return _failure("390144", "JWT token is invalid.")
        return None
    if data.get("PASSWORD") != os.environ.get("WSYNC_SF_PASSWORD"):
        return _failure("390100", "Incorrect username or password was specified.")
    return None


def _missing_object(request: Request, data: dict[str, Any]) -> Response | None:
    if str(data.get("ACCOUNT_NAME", "")).lower().startswith("nosuch"):
        return Response(status_code=403)  # Snowflake's answer for an account it does not know
    params = request.query_params
    if str(params.get("roleName", "")).upper().startswith("NO_SUCH_"):
        message = (
            f"Role '{params['roleName']}' specified in the connect string does not exist or not authorized."
        )
        return _failure("390189", message)
    for kind, key in (("warehouse", "warehouse"), ("database", "databaseName")):
        if str(params.get(key, "")).upper().startswith("NO_SUCH_"):
            return _failure("390201", f"The requested {kind} does not exist or not authorized.")
    return None


async def login_request(request: Request) -> Response:
    body = await request.body()  # cached on the request, so fakesnow can read it again
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    data = json.loads(body)["data"]
    refusal = _missing_object(request, data) or _login_refusal(data)
    return refusal or await fakesnow_server.login_request(request)


async def _wait_or_abort(request: Request) -> Response | None:
    """Emulate SYSTEM$WAIT(n): wait, unless the connector aborts the query first."""
    body = await request.body()
    gzipped = request.headers.get("Content-Encoding") == "gzip"
    data = json.loads(gzip.decompress(body) if gzipped else body)
    match = _WAIT.search(data.get("sqlText", ""))
    if match is None:
        return None
    seconds = int(match.group(1))
    request_id = request.query_params.get("requestId", "")
    aborted = WAITING.setdefault(request_id, asyncio.Event())
    try:
        await asyncio.wait_for(aborted.wait(), timeout=seconds)
        failure = {"queryId": uuid.uuid4().hex, "sqlState": "57014"}
        return JSONResponse(
            {"success": False, "code": "000604", "message": "SQL execution canceled", "data": failure}
        )
    except TimeoutError:
        pass
    finally:
        WAITING.pop(request_id, None)
    data["sqlText"] = _WAIT.sub(f"'waited {seconds} seconds'", data["sqlText"])
    text = json.dumps(data).encode()
    request._body = gzip.compress(text) if gzipped else text  # what fakesnow reads next
    return None


async def abort_request(request: Request) -> Response:
    body = await request.body()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    event = WAITING.get(json.loads(body).get("requestId", ""))
    if event is not None:
        event.set()
    return JSONResponse({"success": True, "data": None, "code": None, "message": None})


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _rechunk(request: Request, data: dict[str, Any], chunk_rows: int) -> None:
    table = pa.ipc.open_stream(base64.b64decode(data["rowsetBase64"])).read_all()
    data["rowsetBase64"] = base64.b64encode(_ipc(table.slice(0, chunk_rows))).decode()
    chunks = []
    for start in range(chunk_rows, table.num_rows, chunk_rows):
        part = table.slice(start, chunk_rows)
        chunk_id = uuid.uuid4().hex
        CHUNKS[chunk_id] = _ipc(part)
        url = f"{request.url.scheme}://{request.url.netloc}/wsync-chunks/{chunk_id}"
        size = len(CHUNKS[chunk_id])
        chunks.append(
            {"url": url, "rowCount": part.num_rows, "uncompressedSize": size, "compressedSize": size}
        )
    data["chunks"] = chunks
    data["chunkHeaders"] = {"x-wsync-standin": "1"}


async def query_request(request: Request) -> Response:
    cancelled = await _wait_or_abort(request)
    if cancelled is not None:
        return cancelled
    response = await fakesnow_server.query_request(request)
    payload = json.loads(bytes(response.body))
    data = payload.get("data") or {}
    chunk_rows = int(os.environ.get("WSYNC_SF_CHUNK_ROWS", "10000"))
    if payload.get("success") and data.get("rowsetBase64") and data.get("total", 0) > chunk_rows:
        _rechunk(request, data, chunk_rows)
        return JSONResponse(payload)
    return response


async def chunk(request: Request) -> Response:
    # Each chunk is downloaded once, as from cloud storage; drop it after serving.
    body = CHUNKS.pop(request.path_params["chunk_id"], None)
    if body is None:
        return Response(status_code=404)
    SERVED["chunks"] += 1
    return Response(body, media_type="application/octet-stream")


async def served(request: Request) -> Response:
    """How many remote chunks were downloaded, so tests can prove reads went chunk by chunk."""
    return JSONResponse(SERVED)


app = Starlette(
    routes=[
        Route("/session/v1/login-request", login_request, methods=["POST"]),
        Route("/queries/v1/query-request", query_request, methods=["POST"]),
        Route("/queries/v1/abort-request", abort_request, methods=["POST"]),
        Route("/wsync-chunks/{chunk_id}", chunk, methods=["GET"]),
        Route("/wsync-served", served, methods=["GET"]),
        Mount("/", app=fakesnow_server.app),
    ]
)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
