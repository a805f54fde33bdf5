"""Pure rules of auction lots and rounds (RULES.md a.1–a.4, section b, decisions 1–13, 17–18,
22, 28): prices, deposits, schedules, lead times, notices, the publication set, the round
state machine, outcome deadlines and the 悔拍 forfeiture order.

No Flask, no SQLAlchemy, no clock: dates and ``now`` are arguments. Every refusal raises
:class:`AuctionRuleError` whose text is a msgid quoting the rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from core.calendar import lead_time_met
from core.money import to_money
from core.text import N_


class AuctionRuleError(ValueError):
    """A step the law forbids; ``str()`` is a msgid quoting the rule."""


class RoundKind(StrEnum):
    #: 一拍: first auction.
    FIRST = "first"
    #: 二拍: re-auction after 流拍, starting price cut ≤ 20 % (A43).
    SECOND = "second"
    #: Re-auction after 悔拍 (decision 6): same round rules, the defaulter barred (A41).
    RESALE = "resale"
    #: 变卖: fixed-price sale after the second 流拍 (C01–C06, decision 7).
    VARIATION = "variation"


class RoundState(StrEnum):
    """The lot's round (RULES.md section b.1)."""

    DRAFT = "draft"
    NOTIFYING = "notifying"
    ANNOUNCED = "announced"
    BIDDING = "bidding"
    SUSPENDED = "suspended"
    HALTED = "halted"
    WITHDRAWN = "withdrawn"
    SOLD = "sold"
    UNSOLD = "unsold"
    AWAITING_BALANCE = "awaiting_balance"
    PAID = "paid"
    RULED = "ruled"
    HANDED_OVER = "handed_over"
    DEFAULTED = "defaulted"
    ANNULLED = "annulled"
    #: 抵债: a creditor took the property at the round's price (B04).
    TAKEN_IN_PAYMENT = "taken_in_payment"
    VARIATION_ANNOUNCED = "variation_announced"
    VARIATION_OPEN = "variation_open"
    VARIATION_BIDDING = "variation_bidding"
    VARIATION_FAILED = "variation_failed"


class IllegalTransition(AuctionRuleError):
    """A move the state machine of section b does not allow."""


S = RoundState
#: Section b.2: event → (states it may happen in, state it leads to). ``None`` target: the
#: event keeps the state (or the service decides between listed targets).
TRANSITIONS: dict[str, tuple[frozenset[RoundState], RoundState | None]] = {
    "serve_notices": (frozenset({S.DRAFT}), S.NOTIFYING),
    "publish": (frozenset({S.NOTIFYING}), S.ANNOUNCED),
    "open_bidding": (frozenset({S.ANNOUNCED}), S.BIDDING),
    "close_sold": (frozenset({S.BIDDING, S.VARIATION_BIDDING}), S.SOLD),
    "close_unsold": (frozenset({S.BIDDING}), S.UNSOLD),
    "suspend": (frozenset({S.ANNOUNCED, S.BIDDING}), S.SUSPENDED),
    "halt": (frozenset({S.ANNOUNCED, S.BIDDING}), S.HALTED),
    "resume": (frozenset({S.SUSPENDED, S.HALTED}), None),  # → ANNOUNCED or BIDDING
    "withdraw": (frozenset({S.DRAFT, S.NOTIFYING, S.ANNOUNCED, S.SUSPENDED, S.HALTED,
                            S.VARIATION_ANNOUNCED, S.VARIATION_OPEN}), S.WITHDRAWN),
    "await_balance": (frozenset({S.SOLD}), S.AWAITING_BALANCE),
    "balance_paid": (frozenset({S.AWAITING_BALANCE}), S.PAID),
    "default": (frozenset({S.AWAITING_BALANCE}), S.DEFAULTED),
    "rule": (frozenset({S.PAID}), S.RULED),
    "hand_over": (frozenset({S.RULED}), S.HANDED_OVER),
    "annul": (frozenset({S.SOLD, S.AWAITING_BALANCE, S.PAID, S.RULED}), S.ANNULLED),
    "take_in_payment": (frozenset({S.UNSOLD}), S.TAKEN_IN_PAYMENT),
    "variation_open": (frozenset({S.VARIATION_ANNOUNCED}), S.VARIATION_OPEN),
    "variation_first_bid": (frozenset({S.VARIATION_OPEN}), S.VARIATION_BIDDING),
    "variation_failed": (frozenset({S.VARIATION_OPEN}), S.VARIATION_FAILED),
}


def next_state(state: RoundState, event: str, *, target: RoundState | None = None) -> RoundState:
    """The state after ``event``; ``target`` picks the state for events with a choice.

    :raise IllegalTransition: the event is not allowed in ``state``.
    """
    try:
        allowed, to = TRANSITIONS[event]
    except KeyError:
        raise IllegalTransition(N_("Unknown step.")) from None
    if RoundState(state) not in allowed:
        raise IllegalTransition(N_("This step is not possible while the round is %(state)s."))
    if to is None:
        if target not in (S.ANNOUNCED, S.BIDDING):
            raise IllegalTransition(N_("A resumed round returns to the announcement or to bidding."))
        return target
    return to


