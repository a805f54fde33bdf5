"""Scheduler wiring: one active scheduler per deployment that runs everything that is due.

Design (docs/decisions/0004-scheduler.md):

* Packages register *due sources* (``run_due(session, now) -> int`` that claims and processes
  every item due at ``now``, idempotently, plus optionally ``upcoming(session) -> [datetime]``)
  and *periodic jobs* (anchoring the ledger, sending the outbox).
* A one-second sweep calls every due source with the platform time, so nothing is lost when
  the scheduler was down, restarted or duplicated, and a clock jump is caught at once.
* Precise date jobs are armed in an in-memory job store rebuilt from the database at start
  (and whenever the simulated clock moves), with ``misfire_grace_time=None`` and coalescing.
* Several schedulers may run; only the one holding the lock acts (a PostgreSQL session-level
  advisory lock, or an exclusive file lock next to a SQLite database). The others stand by and
  take over when the holder dies.
* Never started at import or in a web worker: only ``flask --app wsgi scheduler run`` and the
  development server ``flask --app wsgi serve`` start one.
* Two *lanes*: ``main`` (closes, deadlines, draws, housekeeping: short transactions that must
  be on time) and ``documents`` (rendering PDFs filed after a close: seconds of CPU each). In
  production ``scheduler run`` runs each lane in its own process with its own leadership, so a
  long transcript never delays a close (not even through the GIL); in development and tests
  one scheduler runs both.
"""
from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.models import SchedulerHeartbeat

log = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x4A_55_44_49  # "JUDI": one scheduler per database (and lane)
MAIN, DOCUMENTS = "main", "documents"
LANES = (MAIN, DOCUMENTS)
SWEEP_SECONDS = 1.0
ARM_HORIZON = timedelta(days=2)


@dataclass(frozen=True)
class DueSource:
    """Work that becomes due at stored times (rounds ending, windows lapsing, draws)."""

    name: str
    run_due: Callable[[Session, datetime], int]
    upcoming: Callable[[Session], Iterable[datetime]] | None = None
    #: ``documents`` for work that renders PDFs (seconds of CPU); see the module's docstring.
    lane: str = MAIN


@dataclass(frozen=True)
class PeriodicJob:
    """Housekeeping run every ``every`` of real time by the active scheduler."""

    name: str
    every: timedelta
    run: Callable[[Session, datetime], object]


def register_due_source(app, source: DueSource) -> None:
    app.extensions["due_sources"].append(source)


def register_periodic(app, job: PeriodicJob) -> None:
    app.extensions["periodic_jobs"].append(job)


