"""Pure rules of bidding (RULES.md A19–A38, decisions 2, 9–13, 29): valid amounts, the
5-minute extension, priority ties, the winner, bidder codes, deposits and refunds, and the
payment gateway's signature. No Flask, no SQLAlchemy, no clock.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from core.text import N_


class BidRefused(ValueError):
    """A bid the rules refuse; ``str()`` is a msgid quoting the rule."""


@dataclass(frozen=True)
class Book:
    """What a bid is checked against: the round's terms and its current state."""

    starting_price: Decimal
    increment: Decimal
    current_price: Decimal | None  # None: no bid yet
    end_at: datetime
    #: The current leader's priority rank (None: an ordinary bidder leads).
    leader_rank: int | None = None


def is_on_the_ladder(amount: Decimal, *, starting_price: Decimal, increment: Decimal) -> bool:
    """Decision 11: every bid is ``starting_price + k × increment`` with k ≥ 0."""
    if amount < starting_price:
        return False
    return (amount - starting_price) % increment == 0


def check_bid(book: Book, *, amount: Decimal, received_at: datetime, priority_rank: int | None = None) -> None:
    """Decision 2, 11, A26, A31: valid only before the end, on the ladder, at least the starting
    price for the first bid and strictly above the current price after it — except that a
    confirmed priority holder may match the current price when an ordinary bidder (or a
    lower-ranked holder) leads.

    :raise BidRefused: with the rule's words.
    """
    if received_at >= book.end_at:
        raise BidRefused(N_("Bidding has ended (the time the server received your bid counts, A29)."))
    if amount < book.starting_price:
        raise BidRefused(N_("A bid below the starting price is invalid (A26)."))
    if not is_on_the_ladder(amount, starting_price=book.starting_price, increment=book.increment):
        raise BidRefused(N_("A bid must be the starting price plus whole increments (decision 11)."))
    if book.current_price is None:
        return
    if amount > book.current_price:
        return
    if amount == book.current_price and priority_rank is not None and (
            book.leader_rank is None or priority_rank < book.leader_rank):
        return  # A31/A32: a priority holder may match; a higher rank may match a lower one
    raise BidRefused(N_("A bid must be higher than the current price (A26)."))


def next_valid_amounts(book: Book, *, count: int = 3, priority_rank: int | None = None) -> list[Decimal]:
    """The next amounts a bidder may offer (shown on the bid page)."""
    if book.current_price is None:
        first = book.starting_price
    else:
        first = book.current_price + book.increment
        if priority_rank is not None and (book.leader_rank is None or priority_rank < book.leader_rank):
            first = book.current_price
    return [first + book.increment * i for i in range(count)]


def extended_end(end_at: datetime, received_at: datetime, window: timedelta) -> datetime:
    """A28 / decision 2: a valid bid with ``end_at − received_at ≤ 5 min`` moves the end to
    ``received_at + 5 min`` (so a bid exactly 5 minutes before the end changes nothing)."""
    if end_at - received_at <= window:
        return max(end_at, received_at + window)
    return end_at


@dataclass(frozen=True)
class BidFacts:
    seq: int
    registration_id: int
    amount: Decimal
    priority_rank: int | None


def winner(bids: list[BidFacts]) -> BidFacts | None:
    """A31–A33: the highest amount wins; at the same amount a priority holder beats an
    ordinary bidder, a higher rank (smaller number) beats a lower one, and between equal
    ranks the earlier bid wins."""
    if not bids:
        return None
    top = max(b.amount for b in bids)
    at_top = [b for b in bids if b.amount == top]
    return min(at_top, key=lambda b: (b.priority_rank is None, b.priority_rank or 0, b.seq))


# --- bidder codes ----------------------------------------------------------------------------------

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_bidder_code(priority_rank: int | None = None) -> str:
    """An anonymous code (A23); a priority holder's code shows its rank (A25): ``P1-7KQ3``."""
    core = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4))
    return f"P{priority_rank}-{core}" if priority_rank is not None else core


# --- deposits ------------------------------------------------------------------------------------


class DepositState(StrEnum):
    """Every deposit is in exactly one of these (DESIGN.md §5)."""

    #: Declared or started, not yet confirmed.
    PENDING = "pending"
    #: Confirmed: the bidder is qualified and holds a code.
    HELD = "held"
    #: Returned to the payer (losers, 流拍, withdrawn… within 24 h, decision 9).
    REFUNDED = "refunded"
    #: Kept after a default (A40).
    FORFEITED = "forfeited"
    #: Counted toward the winner's price (A36).
    APPLIED = "applied"


def deposit_due(deposit: Decimal, *, claim: Decimal | None) -> Decimal:
    """A21: the applicant-creditor pays only the part of the deposit above its claim."""
    if claim is None:
        return deposit
    return max(Decimal("0.00"), deposit - claim)


def payer_matches(payer_name: str, real_name: str) -> bool:
    """Decision 10: a deposit counts only when the payer is the bidder (or its enterprise)."""
    clean = lambda s: "".join((s or "").split()).replace("（", "(").replace("）", ")")  # noqa: E731
    return bool(payer_name) and clean(payer_name) == clean(real_name)


def refund_late(*, due_at: datetime, refunded_at: datetime | None, now: datetime) -> bool:
    """Decision 9: a refund is late once its 24 hours have passed without it."""
    return refunded_at is None and now > due_at


# --- the gateway's callbacks --------------------------------------------------------------------


def gateway_signature(secret: str, *, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of ``timestamp.body`` with the shared secret (hex)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def check_gateway_signature(secret: str, *, timestamp: str, body: bytes, signature: str, now_epoch: float,
                            tolerance_s: int = 300) -> None:
    """A callback is genuine when its signature matches and it is fresh (replays outside the
    window are refused; inside it the transaction id makes a replay change nothing).

    :raise BidRefused:
    """
    try:
        sent = float(timestamp)
    except ValueError:
        raise BidRefused(N_("Callback refused: bad timestamp.")) from None
    if abs(now_epoch - sent) > tolerance_s:
        raise BidRefused(N_("Callback refused: too old or from the future (replay)."))
    expected = gateway_signature(secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected, signature or ""):
        raise BidRefused(N_("Callback refused: the signature does not match."))
