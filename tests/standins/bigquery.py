"""BigQuery stand-in: bqemulator (offline) with a local OAuth token endpoint, as a subprocess.

`bigquery_standin` starts it once per session on free 127.0.0.1 ports and registers one service
account; `bigquery_config` gives each test its own dataset and a provider config whose key's
token_uri points at the stand-in, so google-auth signs and exchanges a real JWT;
`bigquery_client` is a real client (anonymous) for setting up tables.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "wsync-test"
ACCOUNT = f"wsync-reader@{PROJECT}.iam.gserviceaccount.com"


@dataclass(frozen=True)
class BigQueryStandin:
    port: int
    token_uri: str
    key_text: str  # the service account's JSON key file, registered with the token endpoint
    pid: int = 0  # the stand-in's process (the bench reads its CPU time)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_account_key(client_email: str, token_uri: str) -> tuple[str, str]:
    """Return (JSON key file text, public PEM) for a fresh RSA key, shaped like Google's key files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    info = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": uuid.uuid4().hex,
        "private_key": private.decode(),
        "client_email": client_email,
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }
    return json.dumps(info, indent=2), public.decode()


def _wait_until_answering(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"The BigQuery stand-in exited with code {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # a 404 means the server answers
        except OSError:
            time.sleep(0.1)
    pytest.fail("The BigQuery stand-in did not answer within 30 s")


@contextlib.contextmanager
def running_standin() -> Iterator[BigQueryStandin]:
    """The stand-in as a subprocess on free 127.0.0.1 ports, stopped on leaving (the tests and the bench)."""
    port, grpc_port, token_port = _free_port(), _free_port(), _free_port()
    token_uri = f"http://127.0.0.1:{token_port}/token"
    key_text, public_pem = service_account_key(ACCOUNT, token_uri)
    env = {**os.environ, "WSYNC_BQ_ACCOUNTS": json.dumps({ACCOUNT: public_pem})}
    command = [sys.executable, "-m", "tests.standins.bigquery_server", str(token_port), "start"]
    command += ["--rest-port", str(port), "--grpc-port", str(grpc_port), "--log-level", "WARNING"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        _wait_until_answering(f"http://127.0.0.1:{port}/", process)
        _wait_until_answering(f"http://127.0.0.1:{token_port}/", process)
        yield BigQueryStandin(port, token_uri, key_text, pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def bigquery_standin() -> Iterator[BigQueryStandin]:
    with running_standin() as standin:
        yield standin


def admin_client(standin: BigQueryStandin) -> Any:
    """A real client (anonymous) for setting up datasets and tables."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    options = ClientOptions(api_endpoint=standin.endpoint)
    return bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(), client_options=options)


def dataset_config(standin: BigQueryStandin, admin: Any) -> dict[str, Any]:
    """Create a dataset of its own on the stand-in; return a provider config for it."""
    dataset = f"wsync_{uuid.uuid4().hex[:10]}"
    admin.create_dataset(dataset)
    return {
        "project_id": PROJECT,
        "dataset_id": dataset,
        "region": "US",
        "service_account_id": ACCOUNT,
        "service_account_key": standin.key_text,
        "api_endpoint": standin.endpoint,
    }


@pytest.fixture(scope="session")
def bigquery_admin(bigquery_standin: BigQueryStandin) -> Any:
    return admin_client(bigquery_standin)


@pytest.fixture
def bigquery_config(bigquery_standin: BigQueryStandin, bigquery_admin: Any) -> dict[str, Any]:
    return dataset_config(bigquery_standin, bigquery_admin)


@pytest.fixture
def bigquery_sql(bigquery_admin: Any, bigquery_config: dict[str, Any]) -> Any:
    """Run setup SQL in the test's own dataset (as the default dataset)."""
    from google.cloud import bigquery

    def run(sql: str) -> None:
        dataset = f"{PROJECT}.{bigquery_config['dataset_id']}"
        bigquery_admin.query(sql, job_config=bigquery.QueryJobConfig(default_dataset=dataset)).result()

    return run
