"""Bidding use cases: sign up, deposits (bank transfer confirmed by the court's finance
officer, or an online gateway's signed callback), bids under the round's lock, the close that
happens exactly once, refunds.

The invariants of DESIGN.md §5 live here: a bid is accepted only under a lock on its round and
re-checked on the locked row; its time is the server's (the database's clock on PostgreSQL);
the close is a conditional claim, so a concurrent extension makes it match nothing.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import NamedTuple
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, lazyload, selectinload

from accounts.models import Role, User
from auction import services as auction_services
from auction.models import Lot, PriorityHolder, Round
from auction.rules import RoundKind, RoundState
from bidding import live, restrictions, rules
from bidding.models import Bid, Book, Deposit, Registration
from bidding.rules import BidFacts, BidRefused, DepositState
from cases import services as case_services
from cases.models import Case
from cases.rules import FundMovement, PartyRole, local_today
from core import audit
from core.context import Context
from core.db import Busy, cooperative_waits, exclusive_waits
from core.money import MoneyError, to_money
from core.notify import notify
from core.text import N_, DomainError, NotAllowed, NotFound, Refused  # noqa: F401  (shared, re-exported)

log = logging.getLogger(__name__)

# Plain tables for the statements run under a round's lock (no ORM statement overhead).
BIDS, BOOKS = Bid.__table__, Book.__table__
OPEN_FOR_SIGNUP = {RoundState.ANNOUNCED, RoundState.BIDDING, RoundState.VARIATION_OPEN, RoundState.VARIATION_BIDDING}
BIDDING_STATES = {RoundState.BIDDING, RoundState.VARIATION_OPEN, RoundState.VARIATION_BIDDING}


# --- signing up and deposits ---------------------------------------------------------------------


def _round(session, round_id: int) -> Round:
    rnd = session.get(Round, round_id)
    if rnd is None or rnd.published_at is None:
        raise NotFound()
    return rnd


def _applicant_claim(rnd: Round, user: User) -> Decimal | None:
    """A21: the claim of the bidder when it is the case's applicant-creditor, else ``None``."""
    if user.identity is None:
        return None
    for p in rnd.lot.case.parties:
        if p.role == PartyRole.APPLICANT and p.id_number_hmac == user.identity.id_number_hmac:
            return rnd.lot.case.claim_amount
    return None


def _barred_reason(session, rnd: Round, user: User, now: datetime) -> str | None:
    """Why the bidder may not sign up for the round, or ``None``: the debtor of the case (A53 by
    analogy, decision 19), a defaulter of an earlier round (A41), or a person on the court's
    list of restricted persons (decision 19) or of staff and close relatives (A53) on the day
    of ``now``. That last refusal is raised here, as its message names the list, the source and
    the date (:func:`bidding.restrictions.refusal`).

    :raise Refused: the bidder is on an active entry of the list that bars it from this lot.
    """
    fp = user.identity.id_number_hmac
    if any(p.role == PartyRole.DEBTOR and p.id_number_hmac == fp for p in rnd.lot.case.parties):
        return N_("The debtor of the case may not bid on its property (A53, decision 19).")
    if auction_services.is_barred(session, lot_id=rnd.lot_id, fingerprint=fp):
        return N_("A buyer who defaulted may not bid in the re-auction (A41, decision 5).")
    categories = [la.asset.category for la in rnd.lot.assets]
    entry = restrictions.restriction_for(session, fingerprint=fp, categories=categories, today=local_today(now))
    if entry is not None:
        raise restrictions.refusal(entry)
    return None


def register(session: Session, *, user: User, round_id: int, housing_promise: bool, ctx: Context) -> Registration:
    """Sign up for a published round. Only bidders with a verified real name; never the debtor
    or a defaulter; housing needs the qualification promise (S4)."""
    rnd = _round(session, round_id)
    if user.role != Role.BIDDER or user.identity is None:
        raise NotAllowed()
    if rnd.state not in OPEN_FOR_SIGNUP or ctx.now >= rnd.end_at:
        raise Refused(N_("Registration is closed for this round."))
    reason = _barred_reason(session, rnd, user, ctx.now)
    if reason:
        raise Refused(reason)
    if rnd.lot.housing and not housing_promise:
        raise Refused(N_("Bidders on housing must promise they meet the local purchase qualification (S4)."))
    existing = session.scalar(select(Registration).where(Registration.round_id == rnd.id,
                                                         Registration.user_id == user.id))
    if existing is not None:
        return existing
    holder = session.scalar(select(PriorityHolder).where(PriorityHolder.lot_id == rnd.lot_id,
                                                         PriorityHolder.id_number_hmac == user.identity.id_number_hmac,
                                                         PriorityHolder.confirmed_at.is_not(None)))
    reg = Registration(round_id=rnd.id, user_id=user.id, housing_promise=housing_promise, created_at=ctx.now,
                       priority_holder_id=holder.id if holder else None, priority_rank=holder.rank if holder else None,
                       code=_unique_code(session, rnd.id, holder.rank if holder else None))
    session.add(reg)
    session.flush()
    due = rules.deposit_due(rnd.deposit, claim=_applicant_claim(rnd, user))
    if rnd.kind == RoundKind.VARIATION:
        due = rnd.starting_price  # C05: the full 变卖 price
    if due == 0:
        reg.deposit = Deposit(amount=due, method="exempt", state=DepositState.HELD, declared_at=ctx.now,
                              confirmed_at=ctx.now)
        reg.qualified_at = ctx.now
    # Decision 13: neither who registered nor how many may be learnt before the close, and the
    # ledger is public. The entry goes to the bidder's own stream without naming the round;
    # the round's stream receives the count at the close.
    audit.record(session, stream=f"user:{user.id}", actor=user.actor, action="registration.created",
                 subject="registration", payload={}, now=ctx.now)
    session.commit()
    return reg


