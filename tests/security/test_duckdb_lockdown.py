"""A data model reads only its DuckDB file: no server files, no URLs, no extensions, no settings.

Two layers, each tested on its own: the model check refuses the file and URL functions by name (with a
message naming the function), and DuckDB itself runs with external access off, so a view stored in the
warehouse file, which the check cannot see into, still cannot read a file. Every path a model takes is
covered: Run Query in the wizard, the API's data-model create, and a sync.
"""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import ClassVar

import duckdb
import pytest
from django.conf import settings as django_settings

from feeds.accounts.models import Role
from feeds.api.credentials import create_credential
from feeds.models import Connection, DataModel, Feed
from feeds.warehouses.base import WarehouseError
from feeds.warehouses.duckdb import DuckDBWarehouse
from feeds.warehouses.sqlcheck import check_select
from tests.api.conftest import ApiClient, token_for
from tests.personas import client_for
from tests.sync.conftest import make_feed, profile_count, run_now

HTMX = {"HTTP_HX_REQUEST": "true"}
# What an attacker reads: the process environment (SECRET_KEY in production), the key files, a URL.
SECRET_MARK = "wsync-secret-never-shown"


@pytest.fixture
def secret_file() -> Path:
    """A stand-in for data/.secret_key: a file the wsync process can read, holding a secret."""
    path = Path(django_settings.DATA_DIR) / ".secret_key_probe"
    path.write_text(SECRET_MARK)
    yield path
    path.unlink(missing_ok=True)


def attacks(secret_file: Path) -> list[str]:
    """Model bodies that would read outside the warehouse."""
    return [
        "SELECT content FROM read_text('/proc/self/environ')",
        f"SELECT content FROM read_text('{secret_file}')",
        f"SELECT content FROM read_blob('{secret_file}')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_parquet('https://example.com/data.parquet')",
        f"SELECT * FROM '{secret_file}'",
        f"SELECT * FROM query('SELECT content FROM read_text(''{secret_file}'')')",
    ]


@pytest.fixture
def warehouse(tmp_path, settings, secret_file) -> Path:
    """A DuckDB file whose author stored views over server files (the check cannot see into a view)."""
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path)]
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE users AS SELECT 'C1' AS customer_id, 'a@example.com' AS email")
        connection.execute(
            f"CREATE VIEW leak AS SELECT content AS customer_id FROM read_text('{secret_file}')"
        )
        connection.execute("CREATE VIEW environ AS SELECT content FROM read_text('/proc/self/environ')")
        connection.execute("CREATE VIEW files AS SELECT file FROM glob('/etc/*')")
        # A table macro binds its argument late: a model can hand it any path or URL.
        connection.execute("CREATE MACRO grab(location) AS TABLE SELECT * FROM read_csv_auto(location)")
    return path


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers any GET with a CSV and remembers that someone asked."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.asked.append(self.path)
        body = b"customer_id\nC9\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def web_server() -> str:
    """A real HTTP server on 127.0.0.1; returns its URL. Recorder.asked lists the requests it got."""
    Recorder.asked = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/users.csv"
    server.shutdown()
    thread.join(timeout=10)


@pytest.mark.parametrize("index", range(8))
def test_it_refuses_file_and_url_functions_by_name_in_the_model_check(secret_file, index):
    problem = check_select(attacks(secret_file)[index], "duckdb")
    assert problem is not None and "may only read the warehouse's own tables: remove" in str(problem)


@pytest.mark.parametrize(
    "source", ["leak", "environ", "files", "grab('/etc/passwd')", "grab('/proc/self/environ')"]
)
def test_it_refuses_a_stored_view_over_server_files_in_duckdb_itself(warehouse, source):
    provider = DuckDBWarehouse({"path": str(warehouse)})
    for attempt in (
        lambda: provider.preview(f"SELECT * FROM {source}", 10),
        lambda: provider.describe(f"SELECT * FROM {source}"),
        lambda: list(provider.read(f"SELECT * FROM {source}", None, 100)),
    ):
        with pytest.raises(WarehouseError) as raised:
            attempt()
        assert raised.value.field == "sql" and raised.value.permanent
        assert "may only read the tables in this DuckDB file" in raised.value.message
        assert SECRET_MARK not in raised.value.message


def test_it_never_fetches_a_url_a_stored_macro_is_handed(warehouse, web_server):
    provider = DuckDBWarehouse({"path": str(warehouse)})
    with pytest.raises(WarehouseError) as raised:
        provider.preview(f"SELECT * FROM grab('{web_server}')", 10)
    assert raised.value.field == "sql" and "may only read the tables" in raised.value.message
    assert Recorder.asked == []


def test_it_still_reads_the_warehouse_tables(warehouse):
    preview = DuckDBWarehouse({"path": str(warehouse)}).preview("SELECT * FROM users", 10)
    assert preview.rows == [("C1", "a@example.com")]


def test_it_keeps_the_zone_utc_and_the_settings_locked(warehouse):
    provider = DuckDBWarehouse({"path": str(warehouse)})
    setting = (
        "SELECT current_setting('enable_external_access') AS external, current_setting('TimeZone') AS tz"
    )
    assert provider.preview(setting, 1).rows == [(False, "UTC")]


def test_run_query_in_the_wizard_shows_the_refusal_and_no_file(workspace, editor, warehouse, secret_file):
    connection = Connection.objects.create(
        workspace=workspace, slug="duck", name="Duck", provider="duckdb", config={"path": str(warehouse)}
    )
    feed = Feed.objects.create(workspace=workspace, slug="f", name="F", connection=connection)
    client = client_for(editor)
    for sql in [*attacks(secret_file), "SELECT * FROM leak", "SELECT * FROM environ"]:
        html = client.post(f"/w/acme/feeds/{feed.pk}/setup/model/run/", {"sql": sql}, **HTMX).content.decode()
        assert "may only read" in html, sql
        assert SECRET_MARK not in html and "PATH=" not in html and "root:x:" not in html


def test_the_api_refuses_a_data_model_over_server_files(workspace, admin, warehouse, secret_file):
    issued = create_credential(workspace, name="editor script", role=Role.EDITOR, user=admin)
    api = ApiClient(token_for(issued.credential.client_id, issued.client_secret))
    body = {"id": "demo", "name": "Demo", "service_provider": "DuckDB", "config": {"path": str(warehouse)}}
    assert api.post("connections", body).status_code == 200
    for number, sql in enumerate([*attacks(secret_file), "SELECT * FROM leak"]):
        model = {
            "id": f"m{number}",
            "name": f"M{number}",
            "type": "sql",
            "sql_query": sql,
            "connection_id": "demo",
        }
        response = api.post("data-models", model)
        assert response.status_code == 400, sql
        text = json.dumps(response.json())
        assert "may only read" in text and SECRET_MARK not in text, sql
    assert not DataModel.objects.exists()


def test_a_sync_over_a_view_of_server_files_fails_and_stores_nothing(workspace, warehouse):
    feed = make_feed(workspace, warehouse, sync_mode="full", iterator="", iterator_type="")
    DataModel.objects.filter(pk=feed.data_model_id).update(sql="SELECT customer_id FROM leak", columns_sql="")
    run = run_now(feed)
    assert run.error_permanent and "may only read the tables in this DuckDB file" in run.error
    assert SECRET_MARK not in run.error
    assert profile_count(workspace) == 0
