"""Snowflake stand-in: fakesnow's server (wrapped to enforce logins) as a subprocess.

`snowflake_standin` starts it once per session on a free 127.0.0.1 port; `snowflake_config`
gives each test its own database and a provider config pointing at the stand-in;
`snowflake_sql` runs setup statements there with the real connector.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"
PASSPHRASE = "open sesame"


@dataclass(frozen=True)
class SnowflakeStandin:
    port: int
    password: str
    private_key_pem: str  # encrypted with `passphrase`; its public key is the only one accepted
    passphrase: str
    pid: int = 0  # the stand-in's process (the bench reads its CPU time)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rsa_pems() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


def _wait_until_answering(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"The Snowflake stand-in exited with code {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # a 404 means the server answers
        except OSError:
            time.sleep(0.1)
    pytest.fail("The Snowflake stand-in did not answer within 30 s")


@contextlib.contextmanager
def running_standin() -> Iterator[SnowflakeStandin]:
    """The stand-in as a subprocess on a free 127.0.0.1 port, stopped on leaving (the tests and the bench)."""
    private_pem, public_pem = _rsa_pems()
    port = _free_port()
    env = {**os.environ, "WSYNC_SF_PASSWORD": PASSWORD, "WSYNC_SF_PUBLIC_KEY": public_pem}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.standins.snowflake_server", str(port)], cwd=ROOT, env=env
    )
    try:
        _wait_until_answering(port, process)
        yield SnowflakeStandin(port, PASSWORD, private_pem, PASSPHRASE, pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def snowflake_standin() -> Iterator[SnowflakeStandin]:
    with running_standin() as standin:
        yield standin


def standin_connect(standin: SnowflakeStandin, database: str) -> Any:
    import snowflake.connector

    return snowflake.connector.connect(
        account="wsync_test",
        user="wsync",
        password=standin.password,
        database=database,
        schema="PUBLIC",
        host="127.0.0.1",
        port=standin.port,
        protocol="http",
        session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        login_timeout=10,
        network_timeout=30,
    )


def database_config(standin: SnowflakeStandin) -> dict[str, Any]:
    """Create a database of its own on the stand-in; return a provider config for it."""
    database = f"WSYNC_{uuid.uuid4().hex[:10].upper()}"
    with standin_connect(standin, database) as conn:
        conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        conn.cursor().execute(f"CREATE SCHEMA IF NOT EXISTS {database}.PUBLIC")
    return {
        "environment": "prod",
        "account_identifier": "xy12345.eu-west-1.aws",
        "warehouse": "WSYNC_WH",
        "database": database,
        "region": "",
        "user": "wsync",
        "role": "WSYNC_READER",
        "password": standin.password,
        "private_key": "",
        "private_key_passphrase": "",
        "host": "127.0.0.1",
        "port": standin.port,
        "protocol": "http",
    }


@pytest.fixture
def snowflake_config(snowflake_standin: SnowflakeStandin) -> dict[str, Any]:
    return database_config(snowflake_standin)


@pytest.fixture
def snowflake_sql(
    snowflake_standin: SnowflakeStandin, snowflake_config: dict[str, Any]
) -> Iterator[Callable[..., Any]]:
    """Run setup SQL (with optional executemany rows) in the test's own database."""
    conn = standin_connect(snowflake_standin, snowflake_config["database"])

    def run(sql: str, rows: list[tuple[Any, ...]] | None = None) -> None:
        cursor = conn.cursor()
        cursor.executemany(sql, rows) if rows is not None else cursor.execute(sql)

    yield run
    conn.close()
