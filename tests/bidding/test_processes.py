"""Bids and the close across several operating-system processes (DESIGN.md §5): each process
has its own interpreter, engine and connections, as gunicorn workers and the scheduler do.
Run on SQLite (``BEGIN IMMEDIATE``) and on PostgreSQL (``SELECT … FOR UPDATE``) in CI."""
from __future__ import annotations

import multiprocessing
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from auction.models import Round
from auction.rules import RoundState
from bidding.models import Bid, Registration
from core.audit import AuditEntry
from tests.bidding.test_races import THREADS, race  # noqa: F401  (the fixture)

PROCESSES = 4


#: A short extension window, so that the end passes between bids within the test's seconds.
WINDOW = timedelta(milliseconds=300)


def _ctx():
    from dataclasses import replace

    from core.calendar import WorkCalendar
    from core.context import Context
    from core.rulebook import SPC
    from tests.factories import VAULT

    return Context(now=datetime.now(timezone.utc), rulebook=replace(SPC, extension_window=WINDOW),
                   calendar=WorkCalendar(), vault=VAULT, store=None, base_url="http://test")


def _bidder_process(url, user_id, round_id, amounts, barrier, out, seconds=None):
    """One process: wait for the others, then bid ``amounts`` in turn (for ``seconds`` after
    the start, if given); report each outcome."""
    from accounts.models import User
    from bidding import services
    from core.clock import Clock
    from core.db import make_engine

    engine = make_engine(url)
    results = []
    try:
        barrier.wait(120)
        stop_at = time.time() + seconds if seconds is not None else None
        for k, amount in enumerate(amounts):
            if stop_at is not None and time.time() > stop_at:
                break
            with Session(engine, expire_on_commit=False) as s:
                user = s.get(User, user_id)
                try:
                    got = services.place_bid(s, user=user, round_id=round_id, amount=Decimal(amount),
                                             idempotency_key=f"p{user_id}-{k}", ctx=_ctx(), clock=Clock("real"))
                    results.append(("accepted", got.seq, str(got.amount), got.received_at.isoformat()))
                except services.DomainError as exc:
                    results.append(("refused", str(exc)))
    finally:
        engine.dispose()
        out.put((user_id, results))


def _closer_process(url, round_id, until, out):
    """A closer without any leadership: ``run_due`` every 5 ms until the round is closed (by
    this process or another) or ``until`` (epoch s)."""
    from bidding import services
    from core.clock import Clock
    from core.db import make_engine

    engine = make_engine(url)
    closed = 0
    try:
        while time.time() < until:
            with Session(engine) as s:
                closed += services.run_due(s, _ctx(), clock=Clock("real"))
                if s.scalar(select(Round.closed_at).where(Round.id == round_id)) is not None:
                    break
            time.sleep(0.005)
    finally:
        engine.dispose()
        out.put(("closer", closed))


def _start(target, *args):
    proc = multiprocessing.get_context("spawn").Process(target=target, args=args)
    proc.start()
    return proc


def _collect(procs, out, n):
    got = [out.get(timeout=120) for _ in range(n)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    return got


def test_equal_simultaneous_bids_from_several_processes_exactly_one_is_accepted(race):  # noqa: F811
    engine, round_id, bidders, _ = race
    url = engine.url.render_as_string(hide_password=False)
    mp = multiprocessing.get_context("spawn")
    barrier, out = mp.Barrier(PROCESSES), mp.Queue()
    procs = [_start(_bidder_process, url, bidders[i], round_id, ["700000"], barrier, out) for i in range(PROCESSES)]
    results = [r for _, rs in _collect(procs, out, PROCESSES) for r in rs]
    assert [r[0] for r in results].count("accepted") == 1
    assert all("higher than the current price" in r[1] for r in results if r[0] == "refused")
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Bid).where(Bid.round_id == round_id)) == 1


def test_bids_from_processes_racing_a_closing_process_none_is_accepted_after_the_end(race):  # noqa: F811
    """Four bidder processes bid rising amounts across the round's end (extended by 300 ms per
    bid) until after it, while two closer processes (no leadership) sweep: the round closes
    exactly once, every accepted bid is in the database once and before the final end, and the
    best bid wins."""
    engine, round_id, bidders, _ = race
    url = engine.url.render_as_string(hide_password=False)
    mp = multiprocessing.get_context("spawn")
    barrier, out = mp.Barrier(PROCESSES + 1), mp.Queue()  # the bidders and this test
    step = Decimal("5000")
    amounts = [[str(Decimal("700000") + step * (k * PROCESSES + i)) for k in range(5000)] for i in range(PROCESSES)]
    procs = [_start(_bidder_process, url, bidders[i], round_id, amounts[i], barrier, out, 4.0)
             for i in range(PROCESSES)]
    until = time.time() + 180
    closed_by = mp.Queue()
    closers = [_start(_closer_process, url, round_id, until, closed_by) for _ in range(2)]
    # Once every bidder process is up (spawning takes seconds) they bid for 4 s and the end
    # comes 2 s from now: the race is at whichever end is the last (each bid moves it 300 ms on).
    barrier.wait(120)
    with Session(engine) as s:
        # the time is read once the round is ours (SQLite: the transaction's write lock; PostgreSQL:
        # the row's): read before, a wait for the bidders' locks would let bids made meanwhile
        # with the old end fall after the new one (seen on SQLite, with 4 bidders and 2 closers)
        s.execute(select(Round.id).where(Round.id == round_id).with_for_update())
        s.execute(update(Round).where(Round.id == round_id)
                  .values(end_at=datetime.now(timezone.utc) + timedelta(seconds=2)))
        s.commit()
    got = _collect(procs, out, PROCESSES)
    while time.time() < until:  # the bidders are done: the end passes 300 ms after the last bid
        with Session(engine) as s:
            if s.get(Round, round_id).closed_at is not None:
                break
        time.sleep(0.1)
    closer_counts = [n for _, n in _collect(closers, closed_by, 2)]
    accepted = [r for _, rs in got for r in rs if r[0] == "accepted"]
    with Session(engine) as s:
        rnd = s.get(Round, round_id)
        bids = s.scalars(select(Bid).where(Bid.round_id == round_id).order_by(Bid.seq)).all()
        closes = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.stream == f"round:{round_id}", AuditEntry.action == "round.closed"))
        assert rnd.state == RoundState.AWAITING_BALANCE and rnd.closed_at is not None
        assert closes == 1 and sum(closer_counts) == 1
        assert sorted((str(b.seq), str(b.amount)) for b in bids) == sorted((str(r[1]), r[2]) for r in accepted)
        assert [b.seq for b in bids] == list(range(1, len(bids) + 1))
        assert all(b.received_at < rnd.end_at for b in bids)
        assert rnd.closed_at >= rnd.end_at
        best = max(bids, key=lambda b: b.amount)
        assert rnd.sale_price == best.amount
        assert rnd.buyer_code == s.get(Registration, best.registration_id).code
    assert THREADS >= PROCESSES
