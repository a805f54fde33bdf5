"""Plain factory functions with keyword overrides (no factory library)."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

from werkzeug.security import generate_password_hash

from accounts.identity import IdentityVault
from accounts.models import Court, Identity, IdentityKind, Role, User
from accounts.rules import resident_id_check_digit

PASSWORD = "Passw0rd-Demo"
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
VAULT = IdentityVault("test-identity-key")
_seq = itertools.count(1)
# Hashing is slow on purpose; the factories reuse one hash of PASSWORD.
_PASSWORD_HASH = generate_password_hash(PASSWORD)


def resident_id(birth: str = "19900101", serial: int | None = None, region: str = "340202") -> str:
    """A valid resident ID number (right check digit) for tests."""
    serial = next(_seq) % 1000 if serial is None else serial
    first17 = f"{region}{birth}{serial:03d}"
    return first17 + resident_id_check_digit(first17)


def make_court(session, **kw) -> Court:
    n = next(_seq)
    court = Court(name=kw.pop("name", f"测试中级人民法院{n}"), code=kw.pop("code", f"测{n:02d}"),
                  region_code=kw.pop("region_code", "340200"), created_at=kw.pop("created_at", NOW), **kw)
    session.add(court)
    session.flush()
    return court


def make_user(session, role: Role = Role.BIDDER, **kw) -> User:
    n = next(_seq)
    if role in (Role.OFFICER, Role.FINANCE) and "court_id" not in kw and "court" not in kw:
        kw["court"] = make_court(session)
    user = User(
        username=kw.pop("username", f"{role}{n}"),
        email=kw.pop("email", f"{role}{n}@example.org"),
        display_name=kw.pop("display_name", f"{role} {n}"),
        password_hash=kw.pop("password_hash", _PASSWORD_HASH),
        role=role, active=kw.pop("active", True), failed_logins=kw.pop("failed_logins", 0),
        created_at=kw.pop("created_at", NOW), **kw,
    )
    session.add(user)
    session.flush()
    return user


def make_bidder(session, *, real_name: str = "张三", id_number: str | None = None, **kw) -> User:
    user = make_user(session, Role.BIDDER, display_name=real_name, **kw)
    number = id_number or resident_id()
    session.add(Identity(user_id=user.id, kind=IdentityKind.PERSON, real_name=real_name,
                         id_number_encrypted=VAULT.seal(number),
                         id_number_hmac=VAULT.fingerprint(number), id_number_tail=number[-4:],
                         created_at=NOW))
    session.flush()
    session.refresh(user)
    return user