class Leadership:
    """Who may act: the holder of a PostgreSQL advisory lock or of a file lock (SQLite)."""

    def __init__(self, database, lock_dir: str, lane: str = MAIN):
        self.database = database
        self.lock_dir = lock_dir
        self.key = ADVISORY_LOCK_KEY + LANES.index(lane)
        self.lock_name = "scheduler.lock" if lane == MAIN else f"scheduler-{lane}.lock"
        self._conn = None
        self._fh = None
        # The sweep, date jobs and periodic jobs ask from different threads; the lock's
        # connection must never be used by two at once (a clash looked like a lost lock and
        # handed leadership to a standby while this scheduler was still acting).
        self._mutex = threading.RLock()

    def try_acquire(self) -> bool:
        with self._mutex:
            return self._try_acquire()

    def _try_acquire(self) -> bool:
        if self.held:
            return self._still_held()
        if self.database.dialect == "postgresql":
            conn = self.database.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            conn.commit()
            if got:
                self._conn = conn
            else:
                conn.close()
            return bool(got)
        Path(self.lock_dir).mkdir(parents=True, exist_ok=True)
        fh = open(Path(self.lock_dir) / self.lock_name, "a+")  # noqa: SIM115 - held while leading
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._fh = fh
        return True

    @property
    def held(self) -> bool:
        return self._conn is not None or self._fh is not None

    def _still_held(self) -> bool:
        if self._conn is None:
            return True
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except Exception:  # noqa: BLE001 - a dead connection means the lock is gone
            log.warning("scheduler lost its database connection; standing by", exc_info=True)
            self._release()
            return False

    def release(self) -> None:
        with self._mutex:
            self._release()

    def _release(self) -> None:
        if self._conn is not None:
            # A session-level advisory lock lives as long as the server connection: never hand
            # that connection back to the pool, close it for real.
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:  # noqa: BLE001
                pass
            self._conn = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class PlatformScheduler:
    """The scheduler process (or thread, in development). ``lane=None`` runs every lane under
    the main lane's leadership (development, tests, ``scheduler tick``); ``main`` or
    ``documents`` runs one lane under that lane's own leadership."""

    def __init__(self, app, *, blocking: bool = False, name: str | None = None, lane: str | None = None):
        if lane is not None and lane not in LANES:
            raise ValueError(f"unknown scheduler lane {lane!r}")
        self.app = app
        self.lane = lane
        self.database = app.extensions["database"]
        self.clock = app.extensions["clock"]
        base = name or f"{socket.gethostname()}:{os.getpid()}"
        self.name = base if lane in (None, MAIN) else f"{base}/{lane}"
        self.leadership = Leadership(self.database, app.instance_path, lane or MAIN)
        self._offset_seen: timedelta | None = None
        self._stopped = False
        self._sweep_lock = threading.Lock()
        cls = BlockingScheduler if blocking else BackgroundScheduler
        self.aps = cls(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone=timezone.utc,
        )

    @property
    def sources(self) -> list[DueSource]:
        every = self.app.extensions["due_sources"]
        return every if self.lane is None else [s for s in every if s.lane == self.lane]

    def session(self) -> Session:
        return self.app.extensions["session_factory"]()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.aps.add_job(self.sweep, "interval", seconds=SWEEP_SECONDS, id="sweep",
                         next_run_time=datetime.now(timezone.utc))
        for job in self.app.extensions["periodic_jobs"] if self.lane in (None, MAIN) else []:
            self.aps.add_job(self._periodic, "interval", seconds=job.every.total_seconds(),
                             id=f"periodic:{job.name}", args=[job])
        self.clock.add_listener(self.wake)
        log.info("scheduler %s starting (lane %s, %d due sources)", self.name, self.lane or "all",
                 len(self.sources))
        self.aps.start()

    def shutdown(self) -> None:
        """Stop: no job may take the lock again, running jobs finish, then the lock goes (a
        sweep still running after the release would otherwise open a new lock connection)."""
        self._stopped = True
        try:
            if self.aps.running:
                self.aps.shutdown(wait=True)
        finally:
            self.leadership.release()

    def wake(self) -> None:
        """The clock moved (in this process): rebuild timers and run what became due now."""
        self.aps.add_job(self._wake, id="wake", replace_existing=True)

    def _wake(self) -> None:
        self.rebuild()
        self.sweep()

    # -- acting ----------------------------------------------------------------------------
    def is_leader(self) -> bool:
        if self._stopped:
            return False
        return self.leadership.try_acquire()

    def sweep(self) -> int:
        """Heartbeat, then run every due source at the platform time. Returns items processed."""
        if not self._sweep_lock.acquire(blocking=False):
            return 0
        try:
            leader = self.is_leader()
            self._heartbeat(leader)
            if not leader:
                return 0
            offset = self.clock.offset() if self.clock.simulated else timedelta(0)
            if self.clock.simulated:
                self.clock.invalidate()
                offset = self.clock.offset()
            if offset != self._offset_seen:
                first = self._offset_seen is None
                self._offset_seen = offset
                if not first:
                    log.info("clock moved (offset %s); re-arming timers", offset)
                self.rebuild()
            return self.run_due()
        finally:
            self._sweep_lock.release()

    def run_due(self, only: str | None = None) -> int:
        done = 0
        for source in self.sources:
            if only and source.name != only:
                continue
            now = self.clock.now()
            with self.session() as session:
                try:
                    done += source.run_due(session, now) or 0
                except Exception:  # noqa: BLE001 - one failing source must not stop the others
                    session.rollback()
                    log.exception("due source %s failed", source.name)
        return done

    def rebuild(self) -> None:
        """Arm one date job per upcoming due time (memory store rebuilt from the database)."""
        for job in self.aps.get_jobs():
            if job.id.startswith("due:"):
                try:
                    job.remove()
                except JobLookupError:
                    pass  # it fired (and was dropped) meanwhile
        offset = self.clock.offset()
        horizon = datetime.now(timezone.utc) + ARM_HORIZON
        armed = 0
        for source in self.sources:
            if source.upcoming is None:
                continue
            with self.session() as session:
                times = sorted(set(source.upcoming(session)))
            for due_at in times:
                run_at = due_at - offset
                if run_at > horizon:
                    continue
                self.aps.add_job(self._run_source, "date", run_date=run_at, args=[source.name],
                                 id=f"due:{source.name}:{due_at.isoformat()}", replace_existing=True)
                armed += 1
        log.info("scheduler armed %d timers", armed)

    def _run_source(self, name: str) -> None:
        if self.is_leader():
            self.run_due(only=name)

    def _periodic(self, job: PeriodicJob) -> None:
        if not self.is_leader():
            return
        with self.session() as session:
            try:
                job.run(session, self.clock.now())
            except Exception:  # noqa: BLE001
                session.rollback()
                log.exception("periodic job %s failed", job.name)

    def _heartbeat(self, leader: bool) -> None:
        real = datetime.now(timezone.utc)
        with self.session() as session:
            try:
                beat = session.get(SchedulerHeartbeat, self.name)
                if beat is None:
                    beat = SchedulerHeartbeat(name=self.name, beat_at=real)
                    session.add(beat)
                beat.beat_at, beat.active = real, leader
                if leader:
                    beat.last_sweep_at = real
                session.commit()
            except Exception:  # noqa: BLE001 - a missed heartbeat is not fatal
                session.rollback()
                log.warning("scheduler heartbeat failed", exc_info=True)


def register_core_jobs(app) -> None:
    """Housekeeping of the core: anchor the ledger every minute, send the outbox every 3 s."""
    from core.audit import anchor_streams
    from core.notify import mailer_for, send_pending

    mailer = mailer_for(app.config)
    register_periodic(app, PeriodicJob("audit-anchor", timedelta(seconds=60),
                                       lambda s, now: anchor_streams(s, now=now)))
    register_periodic(app, PeriodicJob("outbox", timedelta(seconds=3),
                                       lambda s, now: send_pending(s, mailer=mailer, now=now)))