# --- prices, deposits, increments ---------------------------------------------------------------


def min_starting_price(*, kind: RoundKind, reference_price: Decimal, previous_start: Decimal | None,
                       rulebook) -> Decimal:
    """The lowest starting price the law allows for a round.

    * 一拍: ≥ 70 % of the reference price (A05).
    * 二拍: the cut from the previous starting price is at most 20 % (A43).
    * Resale after 悔拍: the same round's rules (decision 6): its floor is the defaulted round's.
    """
    if RoundKind(kind) in (RoundKind.FIRST,):
        return to_money(reference_price * rulebook.start_price_floor_pct / 100)
    if previous_start is None:
        raise AuctionRuleError(N_("The previous round's starting price is needed."))
    if RoundKind(kind) is RoundKind.SECOND:
        return to_money(previous_start * (100 - rulebook.round2_max_cut_pct) / 100)
    return to_money(reference_price * rulebook.start_price_floor_pct / 100)


def check_terms(*, kind: RoundKind, starting_price: Decimal, deposit: Decimal, increment: Decimal,
                reference_price: Decimal, previous_start: Decimal | None, rulebook) -> None:
    """A05/A43 floor, A19 deposit range, A26 increment.

    :raise AuctionRuleError: quoting the rule.
    """
    if starting_price <= 0:
        raise AuctionRuleError(N_("The starting price must be greater than zero."))
    floor = min_starting_price(kind=kind, reference_price=reference_price, previous_start=previous_start,
                               rulebook=rulebook)
    if starting_price < floor:
        if RoundKind(kind) is RoundKind.SECOND:
            raise AuctionRuleError(N_("The second auction's starting price may be cut by at most 20 %% of the first "
                                      "(A43): at least %(floor)s."))
        raise AuctionRuleError(N_("The starting price must be at least 70 %% of the reference price (A05): "
                                  "at least %(floor)s."))
    low = to_money(starting_price * rulebook.deposit_min_pct / 100)
    high = to_money(starting_price * rulebook.deposit_max_pct / 100)
    if not low <= deposit <= high:
        raise AuctionRuleError(N_("The deposit must be 5 %% to 20 %% of the starting price (A19): between %(low)s "
                                  "and %(high)s."))
    if increment <= 0:
        raise AuctionRuleError(N_("The increment must be greater than zero (A26)."))
    if increment > starting_price:
        raise AuctionRuleError(N_("The increment cannot exceed the starting price."))


def deposit_bounds(starting_price: Decimal, rulebook) -> tuple[Decimal, Decimal]:
    return (to_money(starting_price * rulebook.deposit_min_pct / 100),
            to_money(starting_price * rulebook.deposit_max_pct / 100))


def check_schedule(*, start_at: datetime, end_at: datetime, rulebook) -> None:
    """A27: the bidding lasts at least 24 hours."""
    if end_at - start_at < rulebook.min_bidding_period:
        raise AuctionRuleError(N_("Bidding must last at least 24 hours (A27)."))


def lead_days(*, kind: RoundKind, movable: bool, rulebook) -> int:
    """Minimum days between the announcement and the bidding start (A08, A09, C03)."""
    if RoundKind(kind) is RoundKind.FIRST:
        return rulebook.lead_days_movable_r1 if movable else rulebook.lead_days_property_r1
    if RoundKind(kind) is RoundKind.VARIATION:
        return rulebook.variation_lead_days_movable if movable else rulebook.variation_lead_days_property
    return rulebook.lead_days_movable_r2 if movable else rulebook.lead_days_property_r2


def check_lead_time(*, kind: RoundKind, movable: bool, publish_at: datetime, start_at: datetime, rulebook,
                    local_date) -> None:
    """Decision 3: ``start date − publish date ≥ N`` calendar days in Asia/Shanghai (under the
    demo rulebook the same N, each day lasting ``rulebook.day``)."""
    n = lead_days(kind=kind, movable=movable, rulebook=rulebook)
    if rulebook.day == timedelta(days=1):
        ok = lead_time_met(local_date(publish_at), local_date(start_at), n)
    else:
        ok = start_at - publish_at >= rulebook.days(n)
    if not ok:
        raise AuctionRuleError(N_("The announcement must be published at least %(days)s days before bidding "
                                  "starts (A08/A09)."))


# --- notices (A15–A17, decisions 4 and 28) ------------------------------------------------------


