"""Schedule math: interval runs anchored on the initial sync time in UTC (start + k × frequency)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from feeds.sync.scheduling import add_months, next_run_times


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_it_keeps_hourly_runs_on_the_start_minute():
    times = next_run_times("interval", "hourly", utc(2026, 3, 1, 0, 15), now=utc(2026, 3, 2, 10, 40))
    assert times == [utc(2026, 3, 2, h, 15) for h in (11, 12, 13, 14, 15)]


def test_it_runs_daily_at_the_start_time_of_day_in_utc():
    start = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))  # 07:30 UTC
    times = next_run_times("interval", "daily", start, count=3, now=utc(2026, 3, 10, 8))
    assert times == [utc(2026, 3, 11, 7, 30), utc(2026, 3, 12, 7, 30), utc(2026, 3, 13, 7, 30)]


def test_it_runs_weekly_on_the_start_weekday():
    times = next_run_times("interval", "weekly", utc(2026, 1, 7, 6), count=2, now=utc(2026, 2, 1))
    assert times == [utc(2026, 2, 4, 6), utc(2026, 2, 11, 6)]
    assert {t.weekday() for t in times} == {utc(2026, 1, 7).weekday()}


def test_it_clamps_monthly_runs_to_the_month_end_without_drifting():
    times = next_run_times("interval", "monthly", utc(2027, 1, 31, 12), now=utc(2027, 1, 1))
    assert times == [
        utc(2027, 1, 31, 12),
        utc(2027, 2, 28, 12),
        utc(2027, 3, 31, 12),
        utc(2027, 4, 30, 12),
        utc(2027, 5, 31, 12),
    ]
    assert add_months(utc(2028, 1, 31), 1) == utc(2028, 2, 29)  # leap year


def test_it_counts_a_start_in_the_future_as_the_first_run():
    start = utc(2030, 5, 5, 5, 5)
    assert next_run_times("interval", "daily", start, count=2, now=utc(2026, 1, 1)) == [
        start,
        start + timedelta(days=1),
    ]


def test_it_includes_a_run_due_exactly_now():
    now = utc(2026, 3, 3, 3)
    assert next_run_times("interval", "hourly", utc(2026, 3, 1), count=1, now=now) == [now]


def test_it_has_one_time_for_once_and_none_for_on_demand():
    now = utc(2026, 4, 1)
    assert next_run_times("once", None, utc(2026, 4, 2), now=now) == [utc(2026, 4, 2)]
    assert next_run_times("once", None, None, now=now) == [now]
    assert next_run_times("on_demand", None, utc(2026, 4, 2), now=now) == []


def test_it_lands_far_ahead_without_walking_every_interval():
    times = next_run_times("interval", "monthly", utc(2000, 8, 31), count=2, now=utc(2026, 9, 1))
    assert times == [utc(2026, 9, 30), utc(2026, 10, 31)]
