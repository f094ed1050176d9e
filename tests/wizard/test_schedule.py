"""Sync settings: environment, input protection, sync mode and iterator check, schedule and its run times."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from feeds.schedule.checks import summarize
from feeds.schedule.forms import ScheduleForm
from feeds.schedule.rules import suggested_iterator_type
from feeds.warehouses.base import POSTGRES_ITERATOR_TYPES
from tests.personas import client_for

HTMX = {"HTTP_HX_REQUEST": "true"}
COLUMNS = ["customer_id", "email", "first_name", "plan", "updated_at"]
TYPES = ("timestamp", "timestamptz", "date", "integer")


def url(feed, tail=""):
    return f"/w/acme/feeds/{feed.pk}/setup/schedule/{tail}"


def settings_data(**extra):
    data = {
        "environment": "development",
        "input_protection": "create_and_update",
        "sync_mode": "incremental",
        "iterator": "updated_at",
        "iterator_type": "timestamptz",
        "schedule_type": "interval",
        "frequency": "hourly",
        "schedule_start": "2023-11-15T19:00",
        "from_time": "",
    }
    return {**data, **extra}


def form(**extra):
    return ScheduleForm(
        settings_data(**extra), columns=COLUMNS, iterator_types=TYPES, timestamp_field="updated_at"
    )


def test_it_accepts_complete_incremental_interval_settings():
    f = form()
    assert f.is_valid(), f.errors
    assert f.cleaned_data["schedule_start"] == datetime(2023, 11, 15, 19, 0, tzinfo=UTC)


def test_it_requires_an_iterator_for_incremental_syncs():
    f = form(iterator="", iterator_type="")
    assert not f.is_valid()
    assert "Pick the iterator column" in f.errors["iterator"][0]
    assert "Pick the iterator data type" in f.errors["iterator_type"][0]


def test_it_refuses_an_iterator_type_the_warehouse_does_not_have():
    assert "iterator_type" in form(iterator_type="timestamp_ntz").errors


def test_it_needs_no_iterator_for_a_full_sync_and_clears_it():
    f = form(sync_mode="full", iterator="", iterator_type="")
    assert f.is_valid(), f.errors
    assert f.values()["iterator"] == ""


def test_it_requires_frequency_and_start_for_interval_schedules():
    f = form(frequency="", schedule_start="")
    assert "frequency" in f.errors and "schedule_start" in f.errors


def test_it_needs_nothing_more_for_on_demand_and_forgets_the_start():
    f = form(schedule_type="on_demand", frequency="", schedule_start="")
    assert f.is_valid(), f.errors
    assert f.values()["schedule_start"] is None


def test_it_refuses_a_sync_start_date_without_a_timestamp_field():
    f = ScheduleForm(
        settings_data(from_time="2026-01-01T00:00"), columns=COLUMNS, iterator_types=TYPES, timestamp_field=""
    )
    assert "timestamp field" in f.errors["from_time"][0]


def test_it_shows_the_next_five_run_times_live(workspace, editor, modelled):
    data = {"schedule_type": "interval", "frequency": "hourly", "schedule_start": "2099-11-15T19:00"}
    html = client_for(editor).get(url(modelled, "preview/"), data, **HTMX).content.decode()
    assert "initial 11/15/2099 07:00 PM UTC" in html and "next 11/15/2099 08:00 PM UTC" in html
    assert html.count("<li>") == 5 and "<html" not in html


def test_it_shows_the_next_runs_after_now_for_a_past_start(workspace, editor, modelled):
    data = {"schedule_type": "interval", "frequency": "daily", "schedule_start": "2020-01-01T07:00"}
    html = client_for(editor).get(url(modelled, "preview/"), data, **HTMX).content.decode()
    assert "initial" not in html and "07:00 AM UTC" in html and html.count("<li>") == 5


def test_it_shows_no_run_times_for_on_demand(workspace, editor, modelled):
    html = (
        client_for(editor)
        .get(url(modelled, "preview/"), {"schedule_type": "on_demand"}, **HTMX)
        .content.decode()
    )
    assert "<li>" not in html


def test_it_checks_the_iterator_on_a_sample(workspace, editor, modelled):
    html = client_for(editor).post(url(modelled, "iterator-check/"), {"iterator": "updated_at"}, **HTMX)
    text = html.content.decode()
    assert "Sample of 200 rows" in text and "0 empty" in text and "with time zone" in text


def test_it_warns_about_nulls_future_values_and_naive_timestamps():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    values = [None, datetime(2030, 1, 1), datetime(2025, 1, 1), datetime(2025, 1, 1)]
    check = summarize(values, now)
    assert (check.nulls, check.future, check.ties, check.zoned) == (1, 1, 2, False)
    text = " ".join(check.warnings)
    assert "25.0% of the sampled rows have no value" in text and "lie in the future" in text
    assert "no time zone" in text


def test_it_saves_the_settings_and_goes_to_review(workspace, editor, modelled):
    response = client_for(editor).post(url(modelled), settings_data())
    assert response.status_code == 302 and response["Location"].endswith("/setup/review/")
    modelled.refresh_from_db()
    assert (modelled.environment, modelled.iterator, modelled.frequency) == (
        "development",
        "updated_at",
        "hourly",
    )
    assert modelled.schedule_start == datetime(2023, 11, 15, 19, 0, tzinfo=UTC)


def test_it_explains_each_input_protection_level(workspace, editor, modelled):
    html = client_for(editor).get(url(modelled)).content.decode()
    assert "only profiles that already exist are updated" in html.lower()
    assert "Identities and attributes never change" in html and "Full sync reads every row" in html


def test_it_refuses_changes_from_a_viewer(workspace, viewer, modelled):
    client = client_for(viewer)
    assert client.get(url(modelled)).status_code == 200
    assert client.post(url(modelled), settings_data()).status_code == 403
    assert client.post(url(modelled, "iterator-check/"), {"iterator": "updated_at"}).status_code == 403


def test_it_keeps_the_lookback_window_time_zone_and_end_date():
    f = form(lookback_minutes="90", timezone="Europe/Paris", schedule_end="2024-01-01T00:00")
    assert f.is_valid(), f.errors
    values = f.values()
    assert values["lookback_seconds"] == 5400 and values["timezone"] == "Europe/Paris"
    assert values["schedule_end"] == datetime(2024, 1, 1, tzinfo=UTC)


def test_it_reads_zoneless_timestamps_as_utc_unless_told_otherwise():
    utc = form()
    assert utc.is_valid(), utc.errors
    assert utc.values()["timezone"] == "UTC"
    assert "timezone" in form(timezone="Mars/Olympus").errors


def test_it_refuses_an_end_date_before_the_initial_sync():
    assert "after the initial sync" in form(schedule_end="2023-11-01T00:00").errors["schedule_end"][0]


def test_it_warns_when_most_sampled_rows_share_their_iterator_value():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    day = datetime(2025, 1, 1, tzinfo=UTC)
    mostly_tied = summarize([day, day, day, datetime(2025, 1, 2, tzinfo=UTC)], now)
    assert mostly_tied.ties == 3
    assert any("Most sampled rows share their value" in w for w in mostly_tied.warnings)
    half_tied = summarize([day, day, datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 3, tzinfo=UTC)], now)
    assert half_tied.ties == 2 and half_tied.warnings == []


def test_it_shows_a_viewer_the_saved_schedules_run_times(workspace, editor, viewer, modelled):
    from feeds import wizard

    start = datetime(2099, 11, 15, 19, tzinfo=UTC)
    values = {"schedule_type": "interval", "frequency": "hourly", "schedule_start": start}
    wizard.save_section(modelled, "schedule", values, editor)
    client = client_for(viewer)
    page = client.get(url(modelled)).content.decode()
    assert f'hx-get="/w/acme/feeds/{modelled.pk}/setup/schedule/preview/"' in page
    # A viewer's disabled form sends no values: the fragment shows the saved schedule's runs.
    response = client.get(url(modelled, "preview/"), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "initial 11/15/2099 07:00 PM UTC" in html
    assert html.count("<li>") == 5 and "text-danger" not in html


def test_it_suggests_the_iterator_data_type_from_each_columns_type(workspace, editor, modelled):
    html = client_for(editor).get(f"/w/acme/feeds/{modelled.pk}/setup/schedule/").content.decode()
    suggested = re.search(r'data-suggested-types="([^"]*)"', html).group(1)
    types = json.loads(suggested.replace("&quot;", '"'))
    assert types["updated_at"] == "timestamptz"  # the demo's TIMESTAMPTZ column
    assert "email" not in types  # text is no iterator type


def test_it_prefills_the_type_of_a_saved_iterator_without_one(workspace, editor, modelled):
    from feeds import wizard

    wizard.save_section(modelled, "schedule", {"sync_mode": "incremental", "iterator": "updated_at"}, editor)
    html = client_for(editor).get(f"/w/acme/feeds/{modelled.pk}/setup/schedule/").content.decode()
    assert '<option value="timestamptz" selected>' in html


def test_suggested_iterator_types_follow_the_warehouse_s_own_names():
    column = {"name": "at", "type": "timestamp_tz", "warehouse_type": "TIMESTAMP WITH TIME ZONE"}
    assert suggested_iterator_type(column, POSTGRES_ITERATOR_TYPES) == "timestamptz"
    assert suggested_iterator_type(column, ("timestamp_ltz", "timestamp_tz", "date")) == "timestamp_tz"
    assert suggested_iterator_type({"type": "integer", "warehouse_type": "BIGINT"}, ("integer",)) == "integer"
    assert (
        suggested_iterator_type({"type": "string", "warehouse_type": "TEXT"}, POSTGRES_ITERATOR_TYPES) == ""
    )


def test_the_time_zone_is_typed_with_suggestions_and_checked(workspace, editor, modelled):
    html = client_for(editor).get(f"/w/acme/feeds/{modelled.pk}/setup/schedule/").content.decode()
    assert 'list="timezones"' in html and '<option value="Europe/Berlin">' in html
    assert "Pick a time zone from the list" in str(form(timezone="Berlin").errors["timezone"])


# --- "Stop at": the iterator's end (the API's sync_mode.until) ------------------------------------------


def test_it_saves_a_stop_at_and_shows_it_again(workspace, editor, modelled):
    data = settings_data(from_time="2023-01-01T00:00", until_time="2024-06-30T12:00")
    response = client_for(editor).post(url(modelled), data)
    assert response.status_code == 302
    modelled.refresh_from_db()
    assert modelled.until_time == datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
    page = client_for(editor).get(url(modelled)).content.decode()
    assert 'name="until_time" value="2024-06-30T12:00"' in page
    assert "Stop at (UTC)" in page
    review = client_for(editor).get(f"/w/acme/feeds/{modelled.pk}/setup/review/").content.decode()
    assert "Stop at" in review and "06/30/2024 12:00 PM UTC" in review


def test_a_stop_at_must_follow_the_sync_start_date_as_the_api_says():
    f = form(from_time="2024-06-30T12:00", until_time="2024-01-01T00:00")
    assert not f.is_valid()
    assert f.errors["until_time"] == ["Stop at (until) must be after the Sync Start Date (from)."]


def test_a_stop_at_is_dropped_where_it_does_not_apply():
    # Hidden on the page for full syncs and number iterators, as the iterator of a full sync is not kept.
    full = form(sync_mode="full", until_time="2024-01-01T00:00")
    assert full.is_valid(), full.errors
    assert full.values()["until_time"] is None
    number = form(iterator="customer_id", iterator_type="integer", until_time="2024-01-01T00:00")
    assert number.is_valid(), number.errors
    assert number.values()["until_time"] is None


def test_the_page_tells_the_script_which_iterator_types_take_a_stop_at(workspace, editor, modelled):
    html = client_for(editor).get(url(modelled)).content.decode()
    select = re.search(r'<select[^>]*name="iterator_type"[^>]*>', html).group(0)
    clocks = json.loads(re.search(r'data-clock-types="([^"]*)"', select).group(1).replace("&quot;", '"'))
    assert "timestamptz" in clocks and "date" in clocks and "integer" not in clocks
    assert 'id="until-field"' in html
