"""Data model: SQL validated in the warehouse's dialect while typing, Run Query, timestamp field, Next."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from feeds import wizard
from feeds.model.validators import SQLValidator
from tests.personas import client_for
from tests.wizard.conftest import USERS_SQL

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(feed, tail=""):
    return f"/w/acme/feeds/{feed.pk}/setup/model/{tail}"


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM users",
        "UPDATE users SET plan = 'x'",
        "DROP TABLE users",
        "CREATE TABLE t AS SELECT 1",
        "ALTER TABLE users ADD COLUMN x INT",
        "INSERT INTO users VALUES (1)",
        "MERGE INTO users USING events ON true WHEN MATCHED THEN DELETE",
        "GRANT SELECT ON users TO bob",
        "SELECT 1; SELECT 2",
    ],
)
def test_it_refuses_anything_but_one_read_only_select(sql):
    with pytest.raises(ValidationError):
        SQLValidator("duckdb")(sql)


def test_it_accepts_a_select_with_ctes():
    SQLValidator("duckdb")("WITH recent AS (SELECT * FROM users) SELECT customer_id FROM recent")


def test_it_reports_the_line_and_column_of_a_syntax_error_while_typing(workspace, editor, draft):
    sql = "SELECT customer_id\nFROM users\nWHERE plan IN ('pro',"
    html = client_for(editor).post(url(draft, "validate/"), {"sql": sql}, **HTMX).content.decode()
    assert (
        'id="sql-check"' in html
        and re.search(r"Line 3, column \d+:", html)
        and "A closing bracket “)” is missing" in html
        and "<html" not in html
    )


def test_it_says_what_to_remove_for_a_write_statement_while_typing(workspace, editor, draft):
    html = (
        client_for(editor).post(url(draft, "validate/"), {"sql": "DROP TABLE users"}, **HTMX).content.decode()
    )
    assert "remove DROP" in html


def test_it_confirms_a_valid_select_while_typing(workspace, editor, draft):
    html = client_for(editor).post(url(draft, "validate/"), {"sql": USERS_SQL}, **HTMX).content.decode()
    assert "One read-only SELECT" in html


def test_it_runs_the_query_and_shows_rows_columns_types_and_time(workspace, editor, draft):
    response = client_for(editor).post(url(draft, "run/"), {"sql": USERS_SQL}, **HTMX)
    html = response.content.decode()
    assert 'id="results"' in html and "<html" not in html
    assert "C000001" in html and "updated_at" in html and "TIMESTAMP WITH TIME ZONE" in html
    assert "100 rows (the first 100) in" in html and " ms" in html
    draft.refresh_from_db()
    assert draft.data_model.columns_sql == USERS_SQL and draft.data_model.is_probed
    assert draft.data_model.timestamp_field == "updated_at"  # the only candidate is picked for you


def test_it_badges_reserved_columns_as_auto_mapped(workspace, editor, draft):
    html = client_for(editor).post(url(draft, "run/"), {"sql": USERS_SQL}, **HTMX).content.decode()
    assert 'title="Mapped to user_identities.customer_id">auto-mapped' in html
    assert 'title="Mapped to user_identities.email">auto-mapped' in html


def test_it_shows_the_warehouse_message_for_a_query_that_fails(workspace, editor, draft):
    html = (
        client_for(editor)
        .post(url(draft, "run/"), {"sql": "SELECT nope FROM users"}, **HTMX)
        .content.decode()
    )
    assert "The warehouse could not run the query." in html and "nope" in html
    draft.refresh_from_db()
    assert draft.data_model is None  # nothing remembered from a failed run


def test_it_refuses_to_run_a_write_statement(workspace, editor, draft):
    html = client_for(editor).post(url(draft, "run/"), {"sql": "DELETE FROM users"}, **HTMX).content.decode()
    assert "remove DELETE" in html and "could not run" not in html


def test_it_offers_next_only_once_the_current_sql_ran(workspace, editor, modelled):
    client = client_for(editor)
    html = client.get(url(modelled)).content.decode()
    assert 'id="next" ' in html and 'id="next" disabled' not in html
    response = client.post(url(modelled), {"sql": USERS_SQL + " LIMIT 5", "timestamp_field": "updated_at"})
    assert response.status_code == 200 and "Run the query in its current form" in response.content.decode()


def test_it_disables_next_before_the_query_ran(workspace, editor, draft):
    html = client_for(editor).get(url(draft)).content.decode()
    assert 'id="next" disabled' in html


def test_it_goes_to_the_mapping_with_a_timestamp_field(workspace, editor, modelled):
    response = client_for(editor).post(url(modelled), {"sql": USERS_SQL, "timestamp_field": "updated_at"})
    assert response.status_code == 302 and response["Location"].endswith("/setup/map/")


def test_it_requires_the_timestamp_field_when_the_model_has_one(workspace, editor, modelled):
    response = client_for(editor).post(url(modelled), {"sql": USERS_SQL, "timestamp_field": ""})
    assert "Pick the timestamp field" in response.content.decode()


def test_it_sends_a_draft_without_connection_back_to_connect(workspace, editor, draft):
    draft.connection = None
    draft.save()
    response = client_for(editor).get(url(draft))
    assert response["Location"].endswith("/setup/connect/")


def test_it_keeps_edits_of_a_live_feed_pending(workspace, editor, modelled):
    modelled.state = "active"
    modelled.save()
    client_for(editor).post(url(modelled, "run/"), {"sql": "SELECT customer_id FROM users"}, **HTMX)
    modelled.refresh_from_db()
    assert modelled.data_model.sql == USERS_SQL  # the running feed is untouched
    assert wizard.section_values(modelled, "model")["sql"] == "SELECT customer_id FROM users"


def test_it_lets_a_viewer_read_but_not_run(workspace, viewer, modelled):
    client = client_for(viewer)
    html = client.get(url(modelled)).content.decode()
    assert "<fieldset disabled>" in html and "Run Query" not in html
    assert client.post(url(modelled, "run/"), {"sql": USERS_SQL}).status_code == 403
    assert client.post(url(modelled, "validate/"), {"sql": USERS_SQL}).status_code == 403
    assert client.post(url(modelled), {"sql": USERS_SQL}).status_code == 403


TWO_STAMPS_SQL = "SELECT customer_id, updated_at, updated_at - INTERVAL 1 DAY AS created_at FROM users"


def test_it_keeps_the_unsaved_timestamp_pick_when_the_query_runs_again(workspace, editor, draft):
    client = client_for(editor)
    client.post(url(draft, "run/"), {"sql": TWO_STAMPS_SQL}, **HTMX)
    draft.refresh_from_db()
    assert draft.data_model.timestamp_field == ""  # two candidates: no guess
    data = {"sql": TWO_STAMPS_SQL + " ORDER BY customer_id", "timestamp_field": "created_at"}
    html = client.post(url(draft, "run/"), data, **HTMX).content.decode()
    draft.refresh_from_db()
    assert draft.data_model.timestamp_field == "created_at"
    assert '<option value="created_at" selected>' in html


def test_it_explains_a_table_model_for_a_warehouse_without_sql(workspace, editor):
    from django.utils.html import escape

    from feeds.models import Connection
    from feeds.warehouses.databricks import SQL_EXPLANATION

    connection = Connection.objects.create(
        workspace=workspace, slug="share", name="Share", provider="databricks", config={}, secrets={}
    )
    feed = wizard.create_draft(workspace, "Shared users", connection, editor)
    html = client_for(editor).get(url(feed)).content.decode()
    assert escape(SQL_EXPLANATION) in html
    assert "SQL dialect" not in html and "Write one SELECT" not in html
    assert '<label class="form-label" for="id_sql">Shared table</label>' in html
