"""Demo accounts: two courts, one of each role, and two bidders. Idempotent."""
from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from accounts.identity import IdentityVault
from accounts.models import Court, Identity, IdentityKind, Role, User
from core import audit

DEMO_PASSWORD = "Passw0rd-Demo"

COURTS = [
    ("安徽省芜湖市中级人民法院", "皖02", "340200"),
    ("安徽省合肥市中级人民法院", "皖01", "340100"),
]
STAFF = [
    ("admin", "平台管理员", Role.ADMIN, None),
    ("supervisor", "监督员 周敏", Role.SUPERVISOR, None),
    ("officer", "执行法官 李明", Role.OFFICER, "皖02"),
    ("clerk", "书记员 王芳", Role.OFFICER, "皖02"),
    ("finance", "财务 陈静", Role.FINANCE, "皖02"),
    ("officer_hf", "执行法官 赵强", Role.OFFICER, "皖01"),
    ("agency", "安徽中信房地产评估有限公司", Role.AGENCY, None),
]
# Valid demo numbers (GB 11643 / GB 32100 check digits), not real people or companies.
BIDDERS = [
    ("bidder", "张伟", IdentityKind.PERSON, "340202198801010012", None, "13800000001"),
    ("bidder2", "刘洋", IdentityKind.PERSON, "340104199205150024", None, "13800000002"),
    ("company", "芜湖市江城置业有限公司", IdentityKind.ENTERPRISE, "91340200MA2N0000XX", "孙建国", "13800000003"),
]


def seed_accounts(session, *, now, rulebook, vault: IdentityVault | None = None) -> list[str]:
    from flask import current_app

    from accounts import rules

    vault = vault or current_app.extensions["identity_vault"]
    password_hash = generate_password_hash(DEMO_PASSWORD)
    courts = {}
    for name, code, region in COURTS:
        court = session.scalar(select(Court).where(Court.code == code))
        if court is None:
            court = Court(name=name, code=code, region_code=region, created_at=now)
            session.add(court)
            session.flush()
            audit.record(session, stream="platform", actor="system:seed", action="court.created",
                         subject=f"court:{court.id}", payload={"name": name, "code": code}, now=now)
        courts[code] = court
    for username, display, role, court_code in STAFF:
        if session.scalar(select(User.id).where(User.username == username)):
            continue
        user = User(username=username, email=f"{username}@demo.example", display_name=display,
                    password_hash=password_hash, role=role,
                    court_id=courts[court_code].id if court_code else None,
                    active=True, failed_logins=0, created_at=now)
        session.add(user)
        session.flush()
        audit.record(session, stream="platform", actor="system:seed", action="user.created",
                     subject=f"user:{user.id}", payload={"role": str(role)}, now=now)
    for username, real_name, kind, number, legal_rep, phone in BIDDERS:
        if session.scalar(select(User.id).where(User.username == username)):
            continue
        if kind is IdentityKind.PERSON:
            number = rules.validate_resident_id(number[:17] + rules.resident_id_check_digit(number[:17]))
        else:
            number = rules.validate_uscc(number[:17] + rules.uscc_check_char(number[:17]))
        user = User(username=username, email=f"{username}@demo.example", phone=phone,
                    display_name=real_name, password_hash=password_hash, role=Role.BIDDER,
                    active=True, failed_logins=0, created_at=now)
        session.add(user)
        session.flush()
        session.add(Identity(user_id=user.id, kind=kind, real_name=real_name,
                             id_number_encrypted=vault.seal(number),
                             id_number_hmac=vault.fingerprint(number), id_number_tail=number[-4:],
                             legal_representative=legal_rep, created_at=now))
        audit.record(session, stream=f"user:{user.id}", actor="system:seed", action="account.registered",
                     subject=f"user:{user.id}", payload={"role": "bidder", "kind": str(kind)}, now=now)
    session.commit()
    lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):"]
    for username, display, role, _court in STAFF:
        lines.append(f"  {username:<12} {role.value:<10} {display}")
    for username, real_name, *_ in BIDDERS:
        lines.append(f"  {username:<12} bidder     {real_name}")
    return lines
