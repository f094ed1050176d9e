"""A marketer clicks through the whole setup wizard in Chromium; a reviewer looks but cannot change.

Screenshots of every step land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from feeds.demo import write_demo_warehouse
from feeds.models import Feed, FeedState
from tests.browser.chromium import check_page

pytestmark = pytest.mark.browser

USERS_SQL = "SELECT customer_id, email, first_name, last_name, plan, country, updated_at FROM users"


@pytest.fixture
def warehouse_file(tmp_path: Path, settings) -> Path:
    settings.WSYNC_DUCKDB_ROOTS = [str(tmp_path)]
    return write_demo_warehouse(tmp_path / "shop.duckdb", users=300, events=2000)


def set_sql(page, sql: str) -> None:
    """Type into CodeMirror the way a user's paste would land (the editor fires its change event)."""
    page.locator(".CodeMirror").click()
    page.evaluate("sql => document.querySelector('.CodeMirror').CodeMirror.setValue(sql)", sql)


def connect_duckdb(page, path: Path) -> None:
    page.goto("/w/acme/feeds/")
    page.get_by_role("link", name="Add Feed Input").first.click()
    page.get_by_placeholder("Search warehouses").fill("duck")
    expect(page.locator(".provider-card")).to_have_count(1)
    check_page(page, "00-directory")
    page.get_by_role("link", name="Set up DuckDB").click()
    page.get_by_label("Feed name").fill("Shop users")
    page.get_by_label("Configuration name").fill("Shop warehouse")
    page.get_by_label("Database file").fill(str(path.parent / "missing.duckdb"))
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("does not exist")
    page.get_by_label("Database file").fill(str(path))
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connected to shop.duckdb")
    check_page(page, "01-connect")
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/setup/model/$"))


def write_model(page, sql: str) -> None:
    set_sql(page, "SELECT customer_id,\nFROM users WHERE plan IN ('pro',")
    expect(page.locator("#sql-check")).to_contain_text("Line 2")
    # The editor numbers its lines.
    expect(page.locator(".CodeMirror-gutters .CodeMirror-linenumbers")).to_be_visible()
    expect(page.locator(".CodeMirror-code .CodeMirror-linenumber")).to_have_text(["1", "2"])
    set_sql(page, "DELETE FROM users")
    expect(page.locator("#sql-check")).to_contain_text("remove DELETE")
    expect(page.locator("#next")).to_be_disabled()
    set_sql(page, sql)
    expect(page.locator("#sql-check")).to_contain_text("One read-only SELECT")
    page.get_by_role("button", name="Run Query").click()
    expect(page.locator("#query-stats")).to_contain_text("in")
    expect(page.locator("#columns")).to_contain_text("auto-mapped")
    expect(page.locator("#next")).to_be_enabled()
    # Editing the SQL after it ran takes Next away again, until the query runs in its current form.
    set_sql(page, sql + " LIMIT 50")
    expect(page.locator("#next")).to_be_disabled()
    set_sql(page, sql)
    expect(page.locator("#next")).to_be_enabled()
    check_page(page, "02-data-model")
    page.locator("#next").click()
    expect(page).to_have_url(re.compile(r"/setup/map/$"))


def settled(page, action) -> None:
    """Do something that sends an HTMX request, and wait until its answer is swapped in and settled."""
    page.evaluate(
        "() => { window.__settled = false; document.body.addEventListener('htmx:afterSettle', "
        "() => { window.__settled = true; }, {once: true}); }"
    )
    action()
    page.wait_for_function("() => window.__settled === true")


def identity_nodes(page):
    return page.locator('section[data-object="user_identities"] .mapping-node')


