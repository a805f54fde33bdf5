"""Scheduler wiring: due work runs at platform time, exactly one scheduler acts, a clock move
wakes it, missed work runs after a restart, and the heartbeat shows on /healthz."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest

from core import create_app
from core.clock import advance_clock
from core.scheduler import DueSource, PlatformScheduler, register_due_source
from tests.conftest import app_config, new_database


class FakeWork:
    """Items due at given platform times; ``run_due`` processes each once and says who did."""

    def __init__(self):
        self.due: dict[str, datetime] = {}
        self.done: dict[str, str] = {}
        self.lock = threading.Lock()

    def source(self, who: str) -> DueSource:
        def run_due(_session, now):
            with self.lock:
                ready = [k for k, at in self.due.items() if at <= now and k not in self.done]
                for k in ready:
                    self.done[k] = who
                return len(ready)

        return DueSource("fake", run_due, lambda _s: list(self.due.values()))


_apps = []


@pytest.fixture
def fresh_db(tmp_path):
    url, drop = new_database(tmp_path)
    yield url
    while _apps:
        _apps.pop().extensions["database"].dispose()
    drop()


def make_app(url, tmp_path, **extra):
    app = create_app(app_config(url, tmp_path / "instance", **extra))
    _apps.append(app)
    return app


def test_due_work_runs_once_and_only_when_due(fresh_db, tmp_path):
    app = make_app(fresh_db, tmp_path)
    work = FakeWork()
    register_due_source(app, work.source("a"))
    now = app.extensions["clock"].now()
    work.due = {"past": now - timedelta(hours=1), "future": now + timedelta(hours=1)}
    sched = PlatformScheduler(app, name="a")
    try:
        assert sched.sweep() == 1
        assert sched.sweep() == 0  # idempotent
        assert work.done == {"past": "a"}
    finally:
        sched.leadership.release()


def test_only_the_lock_holder_acts_and_a_standby_takes_over(fresh_db, tmp_path):
    app = make_app(fresh_db, tmp_path)
    work = FakeWork()
    now = app.extensions["clock"].now()
    work.due = {"x": now - timedelta(seconds=1)}
    first, second = PlatformScheduler(app, name="first"), PlatformScheduler(app, name="second")
    app.extensions["due_sources"][:] = []
    try:
        assert first.is_leader()
        assert not second.is_leader()
        register_due_source(app, work.source("shared"))
        assert second.sweep() == 0 and work.done == {}
        first.leadership.release()  # the leader dies
        assert second.sweep() == 1 and work.done == {"x": "shared"}
    finally:
        first.leadership.release()
        second.leadership.release()


def test_moving_the_clock_wakes_the_running_scheduler(fresh_db, tmp_path):
    app = make_app(fresh_db, tmp_path, CLOCK="simulated")
    work = FakeWork()
    register_due_source(app, work.source("s"))
    clock = app.extensions["clock"]
    work.due = {"in-three-days": clock.now() + timedelta(days=3)}
    sched = PlatformScheduler(app, name="s")
    sched.start()
    try:
        time.sleep(1.5)
        assert work.done == {}
        with app.extensions["session_factory"]() as s:
            advance_clock(s, clock, delta=timedelta(days=3, minutes=1), actor="test")
        deadline = time.monotonic() + 5
        while not work.done and time.monotonic() < deadline:
            time.sleep(0.05)
        assert work.done == {"in-three-days": "s"}
    finally:
        sched.shutdown()


def test_work_missed_while_the_scheduler_was_down_runs_at_start(fresh_db, tmp_path):
    app = make_app(fresh_db, tmp_path)
    work = FakeWork()
    register_due_source(app, work.source("late"))
    work.due = {"missed": app.extensions["clock"].now() - timedelta(hours=2)}
    sched = PlatformScheduler(app, name="late")
    sched.start()
    try:
        deadline = time.monotonic() + 5
        while not work.done and time.monotonic() < deadline:
            time.sleep(0.05)
        assert work.done == {"missed": "late"}
    finally:
        sched.shutdown()


def test_upcoming_work_is_armed_as_date_jobs_that_never_misfire(fresh_db, tmp_path):
    app = make_app(fresh_db, tmp_path)
    work = FakeWork()
    register_due_source(app, work.source("t"))
    work.due = {"soon": app.extensions["clock"].now() + timedelta(minutes=10)}
    sched = PlatformScheduler(app, name="t")
    sched.aps.start(paused=True)
    try:
        sched.rebuild()
        jobs = [j for j in sched.aps.get_jobs() if j.id.startswith("due:")]
        assert len(jobs) == 1
        assert jobs[0].misfire_grace_time is None and jobs[0].coalesce is True
    finally:
        sched.shutdown()


def test_healthz_reports_the_heartbeat(fresh_db, tmp_path):
    app = make_app(fresh_db, tmp_path)
    client = app.test_client()
    assert client.get("/healthz").json["scheduler"]["status"] == "absent"
    sched = PlatformScheduler(app, name="hb")
    sched.sweep()
    sched.leadership.release()
    body = client.get("/healthz").json
    assert body["database"] == "ok" and body["scheduler"]["status"] == "ok"
    assert body["scheduler"]["heartbeat_age_s"] < 30 and body["version"]


def test_each_lane_runs_only_its_sources_under_its_own_leadership(fresh_db, tmp_path):
    """Production runs the main lane and the documents lane in two processes: each lane has its
    own lock (both act at once), a second scheduler of the same lane stands by, and a
    scheduler without a lane (development) runs both lanes."""
    from core.scheduler import DOCUMENTS, MAIN

    app = make_app(fresh_db, tmp_path)
    app.extensions["due_sources"][:] = []
    closes, documents = FakeWork(), FakeWork()
    now = app.extensions["clock"].now()
    closes.due = {"round": now - timedelta(seconds=1)}
    documents.due = {"pdf": now - timedelta(seconds=1)}
    register_due_source(app, closes.source("main"))
    register_due_source(app, DueSource("pdf", documents.source("documents").run_due, lane=DOCUMENTS))
    main = PlatformScheduler(app, name="m", lane=MAIN)
    docs = PlatformScheduler(app, name="d", lane=DOCUMENTS)
    docs_standby = PlatformScheduler(app, name="d2", lane=DOCUMENTS)
    try:
        assert [s.name for s in main.sources] == ["fake"] and [s.name for s in docs.sources] == ["pdf"]
        assert main.is_leader() and docs.is_leader()
        assert not docs_standby.is_leader()
        assert docs.sweep() == 1 and documents.done == {"pdf": "documents"} and closes.done == {}
        assert main.sweep() == 1 and closes.done == {"round": "main"}
    finally:
        for s in (main, docs, docs_standby):
            s.leadership.release()
    both = PlatformScheduler(app, name="dev")
    closes.due["round-2"] = documents.due["pdf-2"] = now - timedelta(seconds=1)
    try:
        assert both.sweep() == 2
        assert closes.done["round-2"] == "main" and documents.done["pdf-2"] == "documents"
    finally:
        both.leadership.release()
    with pytest.raises(ValueError):
        PlatformScheduler(app, lane="reports")


def test_scheduler_run_starts_the_documents_lane_as_a_child_and_stops_it(tmp_path):
    """``flask scheduler run`` (production) acts in two processes, one per lane: both show a
    heartbeat as leaders of their lane; SIGTERM stops both."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from sqlalchemy import create_engine, select

    from core.models import SchedulerHeartbeat

    root = Path(__file__).resolve().parents[2]
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    env = {k: v for k, v in os.environ.items() if k not in ("RULEBOOK", "CLOCK", "TEST_DATABASE_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", INSTANCE_PATH=str(tmp_path / "instance"))
    subprocess.run([*flask, "db", "upgrade"], cwd=root, env=env, check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen([*flask, "scheduler", "run"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    engine = create_engine(env["DATABASE_URL"])
    try:
        deadline, active = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                active = conn.execute(select(SchedulerHeartbeat.name).where(SchedulerHeartbeat.active)).scalars().all()
            if len(active) == 2:
                break
            time.sleep(0.25)
        assert sorted(n.endswith("/documents") for n in active) == [False, True], active
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        child_pid = int(next(n for n in active if n.endswith("/documents")).split(":")[-1].split("/")[0])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{child_pid}").exists():
            time.sleep(0.1)
        assert not Path(f"/proc/{child_pid}").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        engine.dispose()
