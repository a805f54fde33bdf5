"""How a bid waits on PostgreSQL (decision 0012): a bid certainly refused never queues for the
round's lock; once the lock is granted the worker does not yield until the commit; a lock held
by someone else for long falls back to a cooperative wait; a write that would wait on a lock
it should never meet gives up (503, nothing changed) instead of freezing a worker. The last
test runs place_bid under gevent, as the production workers do, in a child process."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from auction.models import Round
from bidding import services
from bidding.models import Bid
from core.db import Busy, exclusive_waits
from tests.bidding.test_races import bid, race  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_race(race):  # noqa: F811
    engine = race[0]
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks and their waits are PostgreSQL's (SQLite's writers queue on BEGIN IMMEDIATE)")
    return race


class Holder:
    """Another connection holding a row lock until released."""

    def __init__(self, engine, sql: str, params: dict):
        self.locked, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, args=(engine, sql, params))
        self.thread.start()
        assert self.locked.wait(10)

    def _run(self, engine, sql, params):
        with engine.connect() as conn:
            conn.execute(text(sql), params).all()
            self.locked.set()
            self.release.wait(30)
            conn.rollback()

    def done(self):
        self.release.set()
        self.thread.join(10)


def test_a_bid_certainly_refused_is_answered_without_queueing_for_the_lock(pg_race):
    engine, round_id, bidders, ctx = pg_race
    first = bid(engine, bidders[0], round_id, Decimal("700000"), "first", ctx)
    assert isinstance(first, services.Receipt)
    holder = Holder(engine, "SELECT id FROM rounds WHERE id = :r FOR UPDATE", {"r": round_id})
    try:
        stale = bid(engine, bidders[1], round_id, Decimal("700000"), "stale", ctx)
        off_ladder = bid(engine, bidders[1], round_id, Decimal("705001"), "off", ctx)
        answered_while_locked = not holder.release.is_set()
    finally:
        holder.done()
    assert answered_while_locked
    assert isinstance(stale, services.Refused) and "higher than the current price" in str(stale)
    assert isinstance(off_ladder, services.Refused) and "whole increments" in str(off_ladder)
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Bid).where(Bid.round_id == round_id)) == 1


def test_a_lock_held_long_elsewhere_falls_back_to_a_cooperative_wait_and_the_bid_goes_through(pg_race, caplog):
    engine, round_id, bidders, ctx = pg_race
    caplog.set_level(logging.INFO, logger="bidding.services")
    holder = Holder(engine, "SELECT id FROM rounds WHERE id = :r FOR UPDATE", {"r": round_id})
    result = {}
    bidding = threading.Thread(target=lambda: result.update(
        r=bid(engine, bidders[0], round_id, Decimal("700000"), "patient", ctx)))
    bidding.start()
    try:
        deadline = time.monotonic() + 20
        while "waiting without blocking the worker" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "waiting without blocking the worker" in caplog.text
        assert "r" not in result  # still waiting: the lock is held
    finally:
        holder.done()
    bidding.join(20)
    assert isinstance(result["r"], services.Receipt) and result["r"].seq == 1


def test_a_write_that_would_wait_on_a_foreign_lock_gives_up_and_changes_nothing(pg_race):
    engine, round_id, bidders, ctx = pg_race
    assert isinstance(bid(engine, bidders[0], round_id, Decimal("700000"), "one", ctx), services.Receipt)
    with Session(engine) as s:
        end_before = s.get(Round, round_id).end_at
    # nothing but a bid or the close (both under the round's lock) writes the round's ledger stream;
    # a lock on its head taken without the round's lock is the mistake HELD_LOCK_TIMEOUT bounds
    holder = Holder(engine, "SELECT name FROM audit_streams WHERE name = :n FOR UPDATE", {"n": f"round:{round_id}"})
    try:
        with pytest.raises(Busy):
            bid(engine, bidders[1], round_id, Decimal("705000"), "two", ctx)
    finally:
        holder.done()
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Bid).where(Bid.round_id == round_id)) == 1
        assert s.get(Round, round_id).end_at == end_before
    assert isinstance(bid(engine, bidders[1], round_id, Decimal("705000"), "two", ctx), services.Receipt)


def test_exclusive_waits_nest_and_restore_per_greenlet_context():
    from core.db import _EXCLUSIVE, cooperative_waits

    assert _EXCLUSIVE.get() is False
    with pytest.raises(RuntimeError), exclusive_waits():
        assert _EXCLUSIVE.get() is True
        with cooperative_waits():
            assert _EXCLUSIVE.get() is False
        assert _EXCLUSIVE.get() is True
        raise RuntimeError
    assert _EXCLUSIVE.get() is False


GEVENT_CHILD = r"""
from gevent import monkey
monkey.patch_all()
import json, sys, time
from datetime import datetime, timezone
from decimal import Decimal
import gevent
from sqlalchemy import text
from sqlalchemy.orm import Session
from core.db import exclusive_waits, make_engine
from tests.bidding.test_races import bid

