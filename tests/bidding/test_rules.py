"""Pure bidding rules with every boundary."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bidding import rules
from bidding.rules import BidFacts, BidRefused, Book

END = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
FIVE = timedelta(minutes=5)


def book(current=None, leader_rank=None):
    return Book(starting_price=Decimal("700000"), increment=Decimal("5000"), current_price=current, end_at=END,
                leader_rank=leader_rank)


def test_the_first_bid_may_be_the_starting_price_or_whole_increments_above():
    rules.check_bid(book(), amount=Decimal("700000"), received_at=END - timedelta(hours=1))
    rules.check_bid(book(), amount=Decimal("715000"), received_at=END - timedelta(hours=1))
    with pytest.raises(BidRefused, match="below the starting price"):
        rules.check_bid(book(), amount=Decimal("699999"), received_at=END - timedelta(hours=1))
    with pytest.raises(BidRefused, match="whole increments"):
        rules.check_bid(book(), amount=Decimal("702500"), received_at=END - timedelta(hours=1))


def test_later_bids_must_be_strictly_higher_and_jumps_are_allowed():
    rules.check_bid(book(Decimal("700000")), amount=Decimal("705000"), received_at=END - timedelta(hours=1))
    rules.check_bid(book(Decimal("700000")), amount=Decimal("750000"), received_at=END - timedelta(hours=1))
    with pytest.raises(BidRefused, match="higher than the current price"):
        rules.check_bid(book(Decimal("700000")), amount=Decimal("700000"), received_at=END - timedelta(hours=1))


def test_a_bid_at_or_after_the_end_is_refused_one_microsecond_before_is_fine():
    rules.check_bid(book(), amount=Decimal("700000"), received_at=END - timedelta(microseconds=1))
    with pytest.raises(BidRefused, match="ended"):
        rules.check_bid(book(), amount=Decimal("700000"), received_at=END)


def test_a_priority_holder_may_match_the_current_price():
    rules.check_bid(book(Decimal("800000")), amount=Decimal("800000"), received_at=END - FIVE, priority_rank=1)
    # A higher rank may match a lower-ranked holder; an equal or lower rank may not.
    rules.check_bid(book(Decimal("800000"), leader_rank=2), amount=Decimal("800000"), received_at=END - FIVE,
                    priority_rank=1)
    with pytest.raises(BidRefused):
        rules.check_bid(book(Decimal("800000"), leader_rank=1), amount=Decimal("800000"), received_at=END - FIVE,
                        priority_rank=1)


@pytest.mark.parametrize("before_end, new_end", [
    (timedelta(minutes=5), END),                      # exactly 5 minutes: nothing changes (decision 2)
    (timedelta(minutes=4, seconds=59), END + timedelta(seconds=1)),
    (timedelta(seconds=1), END + timedelta(minutes=4, seconds=59)),
    (timedelta(minutes=6), END),
])
def test_the_five_minute_extension(before_end, new_end):
    assert rules.extended_end(END, END - before_end, FIVE) == new_end


def test_a_chain_of_extensions_has_no_cap():
    end = END
    for _ in range(100):
        end = rules.extended_end(end, end - timedelta(seconds=10), FIVE)
    assert end == END + 100 * (FIVE - timedelta(seconds=10))


def test_the_winner_is_the_highest_and_priority_breaks_ties():
    ordinary = BidFacts(1, 10, Decimal("800000"), None)
    holder2 = BidFacts(2, 20, Decimal("800000"), 2)
    holder1_late = BidFacts(4, 30, Decimal("800000"), 1)
    holder1_early = BidFacts(3, 40, Decimal("800000"), 1)
    assert rules.winner([ordinary]) == ordinary
    assert rules.winner([ordinary, holder2]) == holder2  # A31
    assert rules.winner([ordinary, holder2, holder1_late]) == holder1_late  # A32
    assert rules.winner([holder1_late, holder1_early]) == holder1_early  # A33: earlier bid
    assert rules.winner([ordinary, BidFacts(5, 50, Decimal("805000"), None)]).seq == 5
    assert rules.winner([]) is None


def test_next_valid_amounts():
    assert rules.next_valid_amounts(book()) == [Decimal("700000"), Decimal("705000"), Decimal("710000")]
    assert rules.next_valid_amounts(book(Decimal("720000")))[0] == Decimal("725000")
    assert rules.next_valid_amounts(book(Decimal("720000")), priority_rank=1)[0] == Decimal("720000")


def test_codes_are_anonymous_and_show_the_priority_rank():
    code = rules.new_bidder_code()
    assert len(code) == 4 and not set(code) & set("01OI")
    assert rules.new_bidder_code(2).startswith("P2-")


def test_the_applicant_pays_only_the_deposit_above_its_claim():
    assert rules.deposit_due(Decimal("70000"), claim=None) == Decimal("70000")
    assert rules.deposit_due(Decimal("70000"), claim=Decimal("50000")) == Decimal("20000")
    assert rules.deposit_due(Decimal("70000"), claim=Decimal("90000")) == Decimal("0.00")


def test_the_payer_must_be_the_bidder():
    assert rules.payer_matches("张 伟", "张伟")
    assert rules.payer_matches("芜湖市江城置业有限公司", "芜湖市江城置业有限公司")
    assert not rules.payer_matches("李四", "张伟")
    assert not rules.payer_matches("", "张伟")


def test_refunds_are_late_after_24_hours():
    due = END + timedelta(hours=24)
    assert not rules.refund_late(due_at=due, refunded_at=None, now=due)
    assert rules.refund_late(due_at=due, refunded_at=None, now=due + timedelta(seconds=1))
    assert not rules.refund_late(due_at=due, refunded_at=due, now=due + timedelta(days=3))


def test_gateway_callbacks_are_signed_and_fresh():
    body = b'{"tx":"T1","amount":"70000.00"}'
    sig = rules.gateway_signature("s3cret", timestamp="1000", body=body)
    rules.check_gateway_signature("s3cret", timestamp="1000", body=body, signature=sig, now_epoch=1100)
    with pytest.raises(BidRefused, match="signature"):
        rules.check_gateway_signature("s3cret", timestamp="1000", body=body + b" ", signature=sig, now_epoch=1100)
    with pytest.raises(BidRefused, match="replay"):
        rules.check_gateway_signature("s3cret", timestamp="1000", body=body, signature=sig, now_epoch=1000 + 301)
    with pytest.raises(BidRefused, match="timestamp"):
        rules.check_gateway_signature("s3cret", timestamp="soon", body=body, signature=sig, now_epoch=1000)
