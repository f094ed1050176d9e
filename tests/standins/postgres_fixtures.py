"""A throwaway PostgreSQL cluster for the PostgreSQL and Redshift provider tests.

The machine's PostgreSQL trusts every local TCP login, so a wrong password would still get in.
This cluster lives in a temp folder on a free port and asks for a password on 127.0.0.1
(md5 rule: roles stored as SCRAM log in with SCRAM, roles stored as md5 with md5).
It starts once per session and is stopped by PID. It speaks TLS (a certificate for 127.0.0.1 and
localhost, signed by a throwaway CA made here), so the providers are tested with TLS required, as they
run by default; `Cluster.ca_pem` is that CA for verify-full.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

# Two login names get rules of their own, so the providers' error tables are tested against the server's real
# words: GHOST is never created and logs in with trust (as on a server that trusts local logins, PostgreSQL
# then says the role does not exist instead of asking for a password), REFUSED meets a "reject" rule.
GHOST, REFUSED = "wsync_ghost", "wsync_refused"
HBA = (
    "local all all trust\n"
    f"host all {GHOST} 127.0.0.1/32 trust\n"
    f"host all {REFUSED} 127.0.0.1/32 reject\n"
    "host all all 127.0.0.1/32 md5\n"
)


@dataclass(frozen=True)
class Cluster:
    port: int
    socket_dir: str
    ca_pem: str = ""  # the CA that signed the server's certificate

    def admin(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """Superuser over the Unix socket (trust), autocommit so CREATE DATABASE works."""
        return psycopg.connect(
            host=self.socket_dir, port=self.port, user="postgres", dbname=dbname, autocommit=True
        )


@dataclass(frozen=True)
class PgDatabase:
    """One test's database and login role (connect to host 127.0.0.1 with the password)."""

    cluster: Cluster
    database: str
    user: str
    password: str

    def admin(self) -> psycopg.Connection[Any]:
        return self.cluster.admin(self.database)

    def config(self, **overrides: Any) -> dict[str, Any]:
        """Return a PostgreSQL connection's config for this database and role (TLS as the provider defaults)."""
        base = {
            "host": "127.0.0.1",
            "port": self.cluster.port,
            "database": self.database,
            "user": self.user,
            "password": self.password,
        }
        return {**base, **overrides}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin_dir() -> Path:
    """Find the server binaries: PATH first (initdb may be a symlink), then Debian's folders."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        pytest.fail("PostgreSQL server binaries (initdb) not found: install postgresql", pytrace=False)
    return Path(candidates[-1]).parent


def _run_as() -> dict[str, Any]:
    """PostgreSQL refuses to run as root; drop to the postgres user when we are root."""
    if os.geteuid() == 0:
        return {"user": "postgres", "group": "postgres"}
    return {}


def _init(base: Path) -> Path:
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    cmd = [str(_bin_dir() / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"]
    cmd += ["--auth-local=trust", "--auth-host=md5", "--no-sync"]
    done = subprocess.run(cmd, capture_output=True, text=True, **_run_as())
    if done.returncode != 0:
        pytest.fail(f"initdb failed: {done.stderr[-2000:]}", pytrace=False)
    (data / "pg_hba.conf").write_text(HBA)
    return data


def make_certificates(folder: Path, names: tuple[str, ...] = ("localhost",)) -> tuple[str, Path, Path]:
    """Write a server certificate for 127.0.0.1 and `names`, signed by a new CA; return (CA PEM, cert, key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wsync test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    alt = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), *(x509.DNSName(n) for n in names)]
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    if os.geteuid() == 0:
        for path in (cert_path, key_path):
            shutil.chown(path, "postgres", "postgres")
    return ca.public_bytes(serialization.Encoding.PEM).decode(), cert_path, key_path


def _start(base: Path, data: Path, port: int) -> subprocess.Popen[bytes]:
    _, cert, key = _certificates(base)
    settings = {
        "ssl": "on",
        "ssl_cert_file": str(cert),
        "ssl_key_file": str(key),
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(base),
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "50",
    }
    cmd = [str(_bin_dir() / "postgres"), "-D", str(data), "-p", str(port)]
    for key, value in settings.items():
        cmd += ["-c", f"{key}={value}"]
    log = open(base / "server.log", "wb")  # noqa: SIM115 - the server writes to it until the session ends
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **_run_as())


def _wait_ready(cluster: Cluster, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"PostgreSQL stand-in exited: {log.read_text()[-2000:]}", pytrace=False)
        with contextlib.suppress(psycopg.OperationalError), cluster.admin() as conn:
            conn.execute("SELECT 1")
            return
        time.sleep(0.1)
    pytest.fail("PostgreSQL stand-in did not answer within 30 s", pytrace=False)


_CERTIFICATES: dict[Path, tuple[str, Path, Path]] = {}


def _certificates(base: Path) -> tuple[str, Path, Path]:
    if base not in _CERTIFICATES:
        _CERTIFICATES[base] = make_certificates(base)
    return _CERTIFICATES[base]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="wsync-pg-"))
    data = _init(base)
    port = free_port()
    proc = _start(base, data, port)
    cluster = Cluster(port=port, socket_dir=str(base), ca_pem=_certificates(base)[0])
    try:
        _wait_ready(cluster, proc, base / "server.log")
        yield cluster
    finally:
        # SIGINT is PostgreSQL's "fast shutdown": disconnect clients and stop cleanly.
        os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(base, ignore_errors=True)


def make_database(cluster: Cluster, *, md5: bool) -> PgDatabase:
    """Create a fresh database and a LOGIN role owning it, with a random password."""
    suffix = uuid.uuid4().hex[:10]
    db = PgDatabase(cluster, f"wsync_t_{suffix}", f"wsync_u_{suffix}", f"pw-{uuid.uuid4().hex}")
    with cluster.admin() as conn:
        # redshift_connector cannot do SCRAM, so its role stores an md5 hash.
        conn.execute(f"SET password_encryption = '{'md5' if md5 else 'scram-sha-256'}'")
        conn.execute(f"CREATE ROLE {db.user} LOGIN PASSWORD '{db.password}'")
        conn.execute(f"CREATE DATABASE {db.database} OWNER {db.user}")
    return db


def drop_database(db: PgDatabase) -> None:
    with db.cluster.admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db.database} WITH (FORCE)")
        conn.execute(f"DROP ROLE IF EXISTS {db.user}")


@pytest.fixture
def pg_database(pg_cluster: Cluster) -> Iterator[PgDatabase]:
    """A database of its own for one test, with a SCRAM password role that owns it."""
    db = make_database(pg_cluster, md5=False)
    yield db
    drop_database(db)
