"""Connect: the directory, the provider's form, Test connection inline, unique names, reuse, secrets."""

from __future__ import annotations

import pytest

from feeds.models import Connection, Feed, FeedState
from tests.personas import client_for
from tests.wizard.conftest import USERS_SQL as USERS

HTMX = {"HTTP_HX_REQUEST": "true"}


def _form(demo_file, **extra):
    data = {
        "feed_name": "CRM users",
        "connection": "new",
        "name": "Demo warehouse",
        "cfg_path": str(demo_file),
    }
    return {**data, **extra}


def test_it_lists_every_provider_in_the_directory(workspace, viewer):
    response = client_for(viewer).get("/w/acme/directory/")
    assert response.status_code == 200
    for label in ("Snowflake", "Google BigQuery", "Amazon Redshift", "Databricks", "PostgreSQL", "DuckDB"):
        assert label in response.content.decode()


def test_it_filters_the_directory_with_the_search_box_as_a_fragment(workspace, editor):
    response = client_for(editor).get("/w/acme/directory/?q=duck", **HTMX)
    html = response.content.decode()
    assert 'id="providers"' in html and "DuckDB" in html
    assert "Snowflake" not in html and "<html" not in html


def test_it_shows_the_duckdb_form_with_the_prepare_panel(workspace, editor):
    response = client_for(editor).get("/w/acme/feeds/new/duckdb/")
    html = response.content.decode()
    assert "Database file" in html and "Prepare your warehouse" in html and "chmod a+r" in html
    assert "Test connection" in html
    assert Feed.objects.count() == 0  # looking at the form creates nothing


def test_it_answers_test_connection_inline_with_success(workspace, editor, demo_file):
    response = client_for(editor).post("/w/acme/feeds/new/duckdb/test/", _form(demo_file), **HTMX)
    html = response.content.decode()
    assert 'id="test-result"' in html and "Connected to demo.duckdb" in html and "alert-success" in html


def test_it_answers_test_connection_with_the_warehouse_message_for_a_missing_file(
    workspace, editor, demo_file
):
    data = _form(demo_file, cfg_path=str(demo_file.parent / "nope.duckdb"))
    html = client_for(editor).post("/w/acme/feeds/new/duckdb/test/", data, **HTMX).content.decode()
    assert "does not exist" in html and "alert-danger" in html


def test_it_shows_field_validation_before_testing(workspace, editor, demo_file):
    data = _form(demo_file, cfg_path="relative.duckdb")
    html = client_for(editor).post("/w/acme/feeds/new/duckdb/test/", data, **HTMX).content.decode()
    assert "Give the full path" in html


@pytest.mark.parametrize(
    ("typed", "message", "not_also"),
    [
        ({"cfg_host": "https://db.example.com/crm"}, "Host must be a bare host name", "Host is required"),
        ({"cfg_port": "five"}, "Enter a whole number", "Port is required"),
    ],
)
def test_it_says_once_what_is_wrong_with_a_setting_typed_wrong(workspace, editor, typed, message, not_also):
    data = {
        "feed_name": "CRM users",
        "connection": "new",
        "name": "CRM",
        "cfg_host": "db.example.com",
        "cfg_port": "5432",
        "cfg_database": "crm",
        "cfg_user": "wsync_reader",
        "cfg_password": "pw",
        **typed,
    }
    html = client_for(editor).post("/w/acme/feeds/new/postgres/test/", data, **HTMX).content.decode()
    assert message in html and not_also not in html


def test_it_creates_a_draft_feed_and_connection_on_next(workspace, editor, demo_file):
    response = client_for(editor).post("/w/acme/feeds/new/duckdb/", _form(demo_file))
    feed = Feed.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/w/acme/feeds/{feed.pk}/setup/model/"
    assert feed.state == FeedState.DRAFT and feed.name == "CRM users"
    assert feed.connection.config == {"path": str(demo_file)} and feed.connection.name == "Demo warehouse"