class NoticeMethod(StrEnum):
    #: Served in writing or another confirmable way.
    SERVED = "served"
    #: Could not be reached: published on the platform (deemed served after 5 days, A17).
    PUBLISHED = "published"
    #: Waived in writing (A16).
    WAIVED = "waived"


@dataclass(frozen=True)
class NoticeFacts:
    method: NoticeMethod
    at: datetime


def notices_ready(notices: list[NoticeFacts], *, publish_at: datetime, rulebook) -> bool:
    """Every recipient was notified ≥ 3 days before publication, or published as unreachable
    ≥ 5 + 3 days before (decision 4), or waived (A15–A17)."""
    need = rulebook.days(rulebook.notice_days_before_announcement)
    for n in notices:
        if n.method is NoticeMethod.WAIVED:
            continue
        wait = need if n.method is NoticeMethod.SERVED else need + rulebook.days(rulebook.unreachable_publication_days)
        if publish_at - n.at < wait:
            return False
    return True


# --- the publication set (A12, A13, decision 17) ------------------------------------------------

#: The items of A12 and A13 that must be present to publish, with the words shown when missing.
PUBLICATION_ITEMS: list[tuple[str, str]] = [
    ("basis_document", N_("the enforcement basis document (A12(2))")),
    ("appraisal_report", N_("a copy of the appraisal report or the pricing basis (A12(3))")),
    ("photos", N_("photos or video of the property (A12(5))")),
    ("title_and_possession", N_("title, possession and use of the property (A12(5))")),
    ("defects", N_("known defects and encumbrances, or a statement that none are known (A13(3))")),
    ("notice_status", N_("whether parties and priority holders were notified (A12(7))")),
    ("taxes", N_("who bears which taxes and fees (A12(9), decision 17)")),
    ("court_contact", N_("the court's contact and supervision channel (A12(10))")),
    ("balance_period", N_("the balance payment period (A39)")),
]


def missing_publication_items(present: dict[str, bool]) -> list[str]:
    """The msgids of the A12/A13 items that are missing (empty when complete)."""
    return [text for key, text in PUBLICATION_ITEMS if not present.get(key)]


def within_validity(*, valid_until: date, publish_day: date, start_day: date, grace_until: date) -> None:
    """E44 with the grace day computed by the caller (appraisal.rules.grace_until).

    :raise AuctionRuleError:
    """
    if publish_day > valid_until:
        raise AuctionRuleError(N_("The reference price expired before this announcement; a new one is needed (E44)."))
    if start_day > grace_until:
        raise AuctionRuleError(N_("The auction would start more than 6 months after the reference price expired (E44)."))


# --- deadlines after a round ----------------------------------------------------------------------


def relist_deadline(unsold_on: date, rulebook) -> date:
    """A43 / decision 22: the round-2 announcement ≤ 30 days after the 流拍."""
    return unsold_on + timedelta(days=rulebook.relist_within_days)


def variation_deadline(unsold_on: date, rulebook) -> date:
    """C01 / decision 22: the 变卖 announcement ≤ 15 days after the second 流拍."""
    return unsold_on + timedelta(days=rulebook.variation_announce_within_days)


def ruling_deadline(paid_on: date, rulebook) -> date:
    """B07: the 成交裁定 is served ≤ 10 days after full payment."""
    return paid_on + timedelta(days=rulebook.ruling_after_payment_days)


def handover_deadline(ruled_on: date, rulebook) -> date:
    """B08: the property is handed over ≤ 15 days after the ruling is served."""
    return ruled_on + timedelta(days=rulebook.handover_after_ruling_days)


def resume_deadline(cause_ended_on: date, rulebook) -> date:
    """A49 / decision 30: resume ≤ 5 days after the cause ended."""
    return cause_ended_on + timedelta(days=rulebook.resume_days)


def overdue(deadline: date, today: date) -> bool:
    """Decision 25: an alert fires on the day after the last allowed day."""
    return today > deadline


# --- 悔拍 (A40) --------------------------------------------------------------------------------


def forfeiture_order(deposit: Decimal, *, auction_costs: Decimal, shortfall: Decimal) -> list[tuple[str, Decimal]]:
    """Apply a forfeited deposit in the A40 order: (1) costs and losses of the auction; (2) the
    re-auction price's shortfall below the defaulted price; (3) this case's debt (the rest).
    Returns ``[(purpose, amount)]`` with non-zero amounts only; they add up to the deposit."""
    remaining = to_money(deposit)
    out = []
    for purpose, want in (("costs", to_money(auction_costs)), ("shortfall", to_money(shortfall))):
        take = min(remaining, max(want, Decimal("0")))
        if take > 0:
            out.append((purpose, take))
            remaining -= take
    if remaining > 0:
        out.append(("debt", remaining))
    return out


def variation_price(round2_start: Decimal) -> Decimal:
    """C04 / decision 7: the 变卖 price is the second auction's starting price."""
    return to_money(round2_start)
