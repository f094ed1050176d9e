"""What a new marketer and a new admin tripped over (issue 20), clicked through in Chromium.

Every page here is also checked with axe-core (no serious or critical violations) and saved as a
1400×900 screenshot in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from feeds.models import Feed, FeedState
from feeds.sync.models import RejectedRow, SyncRun
from feeds.sync.tasks import run_feed
from tests.browser.chromium import check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _top_below_tabs(page, pane: str) -> float:
    """Return how far (px) the visible pane's top is below the bottom of the tab bar."""
    return page.evaluate(
        "pane => document.querySelector(pane).getBoundingClientRect().top"
        " - document.querySelector('.nav-tabs').getBoundingClientRect().bottom",
        pane,
    )


def test_each_tab_shows_its_pane_right_under_the_tab_bar(page_as, admin, active_feed):
    page = page_as(admin)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    check_page(page, "30-summary-data-model")
    for tab, pane in (
        ("Settings", "#tab-settings"),
        ("Mapping", "#tab-mapping"),
        ("Activity", "#tab-activity"),
    ):
        page.get_by_role("tab", name=tab).click()
        expect(page.locator(pane)).to_be_visible()
        expect(page.locator(pane)).to_have_class(re.compile(r"\bshow\b"))
        assert 0 <= _top_below_tabs(page, pane) < 5, tab
        # The other panes take no room and no clicks.
        for other in ("#tab-model", "#tab-mapping", "#tab-settings", "#tab-activity"):
            if other != pane:
                expect(page.locator(other)).to_be_hidden()
    expect(page.get_by_role("tab", name="Activity")).to_have_attribute("aria-selected", "true")
    check_page(page, "31-summary-activity-tab")


def test_long_sql_wraps_inside_the_data_model_tab(page_as, viewer, active_feed):
    long_sql = "SELECT " + ", ".join(f"column_number_{i}" for i in range(40)) + " FROM users"
    active_feed.data_model.sql = long_sql
    active_feed.data_model.save()
    page = page_as(viewer)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    pre = page.locator("#tab-model pre")
    expect(pre).to_contain_text("column_number_39")
    assert pre.evaluate("e => e.scrollWidth <= e.clientWidth")  # nothing cut off at the right


def test_connect_errors_leave_once_the_fields_are_filled(page_as, editor, demo_warehouse):
    page = page_as(editor)
    page.goto("/w/acme/feeds/new/duckdb/")
    page.get_by_role("button", name="Next").click()
    errors = page.locator(".invalid-feedback:visible")
    expect(errors.first).to_be_visible()
    assert errors.count() >= 2
    check_page(page, "15-connect-errors")
    page.get_by_label("Feed name").fill("Shop users")
    page.get_by_label("Configuration name").fill("Shop warehouse")
    page.get_by_label("Database file").fill(str(demo_warehouse))
    expect(errors).to_have_count(0)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connected to demo.duckdb")
    expect(page.locator(".is-invalid")).to_have_count(0)
    expect(page.locator(".invalid-feedback")).to_have_count(0)
    check_page(page, "16-connect-tested")


def test_a_schedule_error_leaves_once_a_frequency_is_picked(page_as, editor, active_feed):
    page = page_as(editor)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/setup/schedule/")
    page.get_by_label(re.compile("^Interval")).check()
    page.get_by_label("Frequency").select_option("")
    page.get_by_role("button", name="Next").click()
    frequency_error = page.locator("#frequency-field .invalid-feedback")
    expect(frequency_error).to_be_visible()
    check_page(page, "17-schedule-errors")
    page.get_by_label("Frequency").select_option("hourly")
    expect(frequency_error).to_have_count(0)
    # An end date only applies to a repeating schedule.
    expect(page.locator("#end-field")).to_be_visible()
    page.get_by_label(re.compile("^On Demand")).check()
    expect(page.locator("#end-field")).to_be_hidden()