from core.calendar import WorkCalendar
from core.context import Context
from core.files import FileStore
from core.rulebook import SPC
from tests.factories import VAULT

url, round_id, user_id, store = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ctx = Context(now=datetime.now(timezone.utc), rulebook=SPC, calendar=WorkCalendar(), vault=VAULT,
              store=FileStore(store), base_url="http://test")
engine = make_engine(url, pool_size=4)
ticks = [0]
def tick():
    while True:
        gevent.sleep(0.005)
        ticks[0] += 1
gevent.spawn(tick)
out = {}
with engine.connect() as conn:
    t0 = ticks[0]; conn.execute(text("SELECT pg_sleep(0.3)")); out["cooperative_ticks"] = ticks[0] - t0
    with exclusive_waits():
        t0 = ticks[0]; conn.execute(text("SELECT pg_sleep(0.3)")); out["exclusive_ticks"] = ticks[0] - t0
    conn.rollback()

# A greenlet of this process holds the round's lock and is suspended (an officer's action, a
# close from a page read); another greenlet's bid must not block the process on that lock.
def officer():
    with engine.connect() as conn:
        conn.execute(text("SELECT id FROM rounds WHERE id = :r FOR UPDATE"), {"r": round_id})
        gevent.sleep(0.5)
        conn.rollback()
held = gevent.spawn(officer)
gevent.sleep(0.05)
started = time.monotonic()
def exclusive_bid():  # as the API's bid view runs it (core.db.keeps_the_worker)
    with exclusive_waits():
        return bid(engine, user_id, round_id, Decimal("700000"), "under-gevent", ctx)
r = gevent.spawn(exclusive_bid)
gevent.joinall([held, r], timeout=30)
out["bid"] = type(r.value).__name__ if r.ready() else "hung"
out["seq"] = getattr(r.value, "seq", None)
out["waited_s"] = round(time.monotonic() - started, 3)
print(json.dumps(out))
"""


def test_under_gevent_the_lock_holder_keeps_the_worker_and_a_lock_held_by_a_sleeping_greenlet_cannot_freeze_it(
        pg_race, tmp_path):
    engine, round_id, bidders, _ctx = pg_race
    url = engine.url.render_as_string(hide_password=False)
    proc = subprocess.run([sys.executable, "-c", GEVENT_CHILD, url, str(round_id), str(bidders[0]), str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # a cooperative wait lets the ticker run (~60 ticks in 0.3 s); an exclusive one does not
    assert out["cooperative_ticks"] >= 10, out
    assert out["exclusive_ticks"] <= 1, out
    # the bid waited past the exclusive limit, let the officer's greenlet finish, then went through
    assert out["bid"] == "Receipt" and out["seq"] == 1, out
    assert out["waited_s"] >= 0.4, out