def test_it_does_not_go_on_when_the_connection_fails(workspace, editor, demo_file):
    data = _form(demo_file, cfg_path=str(demo_file.parent / "nope.duckdb"))
    response = client_for(editor).post("/w/acme/feeds/new/duckdb/", data)
    assert response.status_code == 200 and "does not exist" in response.content.decode()
    assert Feed.objects.count() == 0 and Connection.objects.count() == 0


def test_it_refuses_a_configuration_name_already_used_in_the_workspace(
    workspace, editor, demo_file, connection
):
    response = client_for(editor).post("/w/acme/feeds/new/duckdb/", _form(demo_file, name="Demo warehouse"))
    assert "A connection called “Demo warehouse” already exists" in response.content.decode()
    assert Feed.objects.count() == 0


def test_it_refuses_a_feed_name_an_activated_feed_holds(workspace, editor, admin, demo_file, draft):
    Feed.objects.filter(pk=draft.pk).update(state=FeedState.PAUSED)
    response = client_for(admin).post("/w/acme/feeds/new/duckdb/", _form(demo_file, feed_name="Users feed"))
    assert "A feed called “Users feed” already exists" in response.content.decode()
    assert Feed.objects.count() == 1


def test_another_persons_draft_keeps_no_name_from_anyone(workspace, editor, admin, demo_file, draft):
    # The draft is the editor's, left at Connect: the admin may start a feed of the same name.
    response = client_for(admin).post(
        "/w/acme/feeds/new/duckdb/", _form(demo_file, feed_name="Users feed", name="Admin's warehouse")
    )
    assert response.status_code == 302
    assert Feed.objects.filter(name="Users feed", state=FeedState.DRAFT).count() == 2


def test_a_new_wizard_named_like_its_users_left_draft_continues_that_draft(
    workspace, editor, demo_file, draft
):
    data = {"feed_name": "Users feed", "connection": str(draft.connection.pk), "name": draft.connection.name}
    data["cfg_path"] = str(demo_file)
    response = client_for(editor).post("/w/acme/feeds/new/duckdb/", data)
    assert response.status_code == 302 and response["Location"] == f"/w/acme/feeds/{draft.pk}/setup/model/"
    assert list(Feed.objects.values_list("pk", flat=True)) == [draft.pk]


def test_a_new_feed_offers_the_saved_connection_first(workspace, editor, connection):
    html = client_for(editor).get("/w/acme/feeds/new/duckdb/").content.decode()
    assert f'<option value="{connection.pk}" selected>' in html
    fresh = client_for(editor).get("/w/acme/feeds/new/duckdb/", {"connection": "new"}).content.decode()
    assert '<option value="new" selected>' in fresh


def test_it_reuses_an_existing_connection_for_another_feed(workspace, editor, demo_file, connection):
    data = {"feed_name": "Second", "connection": str(connection.pk), "name": connection.name}
    data["cfg_path"] = str(demo_file)
    response = client_for(editor).post("/w/acme/feeds/new/duckdb/", data)
    assert response.status_code == 302
    assert Feed.objects.get(name="Second").connection == connection and Connection.objects.count() == 1


def test_it_refuses_a_connection_from_another_workspace(
    workspace, other_workspace, editor, outsider, demo_file
):
    from feeds import wizard

    foreign = wizard.save_connection(
        other_workspace,
        connection=None,
        provider="duckdb",
        name="Theirs",
        config={"path": str(demo_file)},
        secrets={},
        user=outsider,
    )
    data = _form(demo_file, connection=str(foreign.pk), name="Theirs 2")
    html = client_for(editor).post("/w/acme/feeds/new/duckdb/", data).content.decode()
    assert "Select a valid choice" in html
    assert not Feed.objects.filter(workspace=workspace).exists()


def test_it_refuses_duckdb_files_outside_the_allowed_folders(
    workspace, editor, demo_file, settings, tmp_path
):
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path)]
    html = client_for(editor).post("/w/acme/feeds/new/duckdb/", _form(demo_file)).content.decode()
    assert "wsync may only open DuckDB files under" in html