def _unique_code(session, round_id: int, rank: int | None) -> str:
    for _ in range(50):
        code = rules.new_bidder_code(rank)
        if session.scalar(select(Registration.id).where(Registration.round_id == round_id,
                                                        Registration.code == code)) is None:
            return code
    raise Refused(N_("Please try again."))


def deposit_amount(session: Session, reg: Registration) -> Decimal:
    rnd = session.get(Round, reg.round_id)
    if rnd.kind == RoundKind.VARIATION:
        return rnd.starting_price
    return rules.deposit_due(rnd.deposit, claim=_applicant_claim(rnd, reg.user))


def declare_bank_transfer(session: Session, *, user: User, registration_id: int, payer_name: str,
                          bank_reference: str, ctx: Context) -> Deposit:
    """The bidder says it transferred the deposit to the court's account (A22)."""
    reg = session.get(Registration, registration_id)
    if reg is None or reg.user_id != user.id:
        raise NotFound()
    if reg.deposit is not None and reg.deposit.state != DepositState.PENDING:
        raise Refused(N_("The deposit is already confirmed."))
    if not (payer_name or "").strip() or not (bank_reference or "").strip():
        raise Refused(N_("Give the payer's name and the bank reference."))
    dep = reg.deposit or Deposit(method="bank", state=DepositState.PENDING, declared_at=ctx.now,
                                 amount=deposit_amount(session, reg))
    dep.payer_name, dep.bank_reference = payer_name.strip()[:120], bank_reference.strip()[:80]
    reg.deposit = dep
    session.commit()
    return dep


def confirm_bank_transfer(session: Session, *, finance: User, deposit_id: int, ctx: Context) -> Deposit:
    """The court's finance officer confirms a transfer (decision 21); the payer must be the
    bidder (decision 10). The view is written to the ledger; the deposit is held and the
    bidder qualified (A23)."""
    dep = session.get(Deposit, deposit_id)
    if dep is None:
        raise NotFound()
    rnd = session.get(Round, dep.registration.round_id)
    if finance.role != Role.FINANCE or finance.court_id != rnd.lot.case.court_id:
        raise NotAllowed()
    if dep.state != DepositState.PENDING:
        raise Refused(N_("This deposit is not waiting for confirmation."))
    if ctx.now >= rnd.end_at:
        raise Refused(N_("Bidding has ended; the deposit can no longer qualify (A23)."))
    if not rules.payer_matches(dep.payer_name, dep.registration.user.identity.real_name):
        raise Refused(N_("The payer's name differs from the bidder's real name (decision 10)."))
    # Listed (or found to be the debtor, a defaulter) since signing up: no qualification.
    reason = _barred_reason(session, rnd, dep.registration.user, ctx.now)
    if reason:
        raise Refused(reason)
    dep.state, dep.confirmed_at, dep.confirmed_by_id = DepositState.HELD, ctx.now, finance.id
    dep.registration.qualified_at = ctx.now
    # In the bidder's stream, not the round's: the round's stream is public and must not let
    # anyone count qualified bidders before the close (decision 13).
    audit.record(session, stream=f"user:{dep.registration.user_id}", actor=finance.actor, action="deposit.confirmed",
                 subject="deposit", payload={"viewed_by_finance": True}, now=ctx.now)
    notify(session, user_id=dep.registration.user_id, now=ctx.now, subject="保证金已确认",
           body=f"您的竞买代码：{dep.registration.code}。请凭此代码出价。")
    session.commit()
    return dep


@dataclass(frozen=True)
class FinanceDesk:
    """What a court's finance officer sees: transfers to confirm (with the payer), refunds due,
    refunds late (decision 9)."""

    pending: list[Deposit]
    due: list[Deposit]
    late: list[Deposit]
    rounds: dict[int, Round]


def finance_desk(session: Session, *, finance: User, ctx: Context) -> FinanceDesk:
    """The deposits of the finance officer's court. Payers' names are sealed until the close
    (decision 21): showing them is a view of a sealed identity, so each pending deposit shown is
    written to the audit ledger, in its bidder's stream (never the public round stream: the
    number of registrants must not be countable, decision 13). Refunds come after the close."""
    if finance.role != Role.FINANCE or finance.court_id is None:
        raise NotAllowed()
    mine = (select(Deposit).join(Registration, Registration.id == Deposit.registration_id)
            .join(Round, Round.id == Registration.round_id).join(Lot, Lot.id == Round.lot_id)
            .join(Case, Case.id == Lot.case_id).where(Case.court_id == finance.court_id))
    pending = session.scalars(mine.where(Deposit.state == DepositState.PENDING, Deposit.method == "bank")
                              .order_by(Deposit.declared_at, Deposit.id)).all()
    due = session.scalars(mine.where(Deposit.state == DepositState.HELD, Deposit.refund_due_at.is_not(None))
                          .order_by(Deposit.refund_due_at, Deposit.id)).all()
    late = [d for d in due if rules.refund_late(due_at=d.refund_due_at, refunded_at=d.refunded_at, now=ctx.now)]
    ids = {d.registration.round_id for d in [*pending, *due]}
    rounds = {r.id: r for r in session.scalars(select(Round).where(Round.id.in_(ids)))} if ids else {}
    for dep in pending:
        audit.record(session, stream=f"user:{dep.registration.user_id}", actor=finance.actor,
                     action="deposit.payer_viewed", subject="deposit", payload={"viewed_by_finance": True},
                     now=ctx.now)
    if pending:
        session.commit()
    return FinanceDesk(pending=list(pending), due=[d for d in due if d not in late], late=late, rounds=rounds)


