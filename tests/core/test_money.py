"""Exact money: rounding, parsing what people type, and the one display format."""
from __future__ import annotations

from decimal import Decimal

import pytest

from core.money import MoneyError, format_money, parse_money, percent_of, round_yuan, to_money


@pytest.mark.parametrize("value, shown", [
    (Decimal("1234567"), "¥1,234,567.00"),
    (Decimal("0.5"), "¥0.50"),
    (Decimal("1000.005"), "¥1,000.01"),
    (0, "¥0.00"),
    ("-12", "-¥12.00"),
    (None, ""),
])
def test_amounts_are_shown_with_yuan_sign_thousands_and_two_decimals(value, shown):
    assert format_money(value) == shown


def test_rounding_is_half_up_to_the_fen_never_bankers():
    assert to_money(Decimal("2.675")) == Decimal("2.68")
    assert to_money(Decimal("2.665")) == Decimal("2.67")
    assert to_money("0.125") == Decimal("0.13")


def test_money_refuses_floats():
    with pytest.raises(MoneyError):
        to_money(0.1)


def test_seventy_percent_of_a_valuation_is_exact():
    assert percent_of(Decimal("1234567.89"), 70) == Decimal("864197.52")
    assert percent_of(Decimal("100.01"), Decimal("5")) == Decimal("5.00")


def test_reference_price_average_rounds_halves_up_to_the_yuan():
    assert round_yuan(Decimal("1000.5")) == Decimal("1001")
    assert round_yuan(Decimal("1000.49")) == Decimal("1000")


@pytest.mark.parametrize("typed, amount", [
    ("1234", "1234.00"), ("1,234.5", "1234.50"), ("¥1,234.56", "1234.56"),
    ("￥88", "88.00"), ("300元", "300.00"), (" 7 ", "7.00"),
])
def test_amounts_typed_by_people_are_read_exactly(typed, amount):
    assert parse_money(typed) == Decimal(amount)


@pytest.mark.parametrize("typed", ["", "abc", "1.234", "-5", "1e5", "NaN", "12.3.4", "9" * 14])
def test_bad_amounts_are_refused(typed):
    with pytest.raises(MoneyError):
        parse_money(typed)