def map_columns(page) -> None:
    expect(identity_nodes(page)).to_have_count(2)  # customer_id and email were auto-mapped
    check_page(page, "03-mapping-prefilled")
    # Remove both identities: Next must refuse with the error shown.
    for _ in range(2):
        settled(page, identity_nodes(page).first.get_by_role("button", name="Remove this mapping").click)
    expect(identity_nodes(page)).to_have_count(0)
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#mapping-status")).to_contain_text("to fix before Next")
    expect(page).to_have_url(re.compile(r"/setup/map/$"))
    check_page(page, "03-mapping-missing-identity")
    # Put customer_id back as the Customer ID through "+" → Column.
    page.get_by_role("button", name="Add to user_identities").click()
    section = page.locator('section[data-object="user_identities"]')
    settled(page, section.get_by_role("button", name=re.compile("^Column")).click)
    expect(identity_nodes(page)).to_have_count(1)
    source = identity_nodes(page).first.get_by_label("Column in warehouse")
    settled(page, lambda: source.select_option("customer_id"))
    field = identity_nodes(page).first.get_by_label("Field")
    settled(page, lambda: field.select_option(label="Customer ID"))
    page.goto(page.url)  # the tree survives a reload (a fresh GET: reload would re-send the POST)
    expect(identity_nodes(page).first.get_by_label("Field")).to_have_value("user_identities.customer_id")
    check_page(page, "03-mapping")
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/setup/schedule/$"))


def sync_settings(page) -> None:
    page.get_by_label("Dev").check()
    page.get_by_label(re.compile("^Incremental")).check()
    page.get_by_label("Iterator", exact=True).select_option("updated_at")
    expect(page.locator("#iterator-check")).to_contain_text("Sample of 300 rows")
    page.get_by_label("Iterator data type").select_option("timestamptz")
    page.get_by_label(re.compile("^Interval")).check()
    page.get_by_label("Frequency").select_option("hourly")
    page.get_by_label("Date and time of the initial sync (UTC)").fill("2099-11-15T19:00")
    expect(page.locator("#run-times")).to_contain_text("initial 11/15/2099 07:00 PM UTC")
    expect(page.locator("#run-times")).to_contain_text("next 11/15/2099 08:00 PM UTC")
    check_page(page, "04-sync-settings")
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/setup/review/$"))


def review_and_activate(page) -> None:
    expect(page.locator("#checks-ok")).to_be_visible(timeout=30000)
    expect(page.locator("#sample-counts")).to_contain_text("Would create 10 profiles", timeout=30000)
    expect(page.locator(".sample-profile").first).to_contain_text("customer_id")
    check_page(page, "05-review")
    page.get_by_role("button", name="Activate").click()
    expect(page).to_have_url(re.compile(r"/feeds/\d+/$"))
    check_page(page, "06-activated")


def test_it_takes_a_marketer_from_a_duckdb_table_to_an_active_feed(page_as, editor, warehouse_file):
    page = page_as(editor)
    connect_duckdb(page, warehouse_file)
    write_model(page, USERS_SQL)
    map_columns(page)
    sync_settings(page)
    review_and_activate(page)
    feed = Feed.objects.get(name="Shop users")
    assert feed.state == FeedState.ACTIVE and feed.environment == "development"
    assert feed.iterator == "updated_at" and feed.frequency == "hourly"
    assert {
        "mapping_type": "column",
        "source": "customer_id",
        "destination": "user_identities.customer_id",
        "value": None,
    } in feed.field_transformation.mappings


