"""Bids and the close under real concurrency: several threads, each with its own connection,
against the configured database (PostgreSQL in CI's second run; SQLite serialises writers)."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auction import services as auction_services
from auction.models import Round
from auction.rules import RoundState
from bidding import services
from bidding.models import Bid, Registration
from core.calendar import WorkCalendar
from core.clock import Clock
from core.context import Context
from core.db import make_engine
from core.files import FileStore
from core.rulebook import SPC
from tests.auction.test_services import notify_all, terms
from tests.conftest import new_database
from tests.factories import VAULT, make_bidder, make_case, make_priced_asset, make_user

THREADS = 8


@pytest.fixture
def race(tmp_path):
    url, drop = new_database(tmp_path)
    engine = make_engine(url, pool_size=THREADS + 4)
    real_now = datetime.now(timezone.utc)
    past = Context(now=real_now - timedelta(days=40), rulebook=SPC, calendar=WorkCalendar(), vault=VAULT,
                   store=FileStore(tmp_path / "f"), base_url="http://test")
    with Session(engine, expire_on_commit=False) as s:
        case = make_case(s)
        asset = make_priced_asset(s, case)
        world = {"case": case, "officer": case.officer, "asset": asset}
        s.commit()
        lot = auction_services.create_lot(s, actor=case.officer, asset_ids=[asset.id], title="竞价测试",
                                          terms=terms(past), ctx=past)
        rnd = lot.current
        notify_all(s, world, rnd, past, past.now - timedelta(days=4))
        auction_services.publish(s, actor=case.officer, round_id=rnd.id, ctx=past)
        auction_services.run_due(s, replace(past, now=rnd.start_at))
        finance = make_user(s, "finance", court_id=case.court_id)
        bidders = []
        for i in range(THREADS):
            b = make_bidder(s, real_name=f"竞买人{i}")
            s.commit()
            reg = services.register(s, user=b, round_id=rnd.id, housing_promise=True, ctx=past)
            dep = services.declare_bank_transfer(s, user=b, registration_id=reg.id, payer_name=b.identity.real_name,
                                                 bank_reference=f"R{i}", ctx=past)
            services.confirm_bank_transfer(s, finance=finance, deposit_id=dep.id, ctx=past)
            bidders.append(b.id)
        s.execute(update(Round).where(Round.id == rnd.id).values(end_at=real_now + timedelta(hours=1)))
        s.commit()
        round_id = rnd.id
    ctx = replace(past, now=real_now)
    yield engine, round_id, bidders, ctx
    engine.dispose()
    drop()


def run_threads(n, target):
    barrier = threading.Barrier(n)
    results = [None] * n

    def wrap(i):
        barrier.wait()
        results[i] = target(i)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def bid(engine, user_id, round_id, amount, key, ctx):
    from accounts.models import User

    with Session(engine, expire_on_commit=False) as s:
        user = s.get(User, user_id)
        try:
            return services.place_bid(s, user=user, round_id=round_id, amount=amount, idempotency_key=key, ctx=ctx,
                                      clock=Clock("real"))
        except services.Refused as exc:
            return exc


def test_equal_simultaneous_bids_exactly_one_is_accepted(race):
    engine, round_id, bidders, ctx = race
    results = run_threads(THREADS, lambda i: bid(engine, bidders[i], round_id, Decimal("700000"), "same", ctx))
    accepted = [r for r in results if isinstance(r, services.Receipt)]
    assert len(accepted) == 1
    assert all("higher than the current price" in str(r) for r in results if not isinstance(r, services.Receipt))
    with Session(engine) as s:
        assert len(s.scalars(select(Bid).where(Bid.round_id == round_id)).all()) == 1


def test_rising_bids_from_many_threads_are_sequenced_without_gaps(race):
    engine, round_id, bidders, ctx = race

    def many(i):
        got = []
        for k in range(10):
            with Session(engine) as s:
                from bidding.models import Book

                book = s.get(Book, round_id)
                price = (book.current_price + Decimal("5000")) if book and book.current_price else Decimal("700000")
            r = bid(engine, bidders[i], round_id, price, f"{i}-{k}", ctx)
            got.append(r)
        return got

    results = [r for rs in run_threads(THREADS, many) for r in rs]
    accepted = [r for r in results if isinstance(r, services.Receipt)]
    with Session(engine) as s:
        bids = s.scalars(select(Bid).where(Bid.round_id == round_id).order_by(Bid.seq)).all()
    assert [b.seq for b in bids] == list(range(1, len(bids) + 1)) and len(bids) == len(accepted)
    assert all(b2.amount > b1.amount for b1, b2 in zip(bids, bids[1:], strict=False))
    assert all(b2.received_at >= b1.received_at for b1, b2 in zip(bids, bids[1:], strict=False))


def test_bids_racing_the_close_none_is_accepted_after_the_end(race):
    """Bidders bid as fast as they can around the end (with a 300 ms extension window so that
    gaps between bids let the end pass), while a closer sweeps continuously: whenever the round
    closes, no accepted bid has a time at or after its final end, and the winner is the best bid."""
    import time

    engine, round_id, bidders, ctx = race
    ctx = replace(ctx, rulebook=replace(ctx.rulebook, extension_window=timedelta(milliseconds=300)))
    with Session(engine) as s:
        s.execute(update(Round).where(Round.id == round_id)
                  .values(end_at=datetime.now(timezone.utc) + timedelta(seconds=1)))
        s.commit()
    stop = threading.Event()

    def closer():
        while not stop.is_set():
            with Session(engine) as s:
                services.run_due(s, replace(ctx, now=datetime.now(timezone.utc)))
            time.sleep(0.01)

    def bidder(i):
        out = []
        deadline = time.monotonic() + 3
        k = 0
        while time.monotonic() < deadline:
            r = bid(engine, bidders[i], round_id, Decimal("700000") + Decimal("5000") * (k * THREADS + i), f"{i}-{k}",
                    ctx)
            out.append(r)
            k += 1
            time.sleep(0.05 * (i % 3))
        return out

    closing = threading.Thread(target=closer)
    closing.start()
    try:
        run_threads(THREADS, bidder)
        time.sleep(0.5)  # past the last extension: the closer must finish the job
    finally:
        stop.set()
        closing.join(30)
    with Session(engine) as s:
        services.run_due(s, replace(ctx, now=datetime.now(timezone.utc)))
    with Session(engine) as s:
        rnd = s.get(Round, round_id)
        bids = s.scalars(select(Bid).where(Bid.round_id == round_id).order_by(Bid.seq)).all()
        assert rnd.state in (RoundState.AWAITING_BALANCE, RoundState.UNSOLD) and rnd.closed_at is not None
        assert bids and all(b.received_at < rnd.end_at for b in bids)
        assert rnd.closed_at >= rnd.end_at
        best = max(bids, key=lambda b: (b.amount, -b.seq))
        assert rnd.buyer_code == s.get(Registration, best.registration_id).code and rnd.sale_price == best.amount


def test_the_same_request_sent_twice_at_once_makes_one_bid_and_two_identical_receipts(race):
    """A double click that reaches two web processes at once: both answers carry the first
    receipt (one marked duplicate); one bid exists."""
    engine, round_id, bidders, ctx = race
    results = run_threads(2, lambda i: bid(engine, bidders[0], round_id, Decimal("700000"), "double-click", ctx))
    assert all(isinstance(r, services.Receipt) for r in results), results
    assert len({(r.seq, r.amount, r.received_at) for r in results}) == 1
    assert sorted(r.duplicate for r in results) == [False, True]
    with Session(engine) as s:
        assert len(s.scalars(select(Bid).where(Bid.round_id == round_id)).all()) == 1
