"""Registration, login, lockout, administration and API tokens against a real database."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts import rules, services
from accounts.models import Identity, Role, User
from accounts.services import BidderRegistration
from core.audit import AuditEntry
from tests.factories import PASSWORD, VAULT, make_court, make_user, resident_id


def reg(**kw) -> BidderRegistration:
    base = dict(username="zhangwei", password="Judicial-2026", email="zw@example.org",
                phone="13800000001", kind="person", real_name="张伟", id_number=resident_id())
    return BidderRegistration(**{**base, **kw})


def test_a_person_registers_with_a_valid_resident_id(session, now):
    number = resident_id()
    user = services.register_bidder(session, reg(id_number=number), vault=VAULT, now=now)
    assert user.role == Role.BIDDER and user.display_name == "张伟"
    identity = session.scalars(select(Identity).where(Identity.user_id == user.id)).one()
    assert number.encode() not in identity.id_number_encrypted  # stored encrypted
    assert VAULT.reveal(identity.id_number_encrypted) == number
    assert identity.id_number_tail == number[-4:]


def test_registration_is_in_the_ledger_without_name_or_number(session, now):
    number = resident_id()
    user = services.register_bidder(session, reg(id_number=number), vault=VAULT, now=now)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.subject == f"user:{user.id}")).one()
    assert entry.action == "account.registered"
    assert number not in entry.payload and "张伟" not in entry.payload


def test_an_enterprise_registers_with_its_credit_code_and_legal_representative(session, now):
    user = services.register_bidder(session, reg(kind="enterprise", real_name="芜湖江城置业有限公司",
                                                 id_number="91350100M000100Y43",
                                                 legal_representative="孙建国"), vault=VAULT, now=now)
    assert user.identity.legal_representative == "孙建国"
    with pytest.raises(services.InvalidInput):
        services.register_bidder(session, reg(username="other", email="o@example.org", kind="enterprise",
                                              id_number="911100001000080343"), vault=VAULT, now=now)


def test_a_bad_check_digit_is_refused_and_nothing_is_written(session, now):
    good = resident_id()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(services.InvalidIdentityNumber, match="check digit"):
        services.register_bidder(session, reg(id_number=bad), vault=VAULT, now=now)
    session.rollback()
    assert session.scalar(select(User).where(User.username == "zhangwei")) is None


def test_one_identity_number_one_account(session, now):
    number = resident_id()
    services.register_bidder(session, reg(id_number=number), vault=VAULT, now=now)
    with pytest.raises(services.IdentityTaken):
        services.register_bidder(session, reg(username="another", email="a2@example.org", id_number=number),
                                 vault=VAULT, now=now)


@pytest.mark.parametrize("change, error", [
    ({"username": "ZhangWei"}, services.UsernameTaken),
    ({"email": "ZW@example.org"}, services.EmailTaken),
    ({"password": "short"}, services.WeakPassword),
    ({"phone": "12345"}, services.InvalidInput),
    ({"username": "a b"}, services.InvalidInput),
])
def test_registration_refusals(session, now, change, error):
    services.register_bidder(session, reg(), vault=VAULT, now=now)
    with pytest.raises(error):
        services.register_bidder(session, reg(**{"id_number": resident_id(), "username": "x_user",
                                                 "email": "x@example.org", **change}), vault=VAULT, now=now)


def test_login_with_the_right_password(session, now):
    user = make_user(session, Role.BIDDER, username="lisi")
    assert services.authenticate(session, username="LiSi", password=PASSWORD, now=now).id == user.id
    assert user.last_login_at == now


def test_a_wrong_password_is_refused_and_counted(session, now):
    user = make_user(session, Role.BIDDER, username="lisi")
    with pytest.raises(services.InvalidCredentials):
        services.authenticate(session, username="lisi", password="wrong", now=now)
    assert user.failed_logins == 1
    with pytest.raises(services.InvalidCredentials):
        services.authenticate(session, username="nobody", password="wrong", now=now)


def test_the_account_locks_after_repeated_failures_even_for_the_right_password(session, now):
    user = make_user(session, Role.BIDDER, username="lisi")
    for i in range(rules.MAX_FAILED_LOGINS - 1):
        with pytest.raises(services.InvalidCredentials):
            services.authenticate(session, username="lisi", password="wrong", now=now + timedelta(seconds=i))
    with pytest.raises(services.AccountLocked):
        services.authenticate(session, username="lisi", password="wrong", now=now + timedelta(seconds=10))
    with pytest.raises(services.AccountLocked):
        services.authenticate(session, username="lisi", password=PASSWORD, now=now + timedelta(minutes=1))
    later = now + rules.LOCKOUT + timedelta(seconds=11)
    assert services.authenticate(session, username="lisi", password=PASSWORD, now=later).id == user.id
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"user:{user.id}")).all()
    assert "login.locked" in actions


def test_a_disabled_account_cannot_log_in(session, now):
    make_user(session, Role.OFFICER, username="gone", active=False)
    with pytest.raises(services.AccountDisabled):
        services.authenticate(session, username="gone", password=PASSWORD, now=now)


def test_only_administrators_create_courts_and_staff(session, now):
    admin, officer = make_user(session, Role.ADMIN), make_user(session, Role.OFFICER)
    with pytest.raises(services.NotAllowed):
        services.create_court(session, actor=officer, name="X法院", code="X01", region_code="340100", now=now)
    court = services.create_court(session, actor=admin, name="安徽省黄山市中级人民法院", code="皖10",
                                  region_code="341000", now=now)
    with pytest.raises(services.CourtExists):
        services.create_court(session, actor=admin, name="另一个", code="皖10", region_code="341000", now=now)
    with pytest.raises(services.InvalidInput):
        services.create_court(session, actor=admin, name="Y", code="Y1", region_code="34", now=now)
    clerk = services.create_staff(session, actor=admin, role=Role.OFFICER, username="clerk_hs",
                                  password="Judicial-2026", display_name="书记员", email=None,
                                  court_id=court.id, now=now)
    assert clerk.court_id == court.id
    with pytest.raises(services.InvalidInput):  # an officer needs a court
        services.create_staff(session, actor=admin, role=Role.OFFICER, username="nocourt",
                              password="Judicial-2026", display_name="x", email=None, now=now)
    sup = services.create_staff(session, actor=admin, role=Role.SUPERVISOR, username="sup2",
                                password="Judicial-2026", display_name="x", email=None,
                                court_id=court.id, now=now)
    assert sup.court_id is None  # supervisors are not bound to a court


def test_an_administrator_cannot_disable_themself(session, now):
    admin = make_user(session, Role.ADMIN)
    with pytest.raises(services.NotAllowed):
        services.set_active(session, actor=admin, user_id=admin.id, active=False, now=now)


def test_only_the_owner_reads_the_full_identity_number(session, now):
    number = resident_id()
    owner = services.register_bidder(session, reg(id_number=number), vault=VAULT, now=now)
    stranger = make_user(session, Role.ADMIN)
    assert services.reveal_identity_number(owner, owner, VAULT) == number
    with pytest.raises(services.NotAllowed):
        services.reveal_identity_number(stranger, owner, VAULT)


def test_api_tokens_are_stored_hashed_and_resolve_to_their_user(session, now):
    user = make_user(session, Role.OFFICER, court=make_court(session))
    token = services.issue_api_token(session, user=user, name="test", now=now)
    assert services.user_for_token(session, token, now=now).id == user.id
    assert services.user_for_token(session, token + "x", now=now) is None
    from accounts.models import ApiToken
    assert token not in {t.token_sha256 for t in session.scalars(select(ApiToken))}
