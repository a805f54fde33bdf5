"""Pure case rules: case numbers, categories, regions, the E01 deadline, CSV rows, funds."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from cases import rules
from cases.rules import AssetCategory, AssetStage, CaseRuleError, FundAccount, FundMovement, Specialty
from core.rulebook import DEMO, SPC

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize("typed", [
    "（2026）皖02执123号", "(2026)皖02执123号", " （2026） 皖02 执123号 ", "〔2026〕皖02执123号",
])
def test_case_numbers_in_the_courts_format_are_read_and_normalised(typed):
    n = rules.parse_case_number(typed, court_code="皖02", today=TODAY)
    assert str(n) == "（2026）皖02执123号" and (n.year, n.case_type, n.seq) == (2026, "执", 123)


@pytest.mark.parametrize("typed, kind", [("（2025）皖02执恢7号", "执恢"), ("（2024）皖02执保12号", "执保")])
def test_enforcement_case_types(typed, kind):
    assert rules.parse_case_number(typed, court_code="皖02", today=TODAY).case_type == kind


@pytest.mark.parametrize("typed, why", [
    ("（2026）皖01执123号", "another court"),
    ("（2027）皖02执1号", "year"),
    ("（1980）皖02执1号", "year"),
    ("（2026）皖02民初123号", "must look like"),   # a civil, not an enforcement, case
    ("2026皖02执123号", "must look like"),
    ("（2026）皖02执号", "must look like"),
    ("（2026）皖02执0号", "must look like"),
    ("", "must look like"),
])
def test_bad_case_numbers_are_refused(typed, why):
    with pytest.raises(CaseRuleError, match=why):
        rules.parse_case_number(typed, court_code="皖02", today=TODAY)


@pytest.mark.parametrize("category, specialty, lead1, lead2", [
    (AssetCategory.REAL_ESTATE, Specialty.REAL_ESTATE, 30, 15),
    (AssetCategory.LAND_USE_RIGHT, Specialty.LAND, 30, 15),
    (AssetCategory.EQUITY, Specialty.ASSETS, 30, 15),
    (AssetCategory.MINING_RIGHT, Specialty.MINING, 30, 15),
    (AssetCategory.VEHICLE, Specialty.ASSETS, 15, 7),
    (AssetCategory.MOVABLE, Specialty.ASSETS, 15, 7),
    (AssetCategory.JEWELLERY, Specialty.JEWELLERY, 15, 7),
    (AssetCategory.OTHER, Specialty.ASSETS, 30, 15),
])
def test_the_category_decides_the_specialty_list_and_the_lead_times(category, specialty, lead1, lead2):
    assert rules.specialty_for(category) is specialty
    assert rules.announcement_lead_days(category, round_no=1, rulebook=SPC) == lead1  # A08
    assert rules.announcement_lead_days(category, round_no=2, rulebook=SPC) == lead2  # A09


def test_region_codes_give_province_and_city():
    r = rules.parse_region_code("340202")
    assert (r.province_code, r.city_code, r.province_name) == ("340000", "340200", "安徽省")
    for bad in ("34020", "3402021", "990202", "abcdef", "340002"):
        with pytest.raises(CaseRuleError):
            rules.parse_region_code(bad)


def test_pricing_must_start_within_30_days_and_the_alert_fires_the_day_after():
    seized = date(2026, 10, 1)
    assert rules.pricing_deadline(seized, SPC) == date(2026, 10, 31)
    assert not rules.pricing_overdue(seized, AssetStage.SEIZED, date(2026, 10, 31), SPC)
    assert rules.pricing_overdue(seized, AssetStage.SEIZED, date(2026, 11, 1), SPC)
    assert not rules.pricing_overdue(seized, AssetStage.PRICING, date(2026, 12, 1), SPC)
    assert rules.pricing_deadline_passed_days(seized, date(2026, 11, 3), SPC) == 3
    assert rules.pricing_deadline(seized, DEMO) == rules.pricing_deadline(seized, SPC)  # day counts stay days


def test_dates_in_the_usual_chinese_forms():
    for typed in ("2026-03-01", "2026/3/1", "2026.3.1", "2026年3月1日"):
        assert rules.parse_date(typed) == date(2026, 3, 1)
    for bad in ("2026-02-30", "01/03/2026", "yesterday"):
        with pytest.raises(CaseRuleError):
            rules.parse_date(bad)


def good_row(**over) -> dict:
    row = dict(zip(rules.IMPORT_HEADERS, [
        "（2026）皖02执100号", "（2025）皖0202民初456号民事判决书", "2026-03-01", "芜湖某银行", "企业",
        "91350100M000100Y43", "王某", "自然人", "11010519491231002X", "1200000", "不动产", "某小区3栋502室",
        "住宅", "340202", "芜湖市镜湖区某路88号", "2026-03-05"], strict=True))
    row.update(over)
    return row


def test_a_good_row_is_typed():
    r = rules.check_import_row(2, good_row(), court_code="皖02", today=TODAY)
    assert r.ok, r.problems
    assert r.values["claim_amount"] == Decimal("1200000.00") and r.values["category"] is AssetCategory.REAL_ESTATE
    assert r.values["seized_on"] == date(2026, 3, 5)


@pytest.mark.parametrize("column, value, expect", [
    ("案号", "（2026）皖02民100号", "must look like"),
    ("被执行人证件号码", "110105194912310021", "check digit"),
    ("申请执行人证件号码", "91350100M000100Y44", "check character"),
    ("财产类别", "飞机", "Unknown asset category"),
    ("申请执行标的额", "一百万", "not an amount"),
    ("查封日期", "2027-01-01", "in the future"),
    ("所在地行政区划代码", "99", "six-digit"),
    ("被执行人类型", "公司?", "自然人 or 企业"),
    ("财产名称", "", "is empty"),
])
def test_each_bad_value_is_reported_on_its_row(column, value, expect):
    r = rules.check_import_row(7, good_row(**{column: value}), court_code="皖02", today=TODAY)
    assert not r.ok and r.line == 7
    assert any(expect in (msg % params if params else msg) for msg, params in r.problems), r.problems


def test_headers_must_match_the_template():
    assert rules.check_header(rules.IMPORT_HEADERS) == []
    assert rules.check_header(["\ufeff" + rules.IMPORT_HEADERS[0], *rules.IMPORT_HEADERS[1:]]) == []
    problems = rules.check_header(rules.IMPORT_HEADERS[1:] + ["备注"])
    assert len(problems) == 2


def test_cross_row_problems_duplicate_existing_and_inconsistent():
    a = rules.check_import_row(2, good_row(), court_code="皖02", today=TODAY)
    dup = rules.check_import_row(3, good_row(), court_code="皖02", today=TODAY)
    other = rules.check_import_row(4, good_row(**{"财产名称": "车位", "申请执行标的额": "5"}),
                                   court_code="皖02", today=TODAY)
    known = rules.check_import_row(5, good_row(**{"案号": "（2026）皖02执9号"}), court_code="皖02", today=TODAY)
    rules.check_import_consistency([a, dup, other, known], existing_numbers={"（2026）皖02执9号"})
    assert a.ok
    assert "Duplicate" in dup.problems[0][0]
    assert "described differently" in other.problems[0][0]
    assert "already on the platform" in known.problems[0][0]


def test_fund_movements_are_double_entry_and_never_overdraw():
    b = rules.balances_of([(FundMovement.DEPOSIT_HELD, Decimal("100000")),
                           (FundMovement.DEPOSIT_HELD, Decimal("100000")),
                           (FundMovement.DEPOSIT_APPLIED, Decimal("100000")),
                           (FundMovement.DEPOSIT_REFUNDED, Decimal("100000")),
                           (FundMovement.RECEIVED, Decimal("900000")),
                           (FundMovement.PAID_OUT, Decimal("400000"))])
    assert b[FundAccount.DEPOSITS] == 0 and b[FundAccount.COURT] == Decimal("600000")
    assert sum(b.values()) == 0  # money is neither created nor lost
    with pytest.raises(CaseRuleError, match="Not enough"):
        rules.balances_of([(FundMovement.PAID_OUT, Decimal("1"))])
    with pytest.raises(CaseRuleError, match="greater than zero"):
        rules.balances_of([(FundMovement.RECEIVED, Decimal("0"))])


def test_days_are_counted_in_beijing():
    assert rules.local_today(datetime(2026, 11, 26, 17, 0, tzinfo=timezone.utc)) == date(2026, 11, 27)
