"""Reading JSON request bodies strictly, and writing JSON values, for every API of v1.

A malformed body is :class:`Unreadable` (HTTP 400) naming the field; nothing reaches a service
or the database unless it has the right type: strings without NUL or lone surrogates,
amounts as decimal strings (never floats), dates as ``YYYY-MM-DD``, ids as 32-bit integers.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import StrEnum

from core.money import MoneyError, parse_money
from core.text import N_, DomainError


class Unreadable(DomainError):
    """The request is not what the endpoint reads (HTTP 400); ``field`` names the culprit."""

    message = N_("The request body must be a JSON object.")


DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Free-text asset fields are ``Text`` columns; a bound keeps one request from filling the disk.
LONG_TEXT = 20_000


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_object(body, prefix: str, allowed: set[str]) -> dict:
    """``body`` as a JSON object with only ``allowed`` keys (a misspelt optional field is an
    error, not silently dropped)."""
    if not isinstance(body, dict):
        if prefix:
            raise Unreadable(N_("%(field)s must be an object."), field=prefix)
        raise Unreadable()
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Unreadable(N_("Unknown field %(field)s."), field=f"{prefix}.{unknown[0]}" if prefix else unknown[0])
    return body


def required_field(body: dict, key: str, field: str):
    if body.get(key) is None:
        raise Unreadable(N_("%(field)s is required."), field=field)
    return body[key]


def text_field(body: dict, key: str, *, max_len: int, required: bool = True, field: str | None = None) -> str | None:
    field = field or key
    value = required_field(body, key, field) if required else body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unreadable(N_("%(field)s must be a string."), field=field)
    # PostgreSQL refuses NUL in text, and a lone surrogate (legal in JSON as \uD800) is not
    # UTF-8: refuse both here rather than fail in the database.
    if "\x00" in value or not is_utf8(value):
        raise Unreadable(N_("%(field)s contains a character that is not allowed."), field=field)
    if len(value.strip()) > max_len:
        raise Unreadable(N_("%(field)s is too long (at most %(max)s characters)."), field=field, max=max_len)
    return value


def date_field(body: dict, key: str) -> date:
    value = required_field(body, key, key)
    if isinstance(value, str) and DATE_RE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass  # e.g. 2026-02-30: same answer as any other unreadable date
    raise Unreadable(N_("%(field)s must be a date written YYYY-MM-DD."), field=key)


def amount_field(body: dict, key: str) -> Decimal:
    """A decimal string in yuan; never a JSON number (a float is not a price a court can sign)."""
    value = required_field(body, key, key)
    if isinstance(value, str):
        try:
            return parse_money(value)
        except MoneyError:
            pass
    raise Unreadable(N_('%(field)s must be an amount written as a decimal string, e.g. "1200000.00".'),
                     field=key)


def integer_field(body: dict, key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    # A row id is a 32-bit integer; a larger one would be a database error, not a 400.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise Unreadable(N_("%(field)s must be a positive integer."), field=key)
    return value


def choice_field(body: dict, key: str, enum: type[StrEnum], field: str) -> StrEnum:
    value = required_field(body, key, field)
    try:
        return enum(value)
    except ValueError:
        raise Unreadable(N_("%(field)s must be one of %(choices)s."), field=field,
                         choices=", ".join(m.value for m in enum)) from None


def money_str(value: Decimal) -> str:
    return f"{value:.2f}"


def instant_str(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value else None
