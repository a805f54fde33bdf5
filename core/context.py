"""What a use case needs besides its session: the time, the rules, the calendar, secrets,
files and the public address. Built once per request or scheduler run and passed explicitly
(STYLE.md 2: no request globals below the view)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.calendar import WorkCalendar


@dataclass(frozen=True)
class Context:
    now: datetime
    rulebook: object
    calendar: WorkCalendar
    vault: object
    store: object = None
    base_url: str = "http://127.0.0.1:5000"


def context_for(app, session, now: datetime) -> Context:
    """The context of ``app`` at ``now`` (the holiday calendar read from ``session``)."""
    from core.files import file_store
    from core.holidays import load_calendar

    return Context(now=now, rulebook=app.extensions["rulebook"], calendar=load_calendar(session),
                   vault=app.extensions["identity_vault"], store=file_store(app),
                   base_url=app.config["PUBLIC_BASE_URL"])
