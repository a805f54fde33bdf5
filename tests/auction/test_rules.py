"""Pure auction rules: every guard of section b, the state machine as a table, deadlines."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from auction import rules
from auction.rules import AuctionRuleError, IllegalTransition, NoticeFacts, NoticeMethod, RoundKind, RoundState
from core.calendar import local_date
from core.rulebook import DEMO, SPC

SH = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=SH)


def terms(**kw):
    args = dict(kind=RoundKind.FIRST, starting_price=Decimal("700000"), deposit=Decimal("70000"),
                increment=Decimal("5000"), reference_price=Decimal("1000000"), previous_start=None, rulebook=SPC)
    args.update(kw)
    return args


def test_the_first_starting_price_is_at_least_70_percent_of_the_reference_price():
    rules.check_terms(**terms())
    with pytest.raises(AuctionRuleError, match="70 %"):
        rules.check_terms(**terms(starting_price=Decimal("699999.99"), deposit=Decimal("70000")))


def test_the_second_auction_cuts_at_most_20_percent_of_the_first_starting_price():
    base = terms(kind=RoundKind.SECOND, previous_start=Decimal("700000"), starting_price=Decimal("560000"),
                 deposit=Decimal("56000"))
    rules.check_terms(**base)  # 56 % of the appraisal
    with pytest.raises(AuctionRuleError, match="20 %"):
        rules.check_terms(**{**base, "starting_price": Decimal("559999.99")})


@pytest.mark.parametrize("deposit, ok", [("35000", True), ("140000", True), ("34999.99", False), ("140000.01", False)])
def test_the_deposit_is_5_to_20_percent_of_the_starting_price(deposit, ok):
    if ok:
        rules.check_terms(**terms(deposit=Decimal(deposit)))
    else:
        with pytest.raises(AuctionRuleError, match="A19"):
            rules.check_terms(**terms(deposit=Decimal(deposit)))


def test_the_deposit_is_based_on_the_starting_price_not_the_appraisal():
    # 5 % of the appraisal (50,000) is more than 5 % of the starting price (35,000): still fine.
    rules.check_terms(**terms(deposit=Decimal("35000")))


def test_the_increment_must_be_positive():
    with pytest.raises(AuctionRuleError, match="A26"):
        rules.check_terms(**terms(increment=Decimal("0")))


def test_bidding_lasts_at_least_24_hours():
    rules.check_schedule(start_at=T0, end_at=T0 + timedelta(hours=24), rulebook=SPC)
    with pytest.raises(AuctionRuleError, match="24 hours"):
        rules.check_schedule(start_at=T0, end_at=T0 + timedelta(hours=23, minutes=59), rulebook=SPC)


@pytest.mark.parametrize("kind, movable, days", [
    (RoundKind.FIRST, False, 30), (RoundKind.FIRST, True, 15), (RoundKind.SECOND, False, 15),
    (RoundKind.SECOND, True, 7), (RoundKind.VARIATION, False, 15), (RoundKind.VARIATION, True, 7),
])
def test_lead_times(kind, movable, days):
    assert rules.lead_days(kind=kind, movable=movable, rulebook=SPC) == days
    start = T0 + timedelta(days=days)
    rules.check_lead_time(kind=kind, movable=movable, publish_at=T0, start_at=start, rulebook=SPC, local_date=local_date)
    with pytest.raises(AuctionRuleError, match="at least"):
        rules.check_lead_time(kind=kind, movable=movable, publish_at=T0, start_at=start - timedelta(days=1),
                              rulebook=SPC, local_date=local_date)


def test_lead_time_counts_calendar_days_not_hours():
    # Published 23:00 on 1 October, starts 00:30 on 31 October: 30 calendar days (decision 3).
    rules.check_lead_time(kind=RoundKind.FIRST, movable=False, publish_at=datetime(2026, 10, 1, 23, 0, tzinfo=SH),
                          start_at=datetime(2026, 10, 31, 0, 30, tzinfo=SH), rulebook=SPC, local_date=local_date)


def test_demo_lead_times_are_compressed():
    rules.check_lead_time(kind=RoundKind.FIRST, movable=False, publish_at=T0, start_at=T0 + DEMO.days(30),
                          rulebook=DEMO, local_date=local_date)


def test_notices_three_days_before_or_published_eight_or_waived():
    publish = T0
    served = NoticeFacts(NoticeMethod.SERVED, publish - timedelta(days=3))
    published = NoticeFacts(NoticeMethod.PUBLISHED, publish - timedelta(days=8))
    waived = NoticeFacts(NoticeMethod.WAIVED, publish)
    assert rules.notices_ready([served, published, waived], publish_at=publish, rulebook=SPC)
    assert not rules.notices_ready([NoticeFacts(NoticeMethod.SERVED, publish - timedelta(days=2, hours=23))],
                                   publish_at=publish, rulebook=SPC)
    assert not rules.notices_ready([NoticeFacts(NoticeMethod.PUBLISHED, publish - timedelta(days=7))],
                                   publish_at=publish, rulebook=SPC)


def test_the_publication_set_lists_what_is_missing():
    complete = {key: True for key, _ in rules.PUBLICATION_ITEMS}
    assert rules.missing_publication_items(complete) == []
    missing = rules.missing_publication_items({**complete, "appraisal_report": False, "taxes": False})
    assert len(missing) == 2 and any("appraisal report" in m for m in missing)


def test_validity_and_grace():
    rules.within_validity(valid_until=date(2027, 1, 1), publish_day=date(2027, 1, 1), start_day=date(2027, 6, 1),
                          grace_until=date(2027, 7, 1))
    with pytest.raises(AuctionRuleError, match="expired"):
        rules.within_validity(valid_until=date(2027, 1, 1), publish_day=date(2027, 1, 2), start_day=date(2027, 2, 1),
                              grace_until=date(2027, 7, 1))
    with pytest.raises(AuctionRuleError, match="6 months"):
        rules.within_validity(valid_until=date(2027, 1, 1), publish_day=date(2026, 12, 1), start_day=date(2027, 7, 2),
                              grace_until=date(2027, 7, 1))


S = RoundState
ALLOWED = [
    (S.DRAFT, "serve_notices", S.NOTIFYING), (S.NOTIFYING, "publish", S.ANNOUNCED),
    (S.ANNOUNCED, "open_bidding", S.BIDDING), (S.BIDDING, "close_sold", S.SOLD),
    (S.BIDDING, "close_unsold", S.UNSOLD), (S.ANNOUNCED, "suspend", S.SUSPENDED), (S.BIDDING, "halt", S.HALTED),
    (S.SUSPENDED, "withdraw", S.WITHDRAWN), (S.SOLD, "await_balance", S.AWAITING_BALANCE),
    (S.AWAITING_BALANCE, "balance_paid", S.PAID), (S.AWAITING_BALANCE, "default", S.DEFAULTED),
    (S.PAID, "rule", S.RULED), (S.RULED, "hand_over", S.HANDED_OVER), (S.RULED, "annul", S.ANNULLED),
    (S.UNSOLD, "take_in_payment", S.TAKEN_IN_PAYMENT), (S.VARIATION_ANNOUNCED, "variation_open", S.VARIATION_OPEN),
    (S.VARIATION_OPEN, "variation_first_bid", S.VARIATION_BIDDING), (S.VARIATION_BIDDING, "close_sold", S.SOLD),
    (S.VARIATION_OPEN, "variation_failed", S.VARIATION_FAILED),
]


@pytest.mark.parametrize("state, event, to", ALLOWED)
def test_allowed_transitions(state, event, to):
    assert rules.next_state(state, event) == to


@pytest.mark.parametrize("state, event", [
    (S.DRAFT, "publish"), (S.ANNOUNCED, "close_sold"), (S.SOLD, "rule"), (S.BIDDING, "withdraw"),
    (S.UNSOLD, "balance_paid"), (S.HANDED_OVER, "annul"), (S.WITHDRAWN, "publish"), (S.VARIATION_OPEN, "close_sold"),
])
def test_forbidden_transitions_raise(state, event):
    with pytest.raises(IllegalTransition):
        rules.next_state(state, event)


def test_every_state_event_pair_is_either_in_the_table_or_refused():
    for state in RoundState:
        for event, (allowed, _) in rules.TRANSITIONS.items():
            if state in allowed:
                if event == "resume":
                    assert rules.next_state(state, event, target=S.BIDDING) == S.BIDDING
                else:
                    rules.next_state(state, event)
            else:
                with pytest.raises(IllegalTransition):
                    rules.next_state(state, event)


def test_resume_returns_to_announcement_or_bidding_only():
    assert rules.next_state(S.SUSPENDED, "resume", target=S.ANNOUNCED) == S.ANNOUNCED
    with pytest.raises(IllegalTransition):
        rules.next_state(S.SUSPENDED, "resume", target=S.SOLD)


def test_deadlines_after_a_round():
    d = date(2026, 11, 1)
    assert rules.relist_deadline(d, SPC) == date(2026, 12, 1)
    assert rules.variation_deadline(d, SPC) == date(2026, 11, 16)
    assert rules.ruling_deadline(d, SPC) == date(2026, 11, 11)
    assert rules.handover_deadline(d, SPC) == date(2026, 11, 16)
    assert rules.resume_deadline(d, SPC) == date(2026, 11, 6)
    assert not rules.overdue(date(2026, 12, 1), date(2026, 12, 1)) and rules.overdue(date(2026, 12, 1), date(2026, 12, 2))


def test_a_forfeited_deposit_is_applied_in_the_order_of_a40():
    assert rules.forfeiture_order(Decimal("100000"), auction_costs=Decimal("3000"), shortfall=Decimal("50000")) == [
        ("costs", Decimal("3000.00")), ("shortfall", Decimal("50000.00")), ("debt", Decimal("47000.00"))]
    assert rules.forfeiture_order(Decimal("10000"), auction_costs=Decimal("3000"), shortfall=Decimal("50000")) == [
        ("costs", Decimal("3000.00")), ("shortfall", Decimal("7000.00"))]


def test_the_variation_price_is_the_second_starting_price():
    assert rules.variation_price(Decimal("560000")) == Decimal("560000.00")
