"""The one clock every service, job and bid reads.

In production the clock is the real UTC time. Outside production (``CLOCK=simulated``) an
administrator may move it forward, never back; the offset lives in the database
(:class:`core.models.ClockState`) so every process (web workers, the scheduler) sees the same
time, and listeners (the in-process scheduler) are woken when it moves. A scheduler in another
process notices the change on its next sweep (see docs/decisions/0003-clock.md).
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.models import ClockState

UTC = timezone.utc
_OFFSET_CACHE_SECONDS = 0.5
_DURATION_RE = re.compile(r"(\d+)\s*(w|d|h|m|s)", re.IGNORECASE)
_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


class ClockError(ValueError):
    """The clock cannot be moved as asked (backwards, in production, or a bad value)."""


def utc_now() -> datetime:
    """The real time, aware, in UTC. Only :class:`Clock` should call this."""
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """Parse ``3d``, ``2h30m``, ``1w 2d``, ``90s`` into a positive :class:`timedelta`.

    :raise ClockError: for anything else, including zero.
    """
    cleaned = (text or "").strip()
    pos = 0
    seconds = 0
    for match in _DURATION_RE.finditer(cleaned):
        if cleaned[pos:match.start()].strip():
            raise ClockError(f"cannot read duration {text!r}; use e.g. 3d, 2h30m, 90s")
        seconds += int(match.group(1)) * _UNITS[match.group(2).lower()]
        pos = match.end()
    if not cleaned or cleaned[pos:].strip() or seconds <= 0:
        raise ClockError(f"cannot read duration {text!r}; use e.g. 3d, 2h30m, 90s")
    return timedelta(seconds=seconds)


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant that carries its offset (``2026-12-01T10:00+08:00``).

    :raise ClockError: when the text is not ISO 8601 or has no offset.
    """
    try:
        value = datetime.fromisoformat((text or "").strip())
    except ValueError as exc:
        raise ClockError(f"cannot read time {text!r}; use e.g. 2026-12-01T10:00+08:00") from exc
    if value.tzinfo is None:
        raise ClockError(f"time {text!r} has no offset; add one, e.g. +08:00")
    return value.astimezone(UTC)


class Clock:
    """Platform time: real, or real plus a stored, forward-only offset."""

    def __init__(self, mode: str, session_factory: Callable[[], Session] | None = None):
        self.mode = mode
        self._session_factory = session_factory
        self._lock = threading.Lock()
        self._cached_offset = timedelta(0)
        self._cached_at = float("-inf")
        self._listeners: list[Callable[[], None]] = []

    @property
    def simulated(self) -> bool:
        return self.mode == "simulated"

    def now(self) -> datetime:
        """The platform's current time, aware UTC."""
        if not self.simulated:
            return utc_now()
        return utc_now() + self.offset()

    def offset(self) -> timedelta:
        """The simulated offset (zero on a real clock), cached for half a second."""
        if not self.simulated:
            return timedelta(0)
        mono = time.monotonic()
        with self._lock:
            if mono - self._cached_at < _OFFSET_CACHE_SECONDS:
                return self._cached_offset
        offset = self._read_offset()
        with self._lock:
            self._cached_offset, self._cached_at = offset, mono
        return offset

    def invalidate(self) -> None:
        """Forget the cached offset (after this or another process moved the clock)."""
        with self._lock:
            self._cached_at = float("-inf")

    def _read_offset(self) -> timedelta:
        if self._session_factory is None:
            return timedelta(0)
        with self._session_factory() as session:
            if isinstance(session.get_bind(), Engine):
                # A read: on SQLite it must not take the write lock (see core.db._on_begin).
                session.connection(execution_options={"sqlite_read_only": True})
            state = session.get(ClockState, 1)
            return timedelta(microseconds=state.offset_us) if state else timedelta(0)

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (no arguments) after the clock has been moved by this process."""
        self._listeners.append(callback)

    def notify_moved(self) -> None:
        self.invalidate()
        for callback in list(self._listeners):
            callback()


def _move(session: Session, clock: Clock, *, actor: str, target: datetime | None = None,
          delta: timedelta | None = None) -> datetime:
    from core import audit

    if not clock.simulated:
        raise ClockError("the clock is real here (CLOCK=real); it cannot be moved")
    state = session.execute(
        select(ClockState).where(ClockState.id == 1).with_for_update()
    ).scalar_one_or_none()
    if state is None:
        state = ClockState(id=1, offset_us=0)
        session.add(state)
        session.flush()
    real = utc_now()
    old_offset = timedelta(microseconds=state.offset_us)
    current = real + old_offset
    if delta is not None:
        target = current + delta
        new_offset = old_offset + delta
    else:
        new_offset = target - real
    if target <= current or new_offset <= old_offset:
        raise ClockError(
            f"the clock only moves forward: {target.isoformat()} is not after "
            f"{current.isoformat()}"
        )
    state.offset_us = new_offset // timedelta(microseconds=1)
    state.moved_at = real
    audit.record(
        session,
        stream="platform",
        actor=actor,
        action="clock.moved",
        subject="clock",
        payload={"from": current.isoformat(), "to": target.isoformat()},
        now=target,
    )
    session.commit()
    clock.notify_moved()
    return target


def move_clock(session: Session, clock: Clock, *, target: datetime, actor: str) -> datetime:
    """Move the simulated clock forward to ``target`` and record it in the audit ledger.

    Commits. Returns the new platform time.

    :raise ClockError: on a real clock, or when ``target`` is not after the current time.
    """
    if target.tzinfo is None:
        raise ClockError("target time has no offset")
    return _move(session, clock, actor=actor, target=target)


def advance_clock(session: Session, clock: Clock, *, delta: timedelta, actor: str) -> datetime:
    """Move the simulated clock forward by exactly ``delta`` (see :func:`move_clock`)."""
    if delta <= timedelta(0):
        raise ClockError("the clock only moves forward")
    return _move(session, clock, actor=actor, delta=delta)