def test_it_shows_the_saved_connection_when_editing(workspace, editor, draft, demo_file):
    html = client_for(editor).get(f"/w/acme/feeds/{draft.pk}/setup/connect/").content.decode()
    assert str(demo_file) in html and "Users feed" in html and "Demo warehouse" in html


def test_it_never_renders_a_saved_secret_and_keeps_it_when_left_empty(workspace, editor):
    from feeds import wizard

    connection = wizard.save_connection(
        workspace,
        connection=None,
        provider="postgres",
        name="PG",
        config={"host": "127.0.0.1", "port": 5432, "database": "d", "user": "u", "sslmode": "prefer"},
        secrets={"password": "s3cret-value"},
        user=editor,
    )
    feed = wizard.create_draft(workspace, "PG feed", connection, editor)
    html = client_for(editor).get(f"/w/acme/feeds/{feed.pk}/setup/connect/").content.decode()
    assert "s3cret-value" not in html and "Leave empty to keep the saved password" in html
    wizard.save_connection(
        workspace,
        connection=connection,
        provider="postgres",
        name="PG",
        config=connection.config,
        secrets={"password": ""},
        user=editor,
    )
    connection.refresh_from_db()
    assert connection.secrets["password"] == "s3cret-value"


def test_it_lets_a_viewer_see_the_step_read_only(workspace, viewer, draft):
    html = client_for(viewer).get(f"/w/acme/feeds/{draft.pk}/setup/connect/").content.decode()
    assert "<fieldset disabled>" in html and "Test connection" not in html


def test_it_refuses_changes_from_a_viewer(workspace, viewer, draft, demo_file):
    client = client_for(viewer)
    assert client.post(f"/w/acme/feeds/{draft.pk}/setup/connect/", _form(demo_file)).status_code == 403
    assert client.get("/w/acme/feeds/new/duckdb/").status_code == 403
    assert client.post("/w/acme/feeds/new/duckdb/test/", _form(demo_file)).status_code == 403


def test_it_hides_feeds_of_other_workspaces(workspace, outsider, draft):
    assert client_for(outsider).get(f"/w/other/feeds/{draft.pk}/setup/connect/").status_code == 404
    assert client_for(outsider).get(f"/w/acme/feeds/{draft.pk}/setup/connect/").status_code == 404


def test_it_fills_the_prepare_panel_with_the_names_typed_so_far(workspace, editor):
    data = {
        "cfg_host": "db.example.com",
        "cfg_database": "crm",
        "cfg_user": "wsync_reader",
        "cfg_password": "pw",
    }
    html = client_for(editor).post("/w/acme/feeds/new/postgres/prepare/", data, **HTMX).content.decode()
    assert 'id="prepare"' in html and "wsync_reader" in html and "pw" not in html.replace("password", "")


def test_it_switches_the_form_to_another_saved_connection(workspace, editor, draft, demo_file):
    from feeds import wizard

    other = wizard.save_connection(
        workspace,
        connection=None,
        provider="duckdb",
        name="Archive",
        config={"path": str(demo_file.parent / "archive.duckdb")},
        secrets={},
        user=editor,
    )
    url = f"/w/acme/feeds/{draft.pk}/setup/connect/?connection={other.pk}"
    html = client_for(editor).get(url, **HTMX).content.decode()
    assert 'id="connection-form"' in html and "archive.duckdb" in html and "<html" not in html


