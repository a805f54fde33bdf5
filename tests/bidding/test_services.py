"""Bidding services against a real database: sign-up, deposits, bids, extension, the close."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from auction import services as auction_services
from auction.rules import RoundState
from bidding import rules, services
from bidding.models import Bid, Deposit
from bidding.rules import DepositState
from cases import services as case_services
from cases.rules import FundAccount, PartyRole
from core.audit import AuditEntry, verify
from core.calendar import WorkCalendar
from core.context import Context
from core.files import FileStore
from core.rulebook import SPC
from tests.auction.test_services import published_lot
from tests.factories import VAULT, make_bidder, make_case, make_priced_asset, make_user

SECRET = "gateway-test-secret"


@pytest.fixture
def ctx(now, tmp_path):
    return Context(now=now, rulebook=SPC, calendar=WorkCalendar(), vault=VAULT, store=FileStore(tmp_path / "f"),
                   base_url="http://test")


@pytest.fixture
def world(session):
    case = make_case(session)
    return {"case": case, "officer": case.officer, "asset": make_priced_asset(session, case)}


def at(ctx, when):
    return replace(ctx, now=when)


class FixedClock:
    """A clock the test moves by hand (the bid's server time on SQLite)."""

    def __init__(self, t):
        self.t = t

    def now(self):
        return self.t

    def offset(self):
        return timedelta(0)


@pytest.fixture
def open_round(session, world, ctx, dialect):
    if dialect == "postgresql":
        pytest.skip("these tests steer the bid clock by hand; PostgreSQL reads clock_timestamp() (see test_races)")
    lot, rnd = published_lot(session, world, ctx)
    auction_services.run_due(session, at(ctx, rnd.start_at))
    assert rnd.state == RoundState.BIDDING
    return rnd


def qualified(session, rnd, ctx, **kw):
    bidder = make_bidder(session, **kw)
    reg = services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=ctx)
    dep = services.declare_bank_transfer(session, user=bidder, registration_id=reg.id, payer_name=bidder.identity.real_name,
                                         bank_reference="工行 6222 0001", ctx=ctx)
    finance = make_user(session, "finance", court_id=rnd.lot.case.court_id)
    services.confirm_bank_transfer(session, finance=finance, deposit_id=dep.id, ctx=ctx)
    return bidder, reg


def test_a_bidder_signs_up_pays_and_gets_an_anonymous_code(session, world, ctx, open_round):
    rnd = open_round
    bidder, reg = qualified(session, rnd, at(ctx, rnd.start_at), real_name="赵竞买")
    assert reg.qualified_at and len(reg.code) == 4
    entries = session.scalars(select(AuditEntry).where(AuditEntry.stream == f"round:{rnd.id}")).all()
    assert all("赵竞买" not in e.payload and str(bidder.id) not in e.payload for e in entries)


def test_housing_needs_the_purchase_promise_and_the_debtor_may_not_bid(session, world, ctx, open_round):
    rnd = open_round
    with pytest.raises(services.Refused, match="purchase qualification"):
        services.register(session, user=make_bidder(session), round_id=rnd.id, housing_promise=False, ctx=ctx)
    debtor = next(p for p in world["case"].parties if p.role == PartyRole.DEBTOR)
    debtor_bidder = make_bidder(session, id_number=VAULT.reveal(debtor.id_number_encrypted))
    with pytest.raises(services.Refused, match="A53"):
        services.register(session, user=debtor_bidder, round_id=rnd.id, housing_promise=True, ctx=ctx)


def test_the_payer_must_be_the_bidder(session, world, ctx, open_round):
    rnd = open_round
    bidder = make_bidder(session, real_name="张伟")
    reg = services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=ctx)
    dep = services.declare_bank_transfer(session, user=bidder, registration_id=reg.id, payer_name="李四",
                                         bank_reference="x", ctx=ctx)
    finance = make_user(session, "finance", court_id=rnd.lot.case.court_id)
    with pytest.raises(services.Refused, match="decision 10"):
        services.confirm_bank_transfer(session, finance=finance, deposit_id=dep.id, ctx=ctx)


