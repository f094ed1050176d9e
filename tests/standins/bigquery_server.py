"""bqemulator, run offline, plus the OAuth token endpoint Google serves for service-account keys.

bqemulator's DuckDB extension loaders download from the internet, so they become no-ops (GEOGRAPHY
and Avro are then unsupported, which a read-only connector does not use). The token endpoint lets
google-auth do its real service-account flow offline: it verifies the RS256-signed JWT assertion
against the public keys in WSYNC_BQ_ACCOUNTS ({client_email: public PEM}) and answers like
oauth2.googleapis.com, including its `invalid_grant` refusal for a key Google does not know.

Run: python -m tests.standins.bigquery_server TOKEN_PORT start --rest-port P --grpc-port P2
"""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from bqemulator import cli
from bqemulator.storage.engine import DuckDBEngine


def _skip(self: DuckDBEngine) -> None:
    return None


DuckDBEngine._load_spatial = _skip  # type: ignore[method-assign]
DuckDBEngine._load_format_extensions = _skip  # type: ignore[method-assign]


# google-auth signs for Google's token endpoint whatever token_uri says, and Google checks it.
AUDIENCE = "https://oauth2.googleapis.com/token"


def _grant(assertion: str) -> tuple[int, dict[str, object]]:
    accounts: dict[str, str] = json.loads(os.environ.get("WSYNC_BQ_ACCOUNTS", "{}"))
    issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss", "")
    if issuer not in accounts:
        return 400, {"error": "invalid_grant", "error_description": "Invalid grant: account not found"}
    try:
        jwt.decode(assertion, accounts[issuer], algorithms=["RS256"], audience=AUDIENCE)
    except jwt.InvalidSignatureError:
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    except jwt.PyJWTError as exc:
        return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {exc}"}
    return 200, {"access_token": f"ya29.standin-{issuer}", "expires_in": 3599, "token_type": "Bearer"}


class TokenHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        status, body = _grant(form.get("assertion", [""])[0])
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return None


if __name__ == "__main__":
    token_server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv.pop(1))), TokenHandler)
    threading.Thread(target=token_server.serve_forever, daemon=True).start()
    cli.main()
