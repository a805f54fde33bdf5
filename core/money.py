"""Exact money: ``Decimal`` yuan with two places, one rounding rule, one display format.

Never a float: :func:`to_money` refuses one, because ``0.1 + 0.2`` is not a price a court
can sign.
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
YUAN = Decimal("1")
MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)
_INPUT_RE = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")


class MoneyError(ValueError):
    """An amount that is not a valid sum of money."""


def to_money(value: Decimal | int | str) -> Decimal:
    """Round to the fen, halves up (四舍五入). Refuses floats."""
    if isinstance(value, float):
        raise MoneyError("money must never be a float")
    if isinstance(value, bool):
        raise MoneyError("not an amount")
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise MoneyError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise MoneyError(f"not an amount: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def round_yuan(value: Decimal) -> Decimal:
    """Round to the whole yuan, halves up (RULES.md decision 26)."""
    return Decimal(value).quantize(YUAN, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, percent: Decimal | int | str) -> Decimal:
    """``percent`` % of ``amount``, rounded to the fen, halves up."""
    return to_money(Decimal(amount) * Decimal(percent) / Decimal(100))


def parse_money(text: str) -> Decimal:
    """Read an amount typed by a person: ``1234``, ``1,234.50``, ``¥1,234.5`` or ``1234元``.

    :raise MoneyError: when it is not a non-negative amount with at most two decimals.
    """
    cleaned = (text or "").strip().replace(",", "").replace("，", "").replace(" ", "")
    cleaned = cleaned.lstrip("¥￥").removesuffix("元")
    if not _INPUT_RE.match(cleaned):
        raise MoneyError(f"not an amount: {text!r}")
    amount = Decimal(cleaned)
    if amount > MAX_AMOUNT:
        raise MoneyError(f"amount too large: {text!r}")
    return to_money(amount)


def format_money(value: Decimal | int | str | None) -> str:
    """``¥1,234,567.00``; negative amounts as ``-¥12.00``; ``None`` as an empty string."""
    if value is None:
        return ""
    amount = to_money(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"