def test_a_failed_run_query_shows_its_error_once_and_no_old_columns(page_as, editor, active_feed):
    page = page_as(editor)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/setup/model/")
    page.get_by_role("button", name="Run Query").click()
    expect(page.locator("#columns")).to_contain_text("customer_id")
    # The editor is named by its label for screen readers.
    expect(page.get_by_role("textbox", name="SQL query")).to_have_count(1)
    page.evaluate(
        "() => document.querySelector('.CodeMirror').CodeMirror.setValue('SELECT missing_column FROM users')"
    )
    page.get_by_role("button", name="Run Query").click()
    expect(page.locator("#results .alert-danger")).to_contain_text("could not run the query")
    expect(page.locator("#columns")).to_have_count(0)
    check_page(page, "18-model-failed-query")
    page.evaluate("() => document.querySelector('.CodeMirror').CodeMirror.setValue('DELETE FROM users')")
    page.get_by_role("button", name="Run Query").click()
    expect(page.locator("#sql-check")).to_contain_text("DELETE")
    expect(page.get_by_text(re.compile("remove DELETE"))).to_have_count(1)


def test_a_paused_on_demand_feed_offers_resume_not_run(page_as, admin, editor, active_feed):
    Feed.objects.filter(pk=active_feed.pk).update(schedule_type="on_demand")
    page = page_as(admin)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    expect(page.get_by_role("button", name="Run Sync")).to_be_visible()
    page.get_by_role("button", name="Pause Sync").click()
    expect(page.locator(".badge", has_text="Paused")).to_be_visible()
    expect(page.get_by_role("button", name="Run Sync")).to_have_count(0)
    expect(page.get_by_text("When you click Run Sync")).to_have_count(0)
    expect(page.locator("#paused-note")).to_contain_text("until you resume it")
    expect(page.locator(".alert-danger")).to_have_count(0)
    check_page(page, "32-summary-paused")
    other = page_as(editor)
    other.goto(f"/w/acme/feeds/{active_feed.pk}/")
    expect(other.locator("#paused-note")).to_contain_text("until an admin resumes it")
    expect(other.get_by_role("button", name="Run Sync")).to_have_count(0)
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("button", name="Run Sync")).to_be_visible()
    assert Feed.objects.get(pk=active_feed.pk).state == FeedState.ACTIVE


def test_403_and_404_pages_say_why_and_lead_back(page_as, viewer, outsider, active_feed):
    page = page_as(viewer)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/delete/")
    expect(page.locator("h1")).to_contain_text("You cannot do this here")
    expect(page.locator("main")).to_contain_text("This needs the Admin role in Acme.")
    expect(page.locator("nav.navbar")).to_be_visible()
    check_page(page, "40-forbidden")
    page.get_by_role("link", name="Back to your feeds").click()
    expect(page).to_have_url(re.compile(r"/w/acme/feeds/$"))
    stranger = page_as(outsider)
    response = stranger.goto(f"/w/acme/feeds/{active_feed.pk}/")
    assert response.status == 404
    expect(stranger.locator("h1")).to_contain_text("Page not found")
    expect(stranger.locator("main")).not_to_contain_text("Users")
    check_page(stranger, "41-not-found")


