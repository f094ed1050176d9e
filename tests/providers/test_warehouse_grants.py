"""What a data model can reach on the warehouse server: only what the "Prepare your warehouse" login may.

For PostgreSQL (and Redshift, whose steps are the same grants) the steps are run for real on the stand-in
cluster, then the login they create tries every server-side file, program and network function: the
server refuses each, even where wsync's own name check would not have caught it first. For every provider
the steps are checked for grants beyond reading (docs/warehouse-security.md lists what they must forbid).
"""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest

from feeds.warehouses.base import WarehouseError
from feeds.warehouses.postgres import PostgresWarehouse
from feeds.warehouses.redshift import RedshiftWarehouse
from feeds.warehouses.registry import PROVIDERS, provider_class

# What a read-only login must never get: file, program and remote-server access, stages, integrations,
# ownership, or the right to create objects.
TOO_MUCH = re.compile(
    r"pg_read_server_files|pg_write_server_files|pg_execute_server_program|superuser|createrole|"
    r"\bcreate\s+on\b|all\s+privileges|ownership|\bstage\b|integration|grant\s+insert|grant\s+update|"
    r"grant\s+delete|bigquery\.admin|bigquery\.dataEditor|storage\.|connectionUser|roles/owner",
    re.IGNORECASE,
)
EXAMPLE = {
    "user": "wsync_reader",
    "database": "crm",
    "schema": "marts",
    "role": "WSYNC_READER",
    "warehouse": "WSYNC_WH",
    "project_id": "my-project",
    "dataset_id": "crm",
    "provider": "share",
}


@pytest.mark.parametrize("kind", list(PROVIDERS))
def test_no_prepare_step_grants_more_than_reading(kind):
    steps = provider_class(kind).prepare_steps(EXAMPLE)
    for step in steps:
        assert not TOO_MUCH.search(step.code), (kind, step.code)


@pytest.fixture(params=[PostgresWarehouse, RedshiftWarehouse], ids=["postgres", "redshift"])
def prepared_login(request, pg_database):
    """Run the provider's prepare steps as the database owner; return (user, password) of the new login."""
    user, password = f"wsync_r_{uuid.uuid4().hex[:8]}", f"Pw{uuid.uuid4().hex}"
    steps = request.param.prepare_steps({"user": user, "database": pg_database.database, "schema": "public"})
    with pg_database.admin() as conn:
        conn.execute("CREATE TABLE users AS SELECT 1 AS id")
        conn.execute(f'ALTER TABLE users OWNER TO "{pg_database.user}"')
        for step in steps:
            if step.language != "sql":
                continue
            sql = step.code.replace("<a long random password>", password)
            if "ALTER DEFAULT PRIVILEGES" in sql:
                sql = f'SET ROLE "{pg_database.user}";\n{sql}\nRESET ROLE;'
            for statement in filter(None, (s.strip() for s in sql.split(";"))):
                conn.execute(statement)
    yield user, password
    with pg_database.admin() as conn:
        conn.execute(f'DROP OWNED BY "{user}"')
        conn.execute(f'DROP ROLE "{user}"')


REACH_OUTSIDE = [
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('postgresql.conf')",
    "SELECT * FROM pg_ls_dir('.')",
    "SELECT pg_stat_file('postgresql.conf')",
    "SELECT lo_import('/etc/passwd')",
    "COPY (SELECT 1) TO PROGRAM 'true'",
    "COPY users FROM '/etc/passwd'",
    "COPY users TO '/tmp/wsync-grant-probe'",
    "CREATE EXTENSION IF NOT EXISTS dblink",
    "CREATE TABLE mine (id int)",
]


def test_the_prepared_login_reads_tables_and_nothing_outside(pg_database, prepared_login):
    user, password = prepared_login
    connect = {"host": "127.0.0.1", "port": pg_database.cluster.port, "dbname": pg_database.database}
    with psycopg.connect(**connect, user=user, password=password, sslmode="require", autocommit=True) as conn:
        assert conn.execute("SELECT id FROM users").fetchall() == [(1,)]
        for sql in REACH_OUTSIDE:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)


def test_the_model_check_refuses_postgres_file_functions_before_the_server(pg_database):
    config = pg_database.config()
    for sql in (
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT * FROM pg_ls_dir('.')",
    ):
        with pytest.raises(WarehouseError) as raised:
            PostgresWarehouse(config).preview(sql, 1)
        assert (
            raised.value.field == "sql" and "may only read the warehouse's own tables" in raised.value.message
        )
