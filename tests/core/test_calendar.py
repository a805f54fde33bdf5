"""Counting periods (F01, decisions 3 and 20)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from core.calendar import WorkCalendar, end_of_local_day, lead_time_met, local_date, window_last_day, window_open

# 2026: National Day 1–7 October; Saturday 10 October is an adjusted working day.
CAL = WorkCalendar(holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
                   workdays=frozenset({date(2026, 10, 10), date(2026, 9, 20)}))


def test_the_start_day_is_not_counted():
    # Served on Monday 2 November: a 5-day objection window ends Saturday 7th → next working day.
    assert window_last_day(date(2026, 11, 2), 5, CAL) == date(2026, 11, 9)
    # Served Tuesday 3 November: ends Sunday 8th → Monday 9th.
    assert window_last_day(date(2026, 11, 3), 5, CAL) == date(2026, 11, 9)
    # Served Wednesday 4 November: ends Monday 9th as counted.
    assert window_last_day(date(2026, 11, 4), 5, CAL) == date(2026, 11, 9)
    assert window_last_day(date(2026, 11, 5), 5, CAL) == date(2026, 11, 10)


def test_a_window_ending_in_a_holiday_runs_to_the_next_working_day():
    assert window_last_day(date(2026, 9, 28), 5, CAL) == date(2026, 10, 8)


def test_an_adjusted_working_saturday_ends_a_window():
    assert window_last_day(date(2026, 10, 5), 5, CAL) == date(2026, 10, 10)


def test_inside_or_outside_the_window():
    assert window_open(date(2026, 11, 2), 5, date(2026, 11, 9), CAL)
    assert not window_open(date(2026, 11, 2), 5, date(2026, 11, 10), CAL)


def test_lead_times_are_plain_calendar_days():
    assert lead_time_met(date(2026, 10, 1), date(2026, 10, 31), 30)
    assert not lead_time_met(date(2026, 10, 2), date(2026, 10, 31), 30)


def test_days_are_beijing_days():
    assert local_date(datetime(2026, 11, 26, 16, 30, tzinfo=timezone.utc)) == date(2026, 11, 27)
    assert end_of_local_day(date(2026, 11, 27)).astimezone(timezone.utc) == datetime(2026, 11, 27, 16, 0, tzinfo=timezone.utc)