def test_it_moves_a_live_feed_to_another_connection_only_when_saved(workspace, editor, draft, demo_file):
    from feeds import wizard

    draft.state = "active"
    draft.save()
    old = draft.connection
    data = {"feed_name": draft.name, "connection": "new", "name": "Copy", "cfg_path": str(demo_file)}
    response = client_for(editor).post(f"/w/acme/feeds/{draft.pk}/setup/connect/", data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.connection == old
    assert wizard.section_values(draft, "connect")["connection_id"] != old.pk


@pytest.mark.parametrize("kind", ["snowflake", "bigquery", "redshift", "databricks", "postgres", "duckdb"])
def test_it_builds_every_providers_form_from_its_fields(workspace, editor, kind):
    from feeds.connect.providers import load_provider

    provider = load_provider(kind)
    assert provider is not None, f"{kind} does not load"
    html = client_for(editor).get(f"/w/acme/feeds/new/{kind}/").content.decode()
    for spec in provider.fields:
        assert f'name="cfg_{spec.name}"' in html
        if spec.kind == "file":
            assert f'type="file" name="cfg_{spec.name}"' in html


def test_it_tests_a_bigquery_connection_with_an_uploaded_key_file(workspace, editor, bigquery_config):
    from django.core.files.uploadedfile import SimpleUploadedFile

    key = SimpleUploadedFile("key.json", bigquery_config["service_account_key"].encode(), "application/json")
    data = {
        "feed_name": "BQ users",
        "connection": "new",
        "name": "BigQuery",
        **{f"cfg_{k}": v for k, v in bigquery_config.items() if k != "service_account_key"},
        "cfg_service_account_key": key,
    }
    client = client_for(editor)
    html = client.post("/w/acme/feeds/new/bigquery/test/", data, **HTMX).content.decode()
    assert "alert-success" in html, html
    key.seek(0)
    assert client.post("/w/acme/feeds/new/bigquery/", data).status_code == 302
    connection = Connection.objects.get(name="BigQuery")
    assert connection.secrets["service_account_key"] == bigquery_config["service_account_key"]
    assert "service_account_key" not in connection.config


def test_it_keeps_secrets_out_of_the_prepare_panels_requests(workspace, editor):
    html = client_for(editor).get("/w/acme/feeds/new/postgres/").content.decode()
    assert 'hx-params="not csrfmiddlewaretoken,cfg_password"' in html


def test_it_puts_a_copy_button_on_each_prepare_step_with_code(workspace, editor):
    html = client_for(editor).get("/w/acme/feeds/new/postgres/").content.decode()
    panel = html.split('id="prepare"')[1]
    assert panel.count("<pre ") == panel.count("data-copy") > 1
    assert "/static/js/wizard_connect.js" in html


# --- a live feed's Connect edits wait for the review's Save ---------------------------------------


def live(feed):
    feed.state = FeedState.ACTIVE
    feed.save()
    return feed


def postgres_feed(workspace, editor, password="old-secret"):
    from feeds import wizard

    connection = wizard.save_connection(
        workspace,
        connection=None,
        provider="postgres",
        name="PG",
        config={"host": "db.example.com", "port": 5432, "database": "d", "user": "u", "sslmode": "prefer"},
        secrets={"password": password},
        user=editor,
    )
    return live(wizard.create_draft(workspace, "PG feed", connection, editor))


def small_warehouse(settings, tmp_path):
    from feeds.demo import write_demo_warehouse

    settings.WSYNC_DUCKDB_ROOTS = [*settings.WSYNC_DUCKDB_ROOTS, str(tmp_path)]
    return write_demo_warehouse(tmp_path / "small.duckdb", users=3, events=5)


def test_it_keeps_a_live_feeds_connection_settings_and_name_pending(
    workspace, editor, modelled, settings, tmp_path
):
    from feeds import wizard

    feed = live(modelled)
    other = small_warehouse(settings, tmp_path)
    connection = feed.connection
    client = client_for(editor)
    data = {"feed_name": "Renamed", "connection": str(connection.pk), "name": "Moved", "cfg_path": str(other)}
    assert client.post(f"/w/acme/feeds/{feed.pk}/setup/connect/", data).status_code == 302
    feed.refresh_from_db()
    connection.refresh_from_db()
    assert feed.name == "Users feed" and connection.name == "Demo warehouse"
    assert connection.config["path"] != str(other)
    html = client.get(f"/w/acme/feeds/{feed.pk}/setup/connect/").content.decode()
    assert 'value="Renamed"' in html and 'value="Moved"' in html and str(other) in html
    # The next steps already use the connection as it will be: Run Query reads the small file.
    html = client.post(f"/w/acme/feeds/{feed.pk}/setup/model/run/", {"sql": USERS}, **HTMX).content.decode()
    assert "3 rows in" in html
    wizard.discard_pending(feed, editor)
    feed.refresh_from_db()
    assert wizard.step_connection(feed).config["path"] == connection.config["path"]
    assert wizard.section_values(feed, "connect")["feed_name"] == "Users feed"


def test_it_saves_a_live_feeds_connection_edits_on_the_reviews_save(
    workspace, editor, modelled, settings, tmp_path
):
    from feeds import wizard
    from feeds.models import AuditEntry

    client = client_for(editor)
    client.get(f"/w/acme/feeds/{modelled.pk}/setup/map/")  # pre-fills the mapping
    wizard.save_section(modelled, "schedule", {"sync_mode": "full", "schedule_type": "on_demand"}, editor)
    client.post(f"/w/acme/feeds/{modelled.pk}/setup/review/activate/")
    modelled.refresh_from_db()
    assert modelled.state == FeedState.ACTIVE
    other = small_warehouse(settings, tmp_path)
    connection = modelled.connection
    data = {"feed_name": "Renamed", "connection": str(connection.pk), "name": "Moved", "cfg_path": str(other)}
    client.post(f"/w/acme/feeds/{modelled.pk}/setup/connect/", data)
    response = client.post(f"/w/acme/feeds/{modelled.pk}/setup/review/activate/")
    assert response.status_code == 302
    modelled.refresh_from_db()
    connection.refresh_from_db()
    assert (modelled.name, connection.name, connection.config["path"]) == ("Renamed", "Moved", str(other))
    assert modelled.connection_id == connection.pk and modelled.pending_changes == {}
    edit = AuditEntry.objects.get(action="edit connection")
    assert edit.target == "Moved" and edit.ip_address == "127.0.0.1"


def test_it_keeps_pending_secrets_encrypted(workspace, editor):
    import json

    from feeds import wizard

    feed = postgres_feed(workspace, editor)
    connection = feed.connection
    edit = wizard.ConnectionEdit("postgres", "PG", dict(connection.config), {"password": "n3w-secret"})
    wizard.stage_connect(feed, feed_name=feed.name, connection=connection, edit=edit, user=editor)
    feed.refresh_from_db()
    connection.refresh_from_db()
    assert "n3w-secret" not in json.dumps(feed.pending_changes)
    assert connection.secrets["password"] == "old-secret"  # the running feed still signs in as before
    assert wizard.step_connection(feed).secrets["password"] == "n3w-secret"
    # Submitting the form again with the password left empty keeps the pending one.
    kept = wizard.ConnectionEdit("postgres", "PG", dict(connection.config), {"password": ""})
    wizard.stage_connect(feed, feed_name=feed.name, connection=connection, edit=kept, user=editor)
    feed.refresh_from_db()
    assert wizard.step_connection(feed).secrets["password"] == "n3w-secret"
    wizard.apply_pending(feed, editor)
    connection.refresh_from_db()
    assert connection.secrets["password"] == "n3w-secret" and feed.pending_changes == {}


def test_it_drops_a_pending_connect_edit_that_changes_nothing(workspace, editor):
    from feeds import wizard

    feed = postgres_feed(workspace, editor)
    connection = feed.connection
    same = wizard.ConnectionEdit("postgres", "PG", dict(connection.config), {"password": ""})
    wizard.stage_connect(feed, feed_name=feed.name, connection=connection, edit=same, user=editor)
    feed.refresh_from_db()
    assert feed.pending_changes == {}


def test_it_records_where_a_wizard_feed_was_created_from(workspace, editor, demo_file):
    from feeds.models import AuditEntry

    client_for(editor).post("/w/acme/feeds/new/duckdb/", _form(demo_file), REMOTE_ADDR="203.0.113.7")
    entries = {e.action: e.ip_address for e in AuditEntry.objects.all()}
    assert entries == {"create connection": "203.0.113.7", "create": "203.0.113.7"}


def test_it_rotates_pending_secrets_with_the_stored_ones(workspace, editor, settings):
    import io

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from feeds import wizard

    feed = postgres_feed(workspace, editor)
    edit = wizard.ConnectionEdit("postgres", "PG", dict(feed.connection.config), {"password": "n3w-secret"})
    wizard.stage_connect(feed, feed_name=feed.name, connection=feed.connection, edit=edit, user=editor)
    new_key = Fernet.generate_key().decode()
    settings.WSYNC_FERNET_KEYS = [new_key, *settings.WSYNC_FERNET_KEYS]
    call_command("rotate_fernet_keys", stdout=io.StringIO())
    settings.WSYNC_FERNET_KEYS = [new_key]  # the old key is gone
    feed.refresh_from_db()
    assert wizard.step_connection(feed).secrets["password"] == "n3w-secret"


# --- settings the form has no field for (mParticle's Snowflake unload, set through the API) ---------------

UNLOAD = {
    "storage_integration": "mp_us1_123_123_s3",
    "aws_iam_user_arn": "arn:aws:iam::338661164609:user/externalstages/abc",
    "aws_external_id": "ABC123_SFCRole=2_abcdefg=",
}


def _snowflake_feed(workspace, editor, snowflake_config):
    from feeds import wizard
    from feeds.connect.providers import load_provider

    fields = load_provider("snowflake").fields
    secret = {s.name for s in fields if s.secret}
    connection = wizard.save_connection(
        workspace,
        connection=None,
        provider="snowflake",
        name="Snow",
        config={**{k: v for k, v in snowflake_config.items() if k not in secret}, **UNLOAD},
        secrets={k: v for k, v in snowflake_config.items() if k in secret},
        user=editor,
    )
    form = {f"cfg_{s.name}": snowflake_config.get(s.name, "") for s in fields if not s.secret}
    form = {k: ("" if v is None else v) for k, v in form.items()}
    return wizard.create_draft(workspace, "Snow feed", connection, editor), connection, form


def test_editing_a_snowflake_connection_keeps_its_unload_settings(workspace, editor, snowflake_config):
    feed, connection, form = _snowflake_feed(workspace, editor, snowflake_config)
    client = client_for(editor)
    page = client.get(f"/w/acme/feeds/{feed.pk}/setup/connect/").content.decode()
    kept = page.split('id="kept-settings"')[1].split("</dl>")[0]
    for key, value in UNLOAD.items():
        assert key in kept and value in kept
    data = {"feed_name": feed.name, "connection": str(connection.pk), "name": "Snow renamed", **form}
    response = client.post(f"/w/acme/feeds/{feed.pk}/setup/connect/", data)
    assert response.status_code == 302, response.content.decode()
    connection.refresh_from_db()
    assert connection.name == "Snow renamed"
    assert {k: connection.config.get(k) for k in UNLOAD} == UNLOAD


def test_a_live_feeds_staged_snowflake_edit_keeps_its_unload_settings(workspace, editor, snowflake_config):
    from feeds import wizard

    feed, connection, form = _snowflake_feed(workspace, editor, snowflake_config)
    live(feed)
    data = {"feed_name": feed.name, "connection": str(connection.pk), "name": "Snow renamed", **form}
    response = client_for(editor).post(f"/w/acme/feeds/{feed.pk}/setup/connect/", data)
    assert response.status_code == 302, response.content.decode()
    feed.refresh_from_db()
    assert {k: feed.pending_changes["connect"]["connection"]["config"].get(k) for k in UNLOAD} == UNLOAD
    wizard.apply_pending(feed, editor)
    connection.refresh_from_db()
    assert connection.name == "Snow renamed"
    assert {k: connection.config.get(k) for k in UNLOAD} == UNLOAD