def test_feed_pages_read_well_after_a_run(page_as, admin, active_feed):
    page = page_as(admin)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    page.get_by_role("button", name="Run Sync").click()
    run = SyncRun.objects.get(feed=active_feed)
    run_feed(run.pk)
    RejectedRow.objects.create(
        run=run, row_key="row 7", reason="The row has no identity.", values={"id": None}
    )
    page.goto("/w/acme/feeds/")
    row = page.locator("tr", has_text="Users")
    expect(row).to_contain_text("300 rows")
    expect(row).not_to_contain_text("0 minutes ago")
    check_page(page, "33-feed-list")
    row.get_by_role("button", name="Actions for Users").click()
    expect(row.get_by_role("button", name="Pause Sync")).to_be_visible()
    page.get_by_label("Filter feeds by name").fill("nothing like it")
    expect(row).to_be_hidden()
    page.get_by_label("Filter feeds by name").fill("use")
    expect(row).to_be_visible()
    page.goto(f"/w/acme/feeds/{active_feed.pk}/")
    expect(page.locator("#runs tbody tr").first).to_contain_text("#1")
    check_page(page, "34-feed-summary-after-run")
    page.get_by_role("link", name="#1", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Run #1")
    expect(page.locator("#rejected ~ table, table").last).to_contain_text('{"id": null}')
    check_page(page, "35-run-detail")
    page.goto("/w/acme/profiles/")
    check_page(page, "50-profiles")
    page.locator("#results a").first.click()
    expect(page.locator("h1")).to_contain_text("MPID")
    check_page(page, "51-profile")


def test_removing_a_member_asks_first(page_as, admin, viewer):
    page = page_as(admin)
    page.goto("/w/acme/settings/members/")
    check_page(page, "60-members")
    row = page.locator("tr", has_text="vera@acme.example")
    row.locator("summary", has_text="Remove").click()
    expect(row).to_contain_text("Remove vera@acme.example from Acme?")
    expect(page.locator("tr", has_text="vera@acme.example")).to_have_count(1)  # nothing happened yet
    row.get_by_role("button", name="Yes, remove").click()
    expect(page.locator("tr", has_text="vera@acme.example")).to_have_count(0)


def test_the_iterator_type_fills_in_from_the_picked_column(page_as, editor, active_feed):
    Feed.objects.filter(pk=active_feed.pk).update(iterator="", iterator_type="")
    model = active_feed.data_model  # as Run Query read the demo's TIMESTAMPTZ column
    for column in model.columns:
        if column["name"] == "updated_at":
            column.update(type="timestamp_tz", warehouse_type="TIMESTAMP WITH TIME ZONE")
    model.save()
    page = page_as(editor)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/setup/schedule/")
    page.get_by_label(re.compile("^Incremental")).check()
    expect(page.get_by_label("Iterator data type")).to_have_value("")
    page.get_by_label("Iterator", exact=True).select_option("updated_at")
    expect(page.get_by_label("Iterator data type")).to_have_value("timestamptz")
    # A type the person picked stays theirs.
    page.get_by_label("Iterator data type").select_option("timestamp")
    page.get_by_label("Iterator", exact=True).select_option("customer_id")
    page.get_by_label("Iterator", exact=True).select_option("updated_at")
    expect(page.get_by_label("Iterator data type")).to_have_value("timestamp")
    # The time zone is typed, with the zones as suggestions.
    zone = page.get_by_label("Time zone of timestamps without a zone")
    expect(zone).to_have_attribute("list", "timezones")
    assert page.locator("#timezones option[value='Europe/Berlin']").count() == 1
    check_page(page, "19-schedule-iterator")


def test_the_mapping_step_previews_mapped_rows(page_as, editor, active_feed):
    page = page_as(editor)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/setup/map/")
    expect(page.locator("#mapping-intro")).to_contain_text("$unmapped → user_attributes.*")
    page.get_by_role("button", name="Preview the first rows").click()
    expect(page.locator(".mapped-batch")).to_have_count(3)
    expect(page.locator(".mapped-batch").first).to_contain_text('"user_identities"')
    check_page(page, "14-mapping-preview")


def test_copy_buttons_sit_above_their_code_and_a_page_asks_for_no_missing_favicon(page_as, editor):
    page = page_as(editor)
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto("/w/acme/feeds/new/postgres/")
    steps = page.locator("#prepare .prepare-step")
    expect(steps.first).to_be_visible()
    for i in range(steps.count()):
        button = steps.nth(i).locator("[data-copy]").bounding_box()
        code = steps.nth(i).locator("pre").bounding_box()
        assert button["y"] + button["height"] <= code["y"] + 0.5, f"step {i + 1}: Copy covers its code"
    check_page(page, "09-connect-postgres-prepare")
    assert missing == []  # no /favicon.ico (or anything else) answered 404


def _text_fits(page, selector: str) -> bool:
    """Return True when a select's chosen option text fits its box, beside the arrow (measured in its font)."""
    return page.evaluate(
        """sel => {
          const el = document.querySelector(sel);
          const style = getComputedStyle(el);
          const ctx = document.createElement("canvas").getContext("2d");
          ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
          const text = el.options[el.selectedIndex].text;
          const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
          return ctx.measureText(text).width <= room;
        }""",
        selector,
    )


def test_the_unmapped_choice_reads_whole_in_its_dropdown(page_as, editor, active_feed):
    page = page_as(editor)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/setup/map/")
    unmapped = page.locator("select[name=source]", has=page.locator("option[value='$unmapped']:checked"))
    expect(unmapped).to_have_count(1)
    expect(unmapped.locator("option:checked")).to_contain_text("$unmapped")
    assert _text_fits(page, f"#{unmapped.get_attribute('id')}")
    check_page(page, "13-mapping-unmapped")


def _ready_draft(active_feed, name: str, slug: str, user) -> Feed:
    """Return a draft on the active feed's connection, ready to activate, started by `user`."""
    from tests.feed_fixtures import USER_MAPPINGS, build_feed

    return build_feed(
        active_feed.workspace,
        active_feed.connection,
        sql=active_feed.data_model.sql,
        columns=active_feed.data_model.columns,
        mappings=USER_MAPPINGS,
        slug=slug,
        name=name,
        state=FeedState.DRAFT,
        iterator="updated_at",
        iterator_type="timestamptz",
        created_by=user,
        wizard_step="review",
    )


def test_a_drafts_name_taken_meanwhile_is_fixed_on_connect_then_activated(
    page_as, editor, admin, active_feed, demo_warehouse
):
    mine = _ready_draft(active_feed, "Shop users", "shop-mine", editor)
    theirs = _ready_draft(active_feed, "Shop users", "shop-theirs", admin)  # drafts share a name
    Feed.objects.filter(pk=theirs.pk).update(state=FeedState.ACTIVE)  # the admin activated theirs first
    page = page_as(editor)
    page.goto(f"/w/acme/feeds/{mine.pk}/setup/review/")
    problems = page.locator("#problems")
    expect(problems).to_contain_text("Feed name: another feed called “Shop users” is active now.")
    expect(problems).to_contain_text("Pick another name on the Connect step.")
    expect(page.locator("#activate")).to_have_count(0)
    check_page(page, "24-review-name-taken")
    problems.get_by_role("link", name="Go to Connect").click()
    page.get_by_label("Feed name").fill("Shop users EU")
    page.get_by_label("Database file").fill(str(demo_warehouse))
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/setup/model/$"))
    page.goto(f"/w/acme/feeds/{mine.pk}/setup/review/")
    page.locator("#activate").click()
    expect(page).to_have_url(re.compile(rf"/feeds/{mine.pk}/$"))
    expect(page.locator("h1")).to_have_text("Shop users EU")
    mine.refresh_from_db()
    assert mine.state == FeedState.ACTIVE


def test_a_drafts_starter_sees_when_it_goes_and_deletes_it(page_as, editor, active_feed):
    draft = _ready_draft(active_feed, "Half done", "half-done", editor)
    page = page_as(editor)
    page.goto("/w/acme/feeds/")
    row = page.locator("tr[data-feed-name='half done']")
    expect(row.locator(".draft-note")).to_contain_text("Not activated · edited just now")
    expect(row.locator(".draft-note")).to_contain_text(re.compile(r"removed \w+ \d+, \d{4} if left as is"))
    check_page(page, "25-feed-list-draft")
    row.get_by_role("link", name="Delete Half done").click()
    expect(page.locator("h1")).to_have_text("Delete the draft “Half done”?")
    check_page(page, "26-delete-draft")
    page.get_by_role("button", name="Delete draft").click()
    expect(page.locator("tr[data-feed-name='half done']")).to_have_count(0)
    assert not Feed.objects.filter(pk=draft.pk).exists()


def test_stop_at_shows_where_it_applies_and_says_what_to_fix(page_as, editor, active_feed):
    active_feed.data_model.timestamp_field = "updated_at"
    active_feed.data_model.save()
    page = page_as(editor)
    page.goto(f"/w/acme/feeds/{active_feed.pk}/setup/schedule/")
    stop_at = page.get_by_label("Stop at (UTC)")
    expect(stop_at).to_be_visible()  # incremental on a timestamptz iterator
    page.get_by_label(re.compile("^Full")).check()
    expect(stop_at).to_be_hidden()
    page.get_by_label(re.compile("^Incremental")).check()
    page.get_by_label("Iterator data type").select_option("integer")
    expect(stop_at).to_be_hidden()  # a number has no clock to stop at
    page.get_by_label("Iterator data type").select_option("timestamptz")
    expect(stop_at).to_be_visible()
    page.get_by_label("Sync Start Date (UTC)").fill("2024-06-30T12:00")
    stop_at.fill("2024-01-01T00:00")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#until-field")).to_contain_text(
        "Stop at (until) must be after the Sync Start Date (from)."
    )
    check_page(page, "20-schedule-stop-at-error")
    page.get_by_label("Stop at (UTC)").fill("2024-12-31T00:00")
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/setup/review/$"))
    expect(page.locator("body")).to_contain_text("Stop at")
    expect(page.locator("body")).to_contain_text("12/31/2024 12:00 AM UTC")