def test_the_gateway_callback_is_signed_and_a_replay_changes_nothing(session, world, ctx, open_round):
    import json

    rnd = open_round
    bidder = make_bidder(session, real_name="钱多多")
    reg = services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=ctx)
    body = json.dumps({"registration_id": reg.id, "tx": "GW-1", "amount": "70000.00", "payer": "钱多多"}).encode()
    ts = str(int(ctx.now.timestamp()))
    sig = rules.gateway_signature(SECRET, timestamp=ts, body=body)
    with pytest.raises(services.Refused, match="signature"):
        services.gateway_callback(session, secret=SECRET, timestamp=ts, body=body, signature="0" * 64, ctx=ctx)
    d1 = services.gateway_callback(session, secret=SECRET, timestamp=ts, body=body, signature=sig, ctx=ctx)
    d2 = services.gateway_callback(session, secret=SECRET, timestamp=ts, body=body, signature=sig, ctx=ctx)
    assert d1.id == d2.id and d1.state == DepositState.HELD
    assert len(session.scalars(select(Deposit)).all()) == 1


def test_bids_follow_the_ladder_and_a_retry_never_makes_two(session, world, ctx, open_round):
    rnd = open_round
    bidder, _ = qualified(session, rnd, ctx)
    clock = FixedClock(rnd.start_at + timedelta(hours=1))
    r1 = services.place_bid(session, user=bidder, round_id=rnd.id, amount=Decimal("700000"), idempotency_key="k1",
                            ctx=ctx, clock=clock)
    again = services.place_bid(session, user=bidder, round_id=rnd.id, amount=Decimal("700000"), idempotency_key="k1",
                               ctx=ctx, clock=clock)
    assert again.duplicate and again.bid_id == r1.bid_id
    with pytest.raises(services.Refused, match="higher than the current price"):
        services.place_bid(session, user=bidder, round_id=rnd.id, amount=Decimal("700000"), idempotency_key="k2",
                           ctx=ctx, clock=clock)
    assert len(session.scalars(select(Bid)).all()) == 1


def test_an_unqualified_bidder_cannot_bid(session, world, ctx, open_round):
    rnd = open_round
    bidder = make_bidder(session)
    services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=ctx)
    with pytest.raises(services.Refused, match="A20"):
        services.place_bid(session, user=bidder, round_id=rnd.id, amount=Decimal("700000"), idempotency_key="k",
                           ctx=ctx, clock=FixedClock(rnd.start_at + timedelta(hours=1)))


def test_a_bid_in_the_last_five_minutes_extends_the_round(session, world, ctx, open_round):
    rnd = open_round
    a, _ = qualified(session, rnd, ctx)
    end = rnd.end_at
    r = services.place_bid(session, user=a, round_id=rnd.id, amount=Decimal("700000"), idempotency_key="k",
                           ctx=ctx, clock=FixedClock(end - timedelta(minutes=2)))
    assert r.extended and r.end_at == end + timedelta(minutes=3) and rnd.end_at == r.end_at


def test_a_bid_at_the_end_is_refused_and_the_round_closes_once_with_the_winner(session, world, ctx, open_round):
    rnd = open_round
    a, reg_a = qualified(session, rnd, ctx, real_name="甲")
    b, reg_b = qualified(session, rnd, ctx, real_name="乙")
    t = rnd.start_at + timedelta(hours=2)
    services.place_bid(session, user=a, round_id=rnd.id, amount=Decimal("700000"), idempotency_key="1", ctx=ctx,
                       clock=FixedClock(t))
    services.place_bid(session, user=b, round_id=rnd.id, amount=Decimal("705000"), idempotency_key="2", ctx=ctx,
                       clock=FixedClock(t + timedelta(minutes=1)))
    with pytest.raises(services.Refused, match="ended"):
        services.place_bid(session, user=a, round_id=rnd.id, amount=Decimal("710000"), idempotency_key="3", ctx=ctx,
                           clock=FixedClock(rnd.end_at))
    closing = at(ctx, rnd.end_at)
    assert services.run_due(session, closing) == 1
    assert services.run_due(session, closing) == 0  # exactly once
    assert rnd.state == RoundState.AWAITING_BALANCE and rnd.sale_price == Decimal("705000.00")
    assert rnd.buyer_code == reg_b.code
    assert reg_b.deposit.state == DepositState.APPLIED
    loser = reg_a.deposit
    assert loser.state == DepositState.HELD and loser.refund_due_at == closing.now + timedelta(hours=24)
    assert [d.id for d in services.late_refunds(session, now=closing.now + timedelta(hours=25))] == [loser.id]
    finance = make_user(session, "finance", court_id=rnd.lot.case.court_id)
    services.record_refund(session, finance=finance, deposit_id=loser.id, ctx=at(ctx, closing.now + timedelta(hours=3)))
    balances = case_services.fund_balances(session, rnd.lot.case_id)
    assert balances[FundAccount.DEPOSITS] == Decimal("0.00") and balances[FundAccount.COURT] == Decimal("70000.00")
    assert case_services.reconcile_funds(session, rnd.lot.case_id) == []
    assert verify(session) == []


