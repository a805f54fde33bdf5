"""Counting legal periods in days (RULES.md F01, decisions 3 and 20). Pure: no database.

* A **window** of N days (objections, report deadlines, extension requests) excludes its
  start day; when its last day is not a working day (weekend or statutory holiday, minus the
  adjusted working days 调休) it ends on the next working day.
* A **lead time** (announcement before the auction, notice before the announcement) is plain
  calendar days between two dates in Asia/Shanghai: ``later − earlier ≥ N``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class WorkCalendar:
    """Statutory holidays and adjusted working days, as the administrator maintains them."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    #: Weekend days the State Council made working days (调休上班).
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day


def window_last_day(start: date, days: int, calendar: WorkCalendar) -> date:
    """Last day of an N-day window that starts on ``start`` (F01: the start day is not
    counted; a last day that is not a working day moves to the next working day)."""
    if days < 0:
        raise ValueError("a window cannot have a negative length")
    return calendar.next_working_day(start + timedelta(days=days))


def window_open(start: date, days: int, today: date, calendar: WorkCalendar) -> bool:
    """Whether ``today`` is still inside the window (its last day included)."""
    return today <= window_last_day(start, days, calendar)


def lead_time_met(earlier: date, later: date, days: int) -> bool:
    """Decision 3: ``later − earlier ≥ days`` in calendar days (no holiday shift)."""
    return (later - earlier).days >= days


def local_date(at: datetime) -> date:
    """The calendar day in Asia/Shanghai of an aware instant."""
    return at.astimezone(SHANGHAI).date()


def end_of_local_day(day: date) -> datetime:
    """The first instant after ``day`` in Asia/Shanghai (a window's last day runs to midnight)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)
