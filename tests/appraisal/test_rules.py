"""Pure rules of the reference-price procedure with explicit dates."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from appraisal import rules
from appraisal.rules import AgencyFacts, AgencyStatus, AppraisalRuleError, Method
from cases.rules import Region, Specialty
from core.calendar import WorkCalendar
from core.rulebook import DEMO, SPC

CAL = WorkCalendar(holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
                   workdays=frozenset({date(2026, 10, 10)}))
SH = timezone(timedelta(hours=8))


def agency(i, *, status=AgencyStatus.LISTED, specs=("real_estate",), regions=("340200",), conflicts=()):
    return AgencyFacts(i, f"机构{i}", f"L{i}", status, frozenset(specs), frozenset(regions), frozenset(conflicts))


def pool(agencies, **kw):
    args = dict(specialty=Specialty.REAL_ESTATE, region=Region("340202"), party_fingerprints={"fp-debtor"},
                excluded_ids=set(), rulebook=SPC)
    args.update(kw)
    return rules.draw_pool(agencies, **args)


def test_the_city_list_is_used_when_it_has_three():
    p = pool([agency(i) for i in range(1, 4)] + [agency(9, regions=("340000",))])
    assert (p.level, [a.id for a in p.agencies]) == ("city", [1, 2, 3])


def test_the_province_is_used_when_the_city_has_fewer_than_three_eligible():
    agencies = [agency(1), agency(2), agency(3, status=AgencyStatus.SUSPENDED)] + \
               [agency(i, regions=("340000",)) for i in (7, 8, 9)]
    p = pool(agencies)
    assert (p.level, p.region_code, [a.id for a in p.agencies]) == ("province", "340000", [7, 8, 9])


def test_exclusions_carry_their_reasons():
    agencies = [agency(1, conflicts={"fp-debtor"}), agency(2, status=AgencyStatus.REMOVED), agency(3),
                agency(4), agency(5), agency(6), agency(7, specs=("land",))]
    p = pool(agencies, excluded_ids={3})
    reasons = {i: r for i, _, r in p.exclusions}
    assert "conflict" in reasons[1] and "not on the list" in reasons[2] and "already drawn" in reasons[3]
    assert 7 not in reasons and [a.id for a in p.agencies] == [4, 5, 6]


def test_too_small_a_list_cannot_be_drawn():
    with pytest.raises(AppraisalRuleError, match="at least 3"):
        pool([agency(1), agency(2)])


def test_both_parties_may_ask_for_another_sub_list():
    agencies = [agency(i, regions=("340100",)) for i in (1, 2, 3)] + [agency(i) for i in (4, 5, 6)]
    p = pool(agencies, requested_region="340100")
    assert (p.level, [a.id for a in p.agencies]) == ("city", [1, 2, 3])


def test_removal_bars_for_five_years():
    assert rules.bar_until(date(2026, 11, 26), SPC) == date(2031, 11, 26)
    assert rules.bar_until(date(2028, 2, 29), SPC) == date(2033, 2, 28)


def test_three_days_to_answer_ending_on_a_working_day():
    delivered = datetime(2026, 9, 29, 10, 0, tzinfo=SH)  # +3 = 2 October, a holiday → 8 October
    assert rules.answer_deadline(delivered, CAL, SPC) == datetime(2026, 10, 9, 0, 0, tzinfo=SH)


def test_the_report_is_due_thirty_days_after_delivery_plus_pauses_and_extensions():
    delivered = datetime(2026, 11, 2, 15, 0, tzinfo=SH)  # Monday
    assert rules.report_due(delivered, paused_days=0, extension_days=0, calendar=CAL, rulebook=SPC) == \
        datetime(2026, 12, 3, 0, 0, tzinfo=SH)  # 2 December (Wednesday) is the last day
    assert rules.report_due(delivered, paused_days=4, extension_days=15, calendar=CAL, rulebook=SPC) == \
        datetime(2026, 12, 22, 0, 0, tzinfo=SH)


def test_demo_compresses_day_windows():
    delivered = datetime(2026, 11, 2, 15, 0, tzinfo=SH)
    assert rules.report_due(delivered, paused_days=0, extension_days=0, calendar=CAL, rulebook=DEMO) == \
        delivered + DEMO.day * 30


@pytest.mark.parametrize("granted, days, before, error", [
    (0, 15, timedelta(days=5), None),
    (1, 10, timedelta(days=6), None),
    (2, 5, timedelta(days=20), "two extensions"),
    (0, 16, timedelta(days=20), "15 days"),
    (0, 0, timedelta(days=20), "15 days"),
    (0, 10, timedelta(days=4, hours=23), "5 days before"),
])
def test_extension_requests(granted, days, before, error):
    due = datetime(2026, 12, 3, tzinfo=SH)
    call = lambda: rules.check_extension_request(requested_at=due - before, due_at=due, granted=granted,  # noqa: E731
                                                 days=days, rulebook=SPC)
    if error:
        with pytest.raises(AppraisalRuleError, match=error):
            call()
    else:
        call()


@pytest.mark.parametrize("change, error", [
    ({}, None),
    ({"amount": Decimal("0")}, "greater than zero"),
    ({"valid_until": date(2027, 11, 27)}, "one year"),
    ({"valid_until": date(2026, 11, 1)}, "after the valuation date"),
    ({"effective_on": date(2026, 12, 1)}, "future"),
    ({"appraiser_ids": [1]}, "two qualified"),
    ({"appraiser_ids": [1, 1]}, "two qualified"),
    ({"appraiser_ids": [1, 9]}, "registered with the agency"),
])
def test_valuation_basics(change, error):
    args = dict(amount=Decimal("100"), effective_on=date(2026, 11, 20), valid_until=date(2027, 11, 20),
                appraiser_ids=[1, 2], registered_ids={1, 2, 3}, today=date(2026, 11, 26), rulebook=SPC)
    args.update(change)
    if error:
        with pytest.raises(AppraisalRuleError, match=error):
            rules.check_valuation(**args)
    else:
        rules.check_valuation(**args)


def test_objections_only_against_inquiry_and_appraisal_results():
    assert rules.objection_allowed(Method.COMMISSIONED) and rules.objection_allowed(Method.ONLINE_INQUIRY)
    assert not rules.objection_allowed(Method.NEGOTIATION) and not rules.objection_allowed(Method.DIRECTED_INQUIRY)


def test_the_objection_window_is_five_days_from_receipt():
    served = datetime(2026, 11, 3, 9, 0, tzinfo=SH)  # Tuesday → 8 November, a Sunday → Monday 9th
    assert rules.objection_window_end(served, CAL, SPC) == datetime(2026, 11, 10, 0, 0, tzinfo=SH)


def test_negotiated_figures_must_be_identical():
    assert rules.negotiated_price(Decimal("100"), Decimal("100.00")) == Decimal("100.00")
    assert rules.negotiated_price(Decimal("100"), Decimal("101")) is None
    assert rules.negotiated_price(Decimal("100"), None) is None


def test_online_average_rounds_halves_up_to_the_yuan():
    assert rules.online_average([Decimal("1000000"), Decimal("1000001")]) == Decimal("1000001.00")
    assert rules.online_average([Decimal("10"), Decimal("10"), Decimal("11")]) == Decimal("10.00")
    with pytest.raises(AppraisalRuleError):
        rules.online_average([])


def test_selling_start_and_validity_grace():
    assert rules.selling_start_deadline(date(2026, 11, 26), SPC) == date(2026, 12, 6)
    assert rules.grace_until(date(2026, 8, 31), SPC) == date(2027, 2, 28)
    assert rules.grace_until(date(2027, 8, 31), SPC) == date(2028, 2, 29)


def test_fee_advance_is_half_the_estimate():
    assert rules.fee_advance(Decimal("12345.67"), SPC) == Decimal("6172.84")
