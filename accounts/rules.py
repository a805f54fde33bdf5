"""Pure account rules: identity-number check digits, passwords, login throttling, masking.

No Flask, no SQLAlchemy, no clock: every function takes plain values (``now`` included).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.text import N_

#: Consecutive failed logins that lock an account, and for how long.
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
#: Failed attempts one client address may make per window, whatever the account.
IP_MAX_FAILURES = 20
IP_WINDOW = timedelta(minutes=10)
PASSWORD_MIN_LENGTH = 10

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
}
_USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,60}$")
_PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class IdentityNumberError(ValueError):
    """An identity number that fails its format or check digit; ``str()`` says why."""


def normalize_code(value: str) -> str:
    """Upper-case, full-width to half-width, without spaces."""
    return unicodedata.normalize("NFKC", value or "").replace(" ", "").upper()


def resident_id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character (ISO 7064 MOD 11-2) for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def validate_resident_id(value: str, *, today: date | None = None) -> str:
    """Return the normalised 18-character resident ID number.

    Checks the length, the province code, the date of birth and the GB 11643 check digit.

    :raise IdentityNumberError: with the reason.
    """
    number = normalize_code(value)
    if len(number) != 18:
        raise IdentityNumberError(N_("a resident ID number has 18 characters"))
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise IdentityNumberError(N_("a resident ID number is 17 digits followed by a digit or X"))
    if number[:2] not in _PROVINCES:
        raise IdentityNumberError(N_("the first two digits are not a province code"))
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentityNumberError(N_("digits 7 to 14 are not a valid date of birth")) from None
    if born.year < 1900 or (today is not None and born > today):
        raise IdentityNumberError(N_("digits 7 to 14 are not a valid date of birth"))
    if resident_id_check_digit(number[:17]) != number[17]:
        raise IdentityNumberError(N_("the check digit (last character) is wrong"))
    return number


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """Return the normalised 18-character unified social credit code.

    :raise IdentityNumberError: with the reason.
    """
    code = normalize_code(value)
    if len(code) != 18:
        raise IdentityNumberError(N_("a unified social credit code has 18 characters"))
    if any(c not in _USCC_CHARS for c in code):
        raise IdentityNumberError(
            N_("a unified social credit code uses digits and capital letters except I, O, Z, S, V")
        )
    if not code[2:8].isdigit():
        raise IdentityNumberError(N_("characters 3 to 8 must be the registering region's code"))
    if uscc_check_char(code[:17]) != code[17]:
        raise IdentityNumberError(N_("the check character (last character) is wrong"))
    return code


def mask_identity_number(tail: str, length: int = 18) -> str:
    """``**************1234``: what anyone but the owner or an authorised officer may see."""
    return "*" * (length - len(tail)) + tail


def password_problems(password: str, *, username: str = "") -> list[str]:
    """Reasons a new password is refused (empty when acceptable)."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(N_("at least 10 characters"))  # PASSWORD_MIN_LENGTH
    if not re.search(r"[A-Za-z]", password) or not re.search(r"[0-9]", password):
        problems.append(N_("both letters and digits"))
    if username and username.lower() in password.lower():
        problems.append(N_("not to contain the user name"))
    return problems


def valid_username(value: str) -> bool:
    return bool(_USERNAME_RE.match(value or ""))


def valid_phone(value: str) -> bool:
    """A mainland mobile number (11 digits starting 13–19)."""
    return bool(_PHONE_RE.match(value or ""))


def valid_email(value: str) -> bool:
    return bool(_EMAIL_RE.match(value or "")) and len(value) <= 254


@dataclass(frozen=True)
class LoginDecision:
    """Outcome of a failed login for the account's counters."""

    failed_logins: int
    locked_until: datetime | None


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


def after_failed_login(failed_logins: int, now: datetime) -> LoginDecision:
    """Count a failure; the ``MAX_FAILED_LOGINS``-th locks the account for ``LOCKOUT``."""
    failures = failed_logins + 1
    if failures >= MAX_FAILED_LOGINS:
        return LoginDecision(0, now + LOCKOUT)
    return LoginDecision(failures, None)