def test_a_round_without_bids_closes_unsold_and_refunds_everyone(session, world, ctx, open_round):
    rnd = open_round
    _, reg = qualified(session, rnd, ctx)
    services.run_due(session, at(ctx, rnd.end_at))
    assert rnd.state == RoundState.UNSOLD and reg.deposit.refund_due_at is not None


def test_a_late_close_gives_the_same_outcome(session, world, ctx, open_round):
    rnd = open_round
    a, reg = qualified(session, rnd, ctx)
    services.place_bid(session, user=a, round_id=rnd.id, amount=Decimal("700000"), idempotency_key="1", ctx=ctx,
                       clock=FixedClock(rnd.start_at + timedelta(hours=1)))
    services.run_due(session, at(ctx, rnd.end_at + timedelta(hours=5)))  # the scheduler was down
    assert rnd.state == RoundState.AWAITING_BALANCE and rnd.buyer_code == reg.code


def test_the_close_leaves_its_documents_to_a_job_that_files_them_once(session, world, ctx, open_round):
    from core.models import Document

    rnd = open_round
    a, reg = qualified(session, rnd, ctx)
    services.place_bid(session, user=a, round_id=rnd.id, amount=Decimal("700000"), idempotency_key="1", ctx=ctx,
                       clock=FixedClock(rnd.start_at + timedelta(hours=1)))
    closing = at(ctx, rnd.end_at)
    services.run_due(session, closing)
    assert rnd.closed_at and rnd.confirmation_sha256 is None  # the close itself stays short
    assert auction_services.issue_close_documents(session, closing) == 1
    assert auction_services.issue_close_documents(session, closing) == 0
    doc = session.scalars(select(Document).where(Document.kind == "confirmation")).one()
    assert doc.public and rnd.confirmation_sha256 == doc.sha256


def test_the_cli_closes_due_rounds_once(session, world, ctx, open_round, app_factory):
    app = app_factory(CLOCK="simulated")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["rounds", "close-due"]).output.strip() == "closed 0 round(s)"
    from core.clock import move_clock

    move_clock(session, app.extensions["clock"], target=open_round.end_at + timedelta(seconds=1), actor="test")
    assert runner.invoke(args=["rounds", "close-due"]).output.strip() == "closed 1 round(s)"
    assert runner.invoke(args=["rounds", "close-due"]).output.strip() == "closed 0 round(s)"
    session.refresh(open_round)
    assert open_round.closed_at is not None


def _snapshot(**changes):
    from datetime import datetime, timezone

    base = dict(id=1, code="A1", priority_rank=None, bid_id=None, seq=None, amount=None, received_at=None,
                extended_to=None, end_at=datetime(2026, 12, 1, 12, tzinfo=timezone.utc), state=RoundState.BIDDING,
                start_at=datetime(2026, 12, 1, 10, tzinfo=timezone.utc), starting_price=Decimal("700000"),
                increment=Decimal("5000"), current_price=Decimal("720000"), leader_rank=None,
                qualified_at=datetime(2026, 11, 30, tzinfo=timezone.utc),
                now=datetime(2026, 12, 1, 11, tzinfo=timezone.utc))
    base.update(changes)
    return services._Bidder(**base)


def test_before_the_lock_only_a_certain_refusal_is_given():
    """A bid is refused before the lock only when the locked round could not accept it either
    (the price only rises, the ladder never moves), and only while the snapshot shows the round
    open, so that "ended", "not open" and "deposit not confirmed" keep their own words."""
    from datetime import datetime, timezone

    refused = services._refused_before_lock
    assert "higher than the current price" in refused(_snapshot(), Decimal("720000"))
    assert "higher than the current price" in refused(_snapshot(), Decimal("715000"))
    assert "whole increments" in refused(_snapshot(), Decimal("725001"))
    assert refused(_snapshot(), Decimal("725000")) is None  # valid now: the lock decides
    # a priority holder may match the price an ordinary bidder leads with (A31)
    assert refused(_snapshot(priority_rank=1), Decimal("720000")) is None
    assert "higher" in refused(_snapshot(priority_rank=2, leader_rank=1), Decimal("720000"))
    # the snapshot cannot tell: the locked check answers with its own words
    for other in (dict(state=RoundState.SUSPENDED), dict(qualified_at=None),
                  dict(now=datetime(2026, 12, 1, 12, tzinfo=timezone.utc)),  # exactly the end
                  dict(now=datetime(2026, 12, 1, 9, tzinfo=timezone.utc))):  # before the start
        assert refused(_snapshot(**other), Decimal("700000")) is None, other