def gateway_callback(session: Session, *, secret: str, timestamp: str, body: bytes, signature: str,
                     ctx: Context) -> Deposit:
    """An online gateway reports a paid deposit. Forged or stale callbacks are refused; the same
    callback twice changes nothing (its transaction id is unique)."""
    try:
        rules.check_gateway_signature(secret, timestamp=timestamp, body=body, signature=signature,
                                      now_epoch=ctx.now.timestamp())
    except BidRefused as exc:
        raise Refused(str(exc)) from None
    try:
        data = json.loads(body)
        reg_id, tx, amount, payer = int(data["registration_id"]), str(data["tx"]), to_money(data["amount"]), data["payer"]
    except (ValueError, KeyError, TypeError, MoneyError):
        raise Refused(N_("Callback refused: unreadable body.")) from None
    existing = session.scalar(select(Deposit).where(Deposit.gateway_tx == tx))
    if existing is not None:
        return existing
    reg = session.get(Registration, reg_id)
    if reg is None:
        raise NotFound()
    rnd = session.get(Round, reg.round_id)
    if reg.deposit is not None and reg.deposit.state != DepositState.PENDING:
        raise Refused(N_("The deposit is already confirmed."))
    if amount != deposit_amount(session, reg) or not rules.payer_matches(payer, reg.user.identity.real_name):
        raise Refused(N_("Callback refused: amount or payer does not match (decision 10)."))
    if ctx.now >= rnd.end_at:
        raise Refused(N_("Bidding has ended; the deposit can no longer qualify (A23)."))
    dep = reg.deposit or Deposit(declared_at=ctx.now, amount=amount)
    dep.method, dep.state, dep.gateway_tx, dep.payer_name, dep.confirmed_at = "gateway", DepositState.HELD, tx, payer, ctx.now
    reg.deposit = dep
    # Listed (or found to be the debtor, a defaulter) since signing up: the payment is recorded,
    # as it happened, but qualifies nobody (no bidder code); the close refunds it with the
    # others (a gateway deposit is unfrozen at once, A36), so nothing before the close shows
    # that someone signed up (decision 13).
    try:
        reason, params = _barred_reason(session, rnd, reg.user, ctx.now), {}
    except Refused as listed:
        reason, params = listed.message, listed.params
    if reason:
        audit.record(session, stream=f"user:{reg.user_id}", actor="gateway", action="deposit.not_qualified",
                     subject="deposit", payload={"tx": tx, "reason": reason, "params": params}, now=ctx.now)
        notify(session, user_id=reg.user_id, now=ctx.now, subject="保证金已收到，但不能取得竞买资格",
               body="您报名后被查明属于不得竞买的人员（被执行人、悔拍人或限制名单所列人员），"
                    "不能取得竞买资格。保证金将于本轮竞价结束时解冻退还。")
    else:
        reg.qualified_at = ctx.now
        audit.record(session, stream=f"user:{reg.user_id}", actor="gateway", action="deposit.confirmed",
                     subject="deposit", payload={"tx": tx}, now=ctx.now)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # the same callback raced itself: the first one won
        return session.scalar(select(Deposit).where(Deposit.gateway_tx == tx))
    return dep


# --- bids --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """What the bidder is told: accepted with the server time and the (new) end."""

    bid_id: int
    seq: int
    amount: Decimal
    received_at: datetime
    end_at: datetime
    extended: bool
    duplicate: bool = False


def server_time(session: Session, ctx: Context, clock) -> datetime:
    """The bid's time (A29, decision 2): the database's ``clock_timestamp()`` on PostgreSQL
    (not ``now()``, the transaction's start), plus the simulated offset; the process clock on
    SQLite (a single machine)."""
    if session.get_bind().dialect.name == "postgresql":
        db_now = session.execute(text("SELECT clock_timestamp()")).scalar_one()
        return _from_db_clock(db_now, clock)
    return clock.now() if clock is not None else ctx.now


def _from_db_clock(db_now: datetime, clock) -> datetime:
    """The bid clock from the database's ``clock_timestamp()``: plus the simulated offset, if any."""
    return db_now.astimezone(timezone.utc) + (clock.offset() if clock is not None else timedelta(0))


