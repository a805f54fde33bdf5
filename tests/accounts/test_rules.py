"""Identity-number check digits (GB 11643, GB 32100), passwords and login throttling."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from accounts import rules
from accounts.rules import IdentityNumberError, validate_resident_id, validate_uscc

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("number", [
    "11010519491231002X",   # the standard's own example
    "11010519491231002x",   # lower-case x is accepted and normalised
    "１１０１０５１９４９１２３１００２Ｘ",  # full-width input from a Chinese keyboard
    "340202198801010013",
    "440106200002290024",   # 29 February of a leap year
])
def test_valid_resident_ids_are_accepted(number):
    assert validate_resident_id(number, today=date(2026, 11, 26))[-1] in "0123456789X"


@pytest.mark.parametrize("number, reason", [
    ("110105194912310021", "check digit"),       # last digit wrong
    ("11010519491231002", "18 characters"),      # too short
    ("1101051949123100212", "18 characters"),    # too long
    ("11010519491231A02X", "17 digits"),
    ("99010519491231002X", "province"),
    ("110105194913310021", "date of birth"),     # month 13
    ("440106190102290025", "date of birth"),     # 29 February 1901 does not exist
    ("110105203012310026", "date of birth"),     # born in the future
])
def test_invalid_resident_ids_are_refused_with_the_reason(number, reason):
    with pytest.raises(IdentityNumberError, match=reason):
        validate_resident_id(number, today=date(2026, 11, 26))


def test_every_wrong_check_digit_is_caught():
    first17 = "34020219880101001"
    right = rules.resident_id_check_digit(first17)
    for wrong in "0123456789X":
        if wrong != right:
            with pytest.raises(IdentityNumberError):
                validate_resident_id(first17 + wrong)


@pytest.mark.parametrize("code", ["91350100M000100Y43", "911100001000080343", "91110000600037341L",
                                  "91350100m000100y43"])
def test_valid_credit_codes_are_accepted(code):
    assert validate_uscc(code) == code.upper()


@pytest.mark.parametrize("code, reason", [
    ("91350100M000100Y44", "check character"),
    ("91350100M000100Y4", "18 characters"),
    ("91350100O000100Y43", "except I, O, Z, S, V"),   # letter O is not in the alphabet
    ("91AB0100M000100Y43", "region"),
])
def test_invalid_credit_codes_are_refused_with_the_reason(code, reason):
    with pytest.raises(IdentityNumberError, match=reason):
        validate_uscc(code)


def test_only_the_last_four_characters_are_shown():
    assert rules.mask_identity_number("002X") == "**************002X"


@pytest.mark.parametrize("password, ok", [
    ("short1", False), ("onlyletterslong", False), ("1234567890123", False),
    ("zhangwei2026x", False),  # contains the user name
    ("Judicial-2026", True),
])
def test_password_strength(password, ok):
    assert (rules.password_problems(password, username="zhangwei") == []) is ok


def test_the_fifth_failure_locks_the_account_for_fifteen_minutes():
    failures, locked = 0, None
    for _ in range(rules.MAX_FAILED_LOGINS - 1):
        d = rules.after_failed_login(failures, NOW)
        failures, locked = d.failed_logins, d.locked_until
        assert locked is None
    d = rules.after_failed_login(failures, NOW)
    assert d.locked_until == NOW + rules.LOCKOUT
    assert rules.is_locked(d.locked_until, NOW + rules.LOCKOUT / 2)
    assert not rules.is_locked(d.locked_until, NOW + rules.LOCKOUT)


@pytest.mark.parametrize("phone, ok", [("13800000001", True), ("12800000001", False), ("1380000000", False)])
def test_mobile_numbers(phone, ok):
    assert rules.valid_phone(phone) is ok
