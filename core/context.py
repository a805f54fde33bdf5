"""What a use case needs besides its session: the time, the rules, the calendar, secrets,
files and the public address. Built once per request or scheduler run and passed explicitly
(STYLE.md 2: no request globals below the view)."""
from __future__ import annotations

import threading
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

    return Context(now=now, rulebook=app.extensions["rulebook"], calendar=LazyCalendar(lambda: load_calendar(session)),
                   vault=app.extensions["identity_vault"], store=file_store(app),
                   base_url=app.config["PUBLIC_BASE_URL"])


class LazyCalendar:
    """The holiday calendar, read from the database the first time a use case asks (most
    requests, a bid among them, never do). Behaves as the :class:`WorkCalendar` it loads."""

    def __init__(self, load):
        self._load = load
        self._calendar: WorkCalendar | None = None
        self._lock = threading.Lock()

    def loaded(self) -> WorkCalendar:
        if self._calendar is None:
            with self._lock:
                if self._calendar is None:
                    self._calendar = self._load()
        return self._calendar

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.loaded(), name)