def _lock_round(session, round_id: int) -> Round | None:
    return session.execute(select(Round).where(Round.id == round_id).with_for_update(of=Round)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


@dataclass(frozen=True)
class _Locked:
    """What a bid is checked against, read while its round's lock is held."""

    state: str
    start_at: datetime
    end_at: datetime
    starting_price: Decimal
    increment: Decimal
    current_price: Decimal | None
    leader_rank: int | None
    bid_count: int
    qualified_at: datetime | None
    head_seq: int  # the round's ledger stream (0, GENESIS when new)
    head_hash: str
    received: datetime  # the bid's time (decision 2), read after the lock was granted


# The bid's hot path on PostgreSQL: four round trips while the round is locked (the lock, the
# state, one write statement, the commit), as driver SQL: no statement is built per bid, and
# psycopg prepares each on the server after a few uses. See docs/decisions/0012.
# The set_config() of the locking statement bounds that statement's own wait (PostgreSQL evaluates
# the select list before it waits for the row): see _read_locked.
_LOCK_PG = "SELECT state, start_at, end_at, starting_price, increment, set_config('lock_timeout', %(wait)s, true) " \
           "FROM rounds WHERE id = %(r)s AND published_at IS NOT NULL FOR UPDATE"
# A statement of its own, after the lock: its snapshot sees the last bid's writes, and
# clock_timestamp() is read once the lock is ours (in the locking statement it is evaluated
# before the wait). It also bounds any lock wait of the rest of the transaction: from here to
# the commit the worker does not yield (exclusive_waits), so a wait on a lock held by a suspended
# greenlet of the same process could never end; none is known (every other writer of the bid's
# rows holds the round's lock first), and a mistake then costs one refused bid, not a frozen worker.
HELD_LOCK_TIMEOUT = "1s"
# How long a bid waits for its round's lock while blocking its worker (see _read_locked). With
# every bid doing so, at most one bid per worker waits on a round, so the wait is a few holds.
EXCLUSIVE_LOCK_WAIT = "50ms"
_STATE_PG = """SELECT g.qualified_at, b.current_price, b.leader_rank, b.bid_count, s.head_seq, s.head_hash,
clock_timestamp(), set_config('lock_timeout', %(lock_timeout)s, true) FROM registrations g LEFT JOIN round_books b ON b.round_id = %(r)s
LEFT JOIN audit_streams s ON s.name = %(stream)s WHERE g.id = %(g)s"""
# Every write of an accepted bid in one statement; the unique (stream, seq) of the ledger and
# (round_id, seq) of the bids refuse a chain or a book that moved without the round's lock.
_WRITE_PG = """WITH bid AS (
  INSERT INTO bids (round_id, seq, registration_id, code, amount, received_at, priority_rank, extended_to,
                    idempotency_key)
  VALUES (%(r)s, %(seq)s, %(g)s, %(code)s, %(amount)s, %(received)s, %(rank)s, %(extended_to)s, %(key)s)
  RETURNING id),
book AS (
  INSERT INTO round_books (round_id, current_price, leader_registration_id, leader_code, leader_rank, bid_count)
  VALUES (%(r)s, %(amount)s, %(g)s, %(code)s, %(rank)s, %(seq)s)
  ON CONFLICT (round_id) DO UPDATE SET current_price = EXCLUDED.current_price,
    leader_registration_id = EXCLUDED.leader_registration_id, leader_code = EXCLUDED.leader_code,
    leader_rank = EXCLUDED.leader_rank, bid_count = EXCLUDED.bid_count),
rnd AS (
  UPDATE rounds SET state = %(state)s, end_at = %(end_at)s
  WHERE id = %(r)s AND (state <> %(state)s OR end_at <> %(end_at)s)),
entry AS (
  INSERT INTO audit_entries (stream, seq, actor, action, subject, payload, payload_digest, at, prev_hash, hash)
  VALUES (%(stream)s, %(e_seq)s, %(e_actor)s, %(e_action)s, %(e_subject)s, %(e_payload)s, %(e_payload_digest)s,
          %(e_at)s, %(e_prev)s, %(e_hash)s)),
head AS (
  INSERT INTO audit_streams (name, head_seq, head_hash, anchored_seq, updated_at)
  VALUES (%(stream)s, %(e_seq)s, %(e_hash)s, 0, %(e_at)s)
  ON CONFLICT (name) DO UPDATE SET head_seq = EXCLUDED.head_seq, head_hash = EXCLUDED.head_hash,
    updated_at = EXCLUDED.updated_at)
SELECT (SELECT id FROM bid), (SELECT count(pg_notify(%(channel)s, e)) FROM unnest(%(events)s::text[]) AS e)"""

ROUNDS, REGISTRATIONS, STREAMS, ENTRIES = (Round.__table__, Registration.__table__, audit.AuditStream.__table__,
                                           audit.AuditEntry.__table__)


def _driver(session: Session):
    """The psycopg connection of the session's transaction (begun if need be): the bid's
    statements skip SQLAlchemy's execution layer (about a third of a bid's CPU went there)."""
    return session.connection().connection.driver_connection


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(timezone.utc)


def _read_locked(session: Session, round_id: int, registration_id: int, stream: str, ctx: Context,
                 clock, lock_held: ExitStack) -> _Locked | None:
    """Lock the round and read what the bid is checked against (``None``: no such published round).
    On PostgreSQL, once the lock is granted, the connection's waits stop yielding to the worker's
    other greenlets until ``lock_held`` closes (after the commit): decision 0012."""
    params = {"r": round_id, "g": registration_id, "stream": stream}
    if session.get_bind().dialect.name == "postgresql":
        conn = _driver(session)
        try:
            # The lock's wait blocks this process too: a worker then has at most one bid queued on a
            # round's lock and runs it the moment it is granted, instead of leaving the lock held
            # while other requests take the CPU. Its holder may be a suspended greenlet of this very
            # process (an officer's action, a close from a page read): past EXCLUSIVE_LOCK_WAIT the
            # bid starts again and waits cooperatively.
            with exclusive_waits():
                rnd = conn.execute(_LOCK_PG, {**params, "wait": EXCLUSIVE_LOCK_WAIT}).fetchone()
        except psycopg.errors.LockNotAvailable:
            with cooperative_waits():
                session.rollback()
                log.info("round %s: its lock stayed busy over %s; waiting without blocking the worker",
                         round_id, EXCLUSIVE_LOCK_WAIT)
                conn = _driver(session)
                rnd = conn.execute(_LOCK_PG, {**params, "wait": "0"}).fetchone()  # 0: no limit
        if rnd is None:
            return None
        rnd = rnd[:5]
        lock_held.enter_context(exclusive_waits())
        qualified_at, price, rank, count, head_seq, head_hash, db_now, _ = conn.execute(
            _STATE_PG, {**params, "lock_timeout": HELD_LOCK_TIMEOUT}).fetchone()
        received = _from_db_clock(db_now, clock)
    else:  # SQLite: the transaction began IMMEDIATE, so it is the only writer
        rnd = session.execute(select(ROUNDS.c.state, ROUNDS.c.start_at, ROUNDS.c.end_at, ROUNDS.c.starting_price,
                                     ROUNDS.c.increment)
                              .where(ROUNDS.c.id == round_id, ROUNDS.c.published_at.is_not(None))).one_or_none()
        if rnd is None:
            return None
        qualified_at, price, rank, count, head_seq, head_hash = session.execute(
            select(REGISTRATIONS.c.qualified_at, BOOKS.c.current_price, BOOKS.c.leader_rank, BOOKS.c.bid_count,
                   STREAMS.c.head_seq, STREAMS.c.head_hash)
            .select_from(REGISTRATIONS.outerjoin(BOOKS, BOOKS.c.round_id == round_id)
                         .outerjoin(STREAMS, STREAMS.c.name == stream))
            .where(REGISTRATIONS.c.id == registration_id)).one()
        received = clock.now() if clock is not None else ctx.now
    state, start_at, end_at, starting_price, increment = rnd
    return _Locked(state=state, start_at=_utc(start_at), end_at=_utc(end_at), starting_price=starting_price,
                   increment=increment, current_price=price, leader_rank=rank, bid_count=count or 0,
                   qualified_at=_utc(qualified_at), head_seq=head_seq or 0, head_hash=head_hash or audit.GENESIS,
                   received=received)


def _write_bid(session: Session, w: dict, entry: dict, events: list[str]) -> int:
    """Every write of an accepted bid (``w``: the bid, the book and the round; ``entry``: its
    ledger row; ``events``: its live events); returns the bid's id."""
    if session.get_bind().dialect.name == "postgresql":
        params = {**w, **{f"e_{k}": v for k, v in entry.items() if k != "prev_hash"}, "e_prev": entry["prev_hash"],
                  "stream": entry["stream"], "channel": live.CHANNEL, "events": events}
        try:
            return _driver(session).execute(_WRITE_PG, params).fetchone()[0]
        except psycopg.errors.UniqueViolation as exc:
            raise IntegrityError(_WRITE_PG, params, exc) from exc
        except psycopg.errors.LockNotAvailable as exc:  # HELD_LOCK_TIMEOUT: see _STATE_PG
            session.rollback()
            raise Busy("a bid's write waited for a lock") from exc
    bid_id = session.execute(BIDS.insert().values(
        round_id=w["r"], seq=w["seq"], registration_id=w["g"], code=w["code"], amount=w["amount"],
        received_at=w["received"], priority_rank=w["rank"], extended_to=w["extended_to"],
        idempotency_key=w["key"]).returning(BIDS.c.id)).scalar_one()
    leader = {"current_price": w["amount"], "leader_registration_id": w["g"], "leader_code": w["code"],
              "leader_rank": w["rank"], "bid_count": w["seq"]}
    session.execute(sqlite_insert(BOOKS).values(round_id=w["r"], **leader)
                    .on_conflict_do_update(index_elements=[BOOKS.c.round_id], set_=leader))
    session.execute(ROUNDS.update().where(ROUNDS.c.id == w["r"]).values(state=w["state"], end_at=w["end_at"]))
    head = {"head_seq": entry["seq"], "head_hash": entry["hash"], "updated_at": entry["at"]}
    session.execute(sqlite_insert(STREAMS).values(name=entry["stream"], anchored_seq=0, **head)
                    .on_conflict_do_update(index_elements=[STREAMS.c.name], set_=head))
    session.execute(ENTRIES.insert().values(**entry))
    live.send(session, events)
    return bid_id


_BIDDER_PG = """SELECT g.id, g.code, g.priority_rank, b.id, b.seq, b.amount, b.received_at, b.extended_to, r.end_at,
r.state, r.start_at, r.starting_price, r.increment, k.current_price, k.leader_rank, g.qualified_at, clock_timestamp()
FROM registrations g JOIN rounds r ON r.id = g.round_id
LEFT JOIN bids b ON b.registration_id = g.id AND b.idempotency_key = %(key)s
LEFT JOIN round_books k ON k.round_id = g.round_id
WHERE g.round_id = %(r)s AND g.user_id = %(u)s"""


class _Bidder(NamedTuple):
    """The bidder's registration on the round, the bid this idempotency key already made, and
    the round as it was before the lock (a snapshot: see :func:`_refused_before_lock`)."""

    id: int
    code: str
    priority_rank: int | None
    bid_id: int | None
    seq: int | None
    amount: Decimal | None
    received_at: datetime | None
    extended_to: datetime | None
    end_at: datetime
    state: str
    start_at: datetime
    starting_price: Decimal
    increment: Decimal
    current_price: Decimal | None
    leader_rank: int | None
    qualified_at: datetime | None
    now: datetime


def _bidder(session: Session, round_id: int, user_id: int, key: str, ctx: Context, clock) -> _Bidder | None:
    """Before the lock, what cannot change under it: who is bidding, and whether this key was
    already used (a retry returns the first receipt; the unique key catches a racing twin);
    and a snapshot of the round's book."""
    if session.get_bind().dialect.name == "postgresql":
        row = _driver(session).execute(_BIDDER_PG, {"r": round_id, "u": user_id, "key": key}).fetchone()
        if row is None:
            return None
        now = _from_db_clock(row[-1], clock)
    else:
        row = session.execute(
            select(REGISTRATIONS.c.id, REGISTRATIONS.c.code, REGISTRATIONS.c.priority_rank, BIDS.c.id, BIDS.c.seq,
                   BIDS.c.amount, BIDS.c.received_at, BIDS.c.extended_to, ROUNDS.c.end_at, ROUNDS.c.state,
                   ROUNDS.c.start_at, ROUNDS.c.starting_price, ROUNDS.c.increment, BOOKS.c.current_price,
                   BOOKS.c.leader_rank, REGISTRATIONS.c.qualified_at)
            .select_from(REGISTRATIONS.join(ROUNDS, ROUNDS.c.id == REGISTRATIONS.c.round_id)
                         .outerjoin(BIDS, (BIDS.c.registration_id == REGISTRATIONS.c.id)
                                    & (BIDS.c.idempotency_key == key))
                         .outerjoin(BOOKS, BOOKS.c.round_id == REGISTRATIONS.c.round_id))
            .where(REGISTRATIONS.c.round_id == round_id, REGISTRATIONS.c.user_id == user_id)).one_or_none()
        if row is None:
            return None
        now = clock.now() if clock is not None else ctx.now
    return _Bidder(*row[:16], now)


def _refused_before_lock(reg: _Bidder, amount: Decimal) -> str | None:
    """The rule's words if the bid is certainly refused, from the snapshot read before the lock;
    ``None`` if only the locked round can tell. Only while the snapshot shows the round open
    (the locked check would answer "ended" or "not open" first): the price only rises, the ladder
    never moves, and at an unchanged price only a higher-ranked holder may take the lead, so an
    amount refused now is refused under the lock too. On a busy lot most refusals are bids
    overtaken on the way; they no longer queue for the lock (decision 0012)."""
    if (reg.state not in BIDDING_STATES or reg.qualified_at is None
            or not _utc(reg.start_at) <= reg.now < _utc(reg.end_at)):
        return None
    try:
        rules.check_bid(rules.Book(starting_price=reg.starting_price, increment=reg.increment,
                                   current_price=reg.current_price, end_at=_utc(reg.end_at),
                                   leader_rank=reg.leader_rank),
                        amount=amount, received_at=reg.now, priority_rank=reg.priority_rank)
    except BidRefused as exc:
        return str(exc)
    return None


def _twin_receipt(session: Session, registration_id: int, key: str, end_at: datetime) -> Receipt | None:
    """The receipt of the bid this key already made (the same request sent twice at once),
    read after this attempt was rolled back; ``None`` if there is none."""
    twin = session.scalar(select(Bid).where(Bid.registration_id == registration_id, Bid.idempotency_key == key))
    session.rollback()
    if twin is None:
        return None
    return Receipt(twin.id, twin.seq, twin.amount, twin.received_at, twin.extended_to or end_at,
                   twin.extended_to is not None, duplicate=True)


def place_bid(session: Session, *, user: User, round_id: int, amount: Decimal, idempotency_key: str, ctx: Context,
              clock=None) -> Receipt:
    """Accept a bid under the lock on its round, re-checking everything on the locked row:
    state, ``received_at < end_at``, amount, qualification. Extends the end (A28) in the same
    transaction. A retry with the same idempotency key returns the first receipt.

    :raise NotFound, NotAllowed, Refused:
    """
    key = (idempotency_key or "").strip()[:64]
    if not key:
        raise Refused(N_("A bid needs an idempotency key."))
    try:
        amount = to_money(amount)
    except MoneyError:
        raise Refused(N_("The amount is not valid.")) from None
    reg = _bidder(session, round_id, user.id, key, ctx, clock)
    if reg is None:
        session.rollback()
        if session.scalar(select(Round.id).where(Round.id == round_id, Round.published_at.is_not(None))) is None:
            raise NotFound()
        raise NotAllowed()
    if reg.bid_id is not None:
        session.rollback()
        return Receipt(reg.bid_id, reg.seq, reg.amount, _utc(reg.received_at), _utc(reg.extended_to or reg.end_at),
                       reg.extended_to is not None, duplicate=True)
    refusal = _refused_before_lock(reg, amount)
    if refusal is not None:
        session.rollback()
        raise Refused(refusal)
    stream = f"round:{round_id}"
    with ExitStack() as lock_held:  # PostgreSQL: exclusive waits from the lock to the commit
        locked = _read_locked(session, round_id, reg.id, stream, ctx, clock, lock_held)
        if locked is None:
            session.rollback()
            raise NotFound()
        received = locked.received
        if locked.qualified_at is None:
            session.rollback()
            raise Refused(N_("Your deposit is not confirmed yet; you cannot bid (A20)."))
        if locked.state not in BIDDING_STATES or received < locked.start_at:
            session.rollback()
            raise Refused(N_("This round is not open for bidding."))
        try:
            rules.check_bid(rules.Book(starting_price=locked.starting_price, increment=locked.increment,
                                       current_price=locked.current_price, end_at=locked.end_at,
                                       leader_rank=locked.leader_rank),
                            amount=amount, received_at=received, priority_rank=reg.priority_rank)
        except BidRefused as exc:
            session.rollback()
            twin = _twin_receipt(session, reg.id, key, locked.end_at)
            if twin is not None:  # the same request, sent twice at once: its twin made the bid
                return twin
            raise Refused(str(exc)) from None
        state, end_at = locked.state, locked.end_at
        if state == RoundState.VARIATION_OPEN:
            # C06: the first 变卖 bid opens a 24-hour window.
            state, end_at = RoundState.VARIATION_BIDDING, received + rnd_window(ctx)
        new_end = rules.extended_end(end_at, received, ctx.rulebook.extension_window)
        extended = new_end != end_at
        seq = locked.bid_count + 1
        entry = audit.next_entry(stream=stream, head_seq=locked.head_seq, head_hash=locked.head_hash,
                                 actor=f"code:{reg.code}", action="bid.placed", subject=stream,
                                 payload={"seq": seq, "code": reg.code, "amount": str(amount),
                                          "received_at": received.isoformat(), "end_at": new_end.isoformat()},
                                 now=received)
        events = live.bid_events(round_id, seq=seq, code=reg.code, amount=amount, at=received, end_at=new_end,
                                 extended=extended, state=state)
        try:
            bid_id = _write_bid(session, {
                "r": round_id, "seq": seq, "g": reg.id, "code": reg.code, "amount": amount, "received": received,
                "rank": reg.priority_rank, "extended_to": new_end if extended else None, "key": key,
                "state": str(state), "end_at": new_end}, entry, events)
        except IntegrityError:  # the same key's twin committed while this one waited for the lock
            session.rollback()
            twin = _twin_receipt(session, reg.id, key, new_end)
            if twin is None:
                raise
            return twin
        session.commit()
        lock_held.close()
        for cls in (Round, Book):  # written without the ORM: a copy this session holds is stale
            held = session.identity_map.get(session.identity_key(cls, round_id))
            if held is not None:
                session.expire(held)
        return Receipt(bid_id, seq, amount, received, new_end, extended)


def rnd_window(ctx: Context) -> timedelta:
    return ctx.rulebook.variation_bidding_window


# --- the close ----------------------------------------------------------------------------------


def close_round(session: Session, *, round_id: int, ctx: Context, clock=None) -> bool:
    """Close a round whose end has passed — exactly once. The claim is a conditional update on
    the round's state and end time under its lock; a concurrent bid that extended the end
    makes it match nothing. Decides the winner (A31–A33), hands the outcome to ``auction``,
    moves the deposits (winner's applied, others due for refund within 24 h). Returns whether
    this call closed it.

    With ``clock``, "has the end passed" is asked of the bids' own clock once the row is locked
    (:func:`server_time`: the database's on PostgreSQL), and the close is stamped with that
    time: a scheduler whose clock runs ahead can never close a round a bid may still enter."""
    rnd = _lock_round(session, round_id)
    if rnd is not None and clock is not None:
        ctx = replace(ctx, now=server_time(session, ctx, clock))
    if rnd is None or rnd.state not in (RoundState.BIDDING, RoundState.VARIATION_BIDDING) or rnd.end_at > ctx.now:
        session.rollback()
        return False
    claimed = session.execute(update(Round).where(Round.id == rnd.id, Round.state == rnd.state,
                                                  Round.end_at == rnd.end_at, Round.closed_at.is_(None))
                              .values(closed_at=ctx.now)).rowcount
    if claimed != 1:
        session.rollback()
        return False
    bids = session.scalars(select(Bid).where(Bid.round_id == rnd.id).order_by(Bid.seq)).all()
    best = rules.winner([BidFacts(b.seq, b.registration_id, b.amount, b.priority_rank) for b in bids])
    close_ctx = ctx
    regs = session.scalars(select(Registration).where(Registration.round_id == rnd.id)
                           .options(selectinload(Registration.deposit), lazyload(Registration.user))).all()
    case_id = rnd.lot.case_id
    # Every held deposit enters the case-fund ledger at the close (decision 21: amounts only),
    # then the winner's is applied to the price and the others are refunded or fall due.
    movements = [(FundMovement.DEPOSIT_HELD, reg.deposit.amount, f"deposit:{reg.deposit.id}", "竞买保证金")
                 for reg in regs if reg.deposit is not None and reg.deposit.state == DepositState.HELD
                 and reg.deposit.amount > 0]
    if best is None:
        auction_services.record_no_sale(session, round_id=rnd.id, ctx=close_ctx, documents=False)
    else:
        winner_reg = next(reg for reg in regs if reg.id == best.registration_id)
        auction_services.record_sale(session, round_id=rnd.id, buyer_id=winner_reg.user_id, buyer_code=winner_reg.code,
                                     price=best.amount, ctx=close_ctx, documents=False)
    for reg in regs:
        dep = reg.deposit
        if dep is None or dep.state != DepositState.HELD:
            continue
        if best is not None and reg.id == best.registration_id:
            dep.state, dep.settled_at = DepositState.APPLIED, ctx.now
            if dep.amount > 0:
                movements.append((FundMovement.DEPOSIT_APPLIED, dep.amount, f"deposit:{dep.id}", "买受人保证金转为价款"))
        else:
            dep.refund_due_at = ctx.now + ctx.rulebook.refund_deadline
            if dep.method in ("gateway", "exempt"):  # unfrozen at once (A36/A37)
                movements += _refund(dep, ctx)
    case_services.record_fund_movements(session, case_id=case_id, movements=movements, actor="system:close",
                                        now=ctx.now)
    audit.record(session, stream=f"round:{rnd.id}", actor="system:close", action="round.closed",
                 subject=f"round:{rnd.id}",
                 payload={"bids": len(bids), "winner_code": winner_reg.code if best else None, "price": str(best.amount) if best else None,
                          "registrations": len(regs)}, now=ctx.now)
    live.publish_close(session, rnd, bids[-1] if bids else None)
    session.commit()
    return True


def close_if_due(session: Session, rnd: Round, ctx: Context, clock=None) -> Round:
    """A round whose end has passed is shown closed: close it now if the scheduler has not
    (exactly once, DESIGN.md §5; the close rechecks the end under the round's lock)."""
    if rnd.state in (RoundState.BIDDING, RoundState.VARIATION_BIDDING) and rnd.end_at <= ctx.now:
        close_round(session, round_id=rnd.id, ctx=ctx, clock=clock)
        session.expire_all()
    return rnd


def _refund(dep: Deposit, ctx: Context) -> list[tuple]:
    """Mark a deposit refunded; returns its fund movement for the caller to record."""
    dep.state, dep.refunded_at, dep.settled_at = DepositState.REFUNDED, ctx.now, ctx.now
    return [(FundMovement.DEPOSIT_REFUNDED, dep.amount, f"deposit:{dep.id}", "退还保证金")] if dep.amount > 0 else []


def record_refund(session: Session, *, finance: User, deposit_id: int, ctx: Context) -> Deposit:
    """The finance officer records a bank refund (decision 9: within 24 h of the close)."""
    dep = session.get(Deposit, deposit_id)
    if dep is None:
        raise NotFound()
    rnd = session.get(Round, dep.registration.round_id)
    if finance.role != Role.FINANCE or finance.court_id != rnd.lot.case.court_id:
        raise NotAllowed()
    if dep.state != DepositState.HELD or dep.refund_due_at is None:
        raise Refused(N_("This deposit is not due for a refund."))
    case_services.record_fund_movements(session, case_id=rnd.lot.case_id, movements=_refund(dep, ctx),
                                        actor=finance.actor, now=ctx.now)
    session.commit()
    return dep


def late_refunds(session: Session, *, now: datetime) -> list[Deposit]:
    """Refunds past their 24 hours (decision 9), for the court's dashboard."""
    return [d for d in session.scalars(select(Deposit).where(Deposit.state == DepositState.HELD,
                                                             Deposit.refund_due_at.is_not(None)))
            if rules.refund_late(due_at=d.refund_due_at, refunded_at=d.refunded_at, now=now)]


def run_due(session: Session, ctx: Context, clock=None, *, new_session=None, workers: int = 1) -> int:
    """Close every round whose end has passed, earliest end first (idempotent; safe with
    several schedulers). Each close reads the time afresh (see :func:`close_round`).

    With ``new_session`` and ``workers > 1`` on PostgreSQL, rounds close in parallel, each in
    its own session: hundreds of rounds ending in the same minute (DESIGN.md §6) spend most of
    a close waiting on the database, and rounds do not share a lock (their cases may, and then
    wait for each other as they must)."""
    ids = session.scalars(select(Round.id).where(
        Round.state.in_([RoundState.BIDDING, RoundState.VARIATION_BIDDING]), Round.end_at <= ctx.now,
        Round.closed_at.is_(None)).order_by(Round.end_at, Round.id)).all()
    session.rollback()
    if new_session is not None and workers > 1 and len(ids) > 1 and session.get_bind().dialect.name == "postgresql":
        if hasattr(ctx.calendar, "loaded"):  # read with this session, not from the close threads
            ctx = replace(ctx, calendar=ctx.calendar.loaded())

        def close_one(rid: int) -> bool:
            with new_session() as own:
                return close_round(own, round_id=rid, ctx=ctx, clock=clock)

        with ThreadPoolExecutor(max_workers=min(workers, len(ids)), thread_name_prefix="close") as pool:
            return sum(pool.map(close_one, ids))
    return sum(close_round(session, round_id=rid, ctx=ctx, clock=clock) for rid in ids)


def upcoming(session: Session) -> list[datetime]:
    return list(session.scalars(select(Round.end_at).where(
        Round.state.in_([RoundState.BIDDING, RoundState.VARIATION_BIDDING]))))


def public_book(session: Session, round_id: int) -> dict:
    """What anyone may see of a round's bidding: codes, amounts, times — never identities nor
    the number of registrants (decision 13)."""
    rnd = session.get(Round, round_id)
    book = session.get(Book, round_id)
    bids = session.scalars(select(Bid).where(Bid.round_id == round_id).order_by(Bid.seq.desc()).limit(50)).all()
    return {"round_id": round_id, "state": str(rnd.state), "end_at": rnd.end_at, "start_at": rnd.start_at,
            "current_price": book.current_price if book else None, "leader_code": book.leader_code if book else None,
            "bid_count": book.bid_count if book else 0,
            "bids": [{"seq": b.seq, "code": b.code, "amount": b.amount, "at": b.received_at,
                      "extended": b.extended_to is not None} for b in bids]}


def my_registration(session: Session, *, user: User, round_id: int) -> Registration | None:
    return session.scalar(select(Registration).where(Registration.round_id == round_id,
                                                     Registration.user_id == user.id))