def test_it_shows_a_reviewer_every_step_read_only(page_as, editor, viewer, warehouse_file):
    page = page_as(editor)
    connect_duckdb(page, warehouse_file)
    write_model(page, USERS_SQL)
    feed = Feed.objects.get(name="Shop users")
    reviewer = page_as(viewer)
    page.get_by_role("button", name="Next").click()  # the editor accepts the automatic mapping
    page.get_by_label(re.compile("^Full")).check()
    page.get_by_label(re.compile("^Interval")).check()
    page.get_by_label("Frequency").select_option("daily")
    page.get_by_label("Date and time of the initial sync (UTC)").fill("2099-11-15T19:00")
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/setup/review/$"))
    for step in ("connect", "model", "map", "schedule", "review"):
        reviewer.goto(f"/w/acme/feeds/{feed.pk}/setup/{step}/")
        reviewer.wait_for_load_state("networkidle")  # every fragment the step loads has answered
        expect(reviewer.get_by_text("your role (viewer) cannot change it")).to_be_visible()
        expect(reviewer.locator(".alert-danger, .text-danger, .node-error")).to_have_count(0)
        expect(reviewer.get_by_text("cannot change this feed")).to_have_count(0)
        if step != "review":
            expect(reviewer.locator("fieldset[disabled]").first).to_be_visible()
        if step == "connect":
            expect(reviewer.get_by_role("button", name="Test connection")).to_have_count(0)
        if step == "schedule":
            expect(reviewer.locator("#run-times")).to_contain_text("initial 11/15/2099 07:00 PM UTC")
    expect(reviewer.locator("#checks-ok")).to_be_visible(timeout=30000)
    expect(reviewer.locator("#sample-counts")).to_contain_text("Would create 10 profiles", timeout=30000)
    expect(reviewer.get_by_role("button", name="Activate")).to_have_count(0)
    expect(reviewer.get_by_role("link", name="Edit")).to_have_count(0)
    check_page(reviewer, "07-reviewer-read-only")
    response = reviewer.request.post(f"/w/acme/feeds/{feed.pk}/setup/model/run/", form={"sql": USERS_SQL})
    assert response.status == 403


def test_it_copies_a_prepare_step_to_the_clipboard(page_as, editor):
    page = page_as(editor)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/w/acme/feeds/new/postgres/")
    expect(page.locator("#prepare [data-copy]")).not_to_have_count(0)
    step = page.locator("#prepare .prepare-step").nth(1)
    code = step.locator("code").inner_text()
    assert code.strip()
    step.get_by_role("button", name=re.compile("^Copy")).click()
    expect(step.get_by_role("button", name=re.compile("^Copy"))).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == code


def seed_postgres(db) -> None:
    with db.admin() as conn:
        conn.execute(
            f"CREATE TABLE customers (customer_id text, email text, plan text, updated_at timestamptz);"
            f"INSERT INTO customers SELECT 'P' || i, 'p' || i || '@example.com', 'pro', "
            f"TIMESTAMPTZ '2026-01-01' + i * INTERVAL '1 hour' FROM generate_series(1, 50) AS i;"
            f"ALTER TABLE customers OWNER TO {db.user};"
        )


def test_it_takes_a_marketer_from_a_postgresql_table_to_an_active_feed(
    page_as, editor, pg_database, settings
):
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = True
    seed_postgres(pg_database)
    page = page_as(editor)
    page.goto("/w/acme/directory/")
    page.get_by_role("link", name="Set up PostgreSQL").click()
    page.get_by_label("Feed name").fill("CRM customers")
    page.get_by_label("Configuration name").fill("CRM database")
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Port").fill(str(pg_database.cluster.port))
    page.get_by_label("Database").fill(pg_database.database)
    page.get_by_label("User").fill(pg_database.user)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("The user name or password is wrong")
    check_page(page, "10-postgres-wrong-password")
    page.get_by_label("Password").fill(pg_database.password)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connected")
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/setup/model/$"))
    set_sql(page, "SELECT customer_id, email, plan, updated_at FROM customers")
    page.get_by_role("button", name="Run Query").click()
    expect(page.locator("#query-stats")).to_contain_text("50 rows")
    check_page(page, "11-postgres-data-model")
    page.locator("#next").click()
    expect(identity_nodes(page)).to_have_count(2)
    page.get_by_role("button", name="Next").click()
    page.get_by_label(re.compile("^Full")).check()
    page.get_by_label(re.compile("^On Demand")).check()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#sample-counts")).to_contain_text("Would create 10 profiles", timeout=30000)
    check_page(page, "12-postgres-review")
    page.get_by_role("button", name="Activate").click()
    expect(page).to_have_url(re.compile(r"/feeds/\d+/$"))
    feed = Feed.objects.get(name="CRM customers")
    assert feed.state == FeedState.ACTIVE and feed.schedule_type == "on_demand" and feed.sync_mode == "full"
    assert (
        "password" not in feed.connection.config
        and feed.connection.secrets["password"] == pg_database.password
    )
