"""The holiday calendar the administrator maintains (decision 20), and its 2026 defaults."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.calendar import WorkCalendar
from core.models import CalendarDay
from core.text import N_, DomainError


class CalendarError(DomainError):
    message = N_("This calendar entry is not valid.")


def load_calendar(session: Session) -> WorkCalendar:
    """The calendar as stored (read per use: it is small and changes rarely)."""
    rows = session.execute(select(CalendarDay.day, CalendarDay.kind)).all()
    return WorkCalendar(holidays=frozenset(d for d, k in rows if k == "holiday"),
                        workdays=frozenset(d for d, k in rows if k == "workday"))


def set_day(session: Session, *, day: date, kind: str, name: str, actor: str, now: datetime) -> CalendarDay:
    """Mark ``day`` as a holiday or an adjusted working day (replacing any entry). Commits.

    :raise CalendarError: unknown kind, no name, or a working day marked on a weekday.
    """
    if kind not in ("holiday", "workday"):
        raise CalendarError(N_("Choose holiday or adjusted working day."))
    if not (name or "").strip():
        raise CalendarError(N_("Give the holiday's name."))
    if kind == "workday" and day.weekday() < 5:
        raise CalendarError(N_("Only a Saturday or Sunday can be made a working day."))
    row = session.get(CalendarDay, day) or CalendarDay(day=day)
    row.kind, row.name = kind, name.strip()[:60]
    session.add(row)
    audit.record(session, stream="platform", actor=actor, action="calendar.set", subject=f"day:{day.isoformat()}",
                 payload={"kind": kind, "name": row.name}, now=now)
    session.commit()
    return row


def remove_day(session: Session, *, day: date, actor: str, now: datetime) -> None:
    row = session.get(CalendarDay, day)
    if row is None:
        return
    session.delete(row)
    audit.record(session, stream="platform", actor=actor, action="calendar.removed",
                 subject=f"day:{day.isoformat()}", payload={}, now=now)
    session.commit()


def _span(first: date, days: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(days)]


#: The State Council's 2026 holiday arrangement (国务院办公厅关于2026年部分节假日安排的通知).
#: Loaded by the demo seed; the administrator checks and maintains it.
HOLIDAYS_2026: list[tuple[date, str, str]] = [
    *[(d, "holiday", "元旦") for d in _span(date(2026, 1, 1), 3)], (date(2026, 1, 4), "workday", "元旦调休"),
    *[(d, "holiday", "春节") for d in _span(date(2026, 2, 15), 9)],
    (date(2026, 2, 14), "workday", "春节调休"), (date(2026, 2, 28), "workday", "春节调休"),
    *[(d, "holiday", "清明节") for d in _span(date(2026, 4, 4), 3)],
    *[(d, "holiday", "劳动节") for d in _span(date(2026, 5, 1), 5)], (date(2026, 5, 9), "workday", "劳动节调休"),
    *[(d, "holiday", "端午节") for d in _span(date(2026, 6, 19), 3)],
    *[(d, "holiday", "中秋节") for d in _span(date(2026, 9, 25), 3)],
    *[(d, "holiday", "国庆节") for d in _span(date(2026, 10, 1), 7)],
    (date(2026, 9, 20), "workday", "国庆节调休"), (date(2026, 10, 10), "workday", "国庆节调休"),
]


def seed_calendar(session: Session, *, now: datetime, rulebook) -> list[str]:
    """Demo seed: the 2026 calendar (idempotent)."""
    if session.scalar(select(CalendarDay.day).limit(1)) is not None:
        return []
    for day, kind, name in HOLIDAYS_2026:
        session.add(CalendarDay(day=day, kind=kind, name=name))
    audit.record(session, stream="platform", actor="system:seed", action="calendar.loaded", subject="calendar",
                 payload={"year": 2026, "entries": len(HOLIDAYS_2026)}, now=now)
    session.commit()
    return ["Holiday calendar: 2026 statutory holidays loaded (administrator: check and maintain)"]
