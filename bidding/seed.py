"""Demo entries of the list of restricted persons (decision 19, A53), imported by 芜湖中院's
officer through the real CSV import, and a demo bidder on it:

* ``restricted`` (孙丽), under an order restricting high consumption: refused on the house of
  （2026）皖02执101号, free to bid on equipment;
* 王建国, the debtor of that case, on the list of dishonest judgment debtors;
* a close relative of a court employee (A53: barred from every lot);
* an enterprise whose entry was lifted (it bars nobody).

The demo bidders ``bidder``, ``bidder2`` and ``company`` are on no list. Idempotent.
"""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from accounts.models import Identity, IdentityKind, Role, User
from accounts.rules import resident_id_check_digit, uscc_check_char
from accounts.seed import DEMO_PASSWORD
from bidding import restrictions
from bidding.models import RestrictedPerson
from cases.rules import local_today
from core import audit

RESTRICTED_USER = ("restricted", "孙丽", "34020219910707004", "13800000004")


def _resident_id(first17: str) -> str:
    return first17 + resident_id_check_digit(first17)


def _uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def _account(session, vault, now) -> None:
    username, real_name, first17, phone = RESTRICTED_USER
    if session.scalar(select(User.id).where(User.username == username)):
        return
    number = _resident_id(first17)
    user = User(username=username, email=f"{username}@demo.example", phone=phone, display_name=real_name,
                password_hash=generate_password_hash(DEMO_PASSWORD), role=Role.BIDDER, active=True,
                failed_logins=0, created_at=now)
    session.add(user)
    session.flush()
    session.add(Identity(user_id=user.id, kind=IdentityKind.PERSON, real_name=real_name,
                         id_number_encrypted=vault.seal(number), id_number_hmac=vault.fingerprint(number),
                         id_number_tail=number[-4:], created_at=now))
    audit.record(session, stream=f"user:{user.id}", actor="system:seed", action="account.registered",
                 subject=f"user:{user.id}", payload={"role": "bidder", "kind": "person"}, now=now)
    session.commit()


def _csv(now) -> bytes:
    today = local_today(now)
    rows = [
        ["孙丽", _resident_id(RESTRICTED_USER[2]), "限制消费令", "（2026）皖02执88号限制消费令", today - timedelta(days=60), "",
         "自然人"],
        ["王建国", "11010519491231002X", "失信被执行人", "最高人民法院失信被执行人名单", today - timedelta(days=120), "",
         "自然人"],
        ["周某某", _resident_id("34020319850606003"), "工作人员及近亲属", "芜湖市中级人民法院工作人员近亲属名单（2026）",
         today - timedelta(days=200), "", "自然人"],
        ["芜湖某某建材有限公司", _uscc("91340200MA2N00030"), "失信被执行人", "（2025）皖02执300号",
         today - timedelta(days=400), "", "企业"],
    ]
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([c.header for c in restrictions.COLUMNS])
    for row in rows:
        w.writerow([v.isoformat() if hasattr(v, "isoformat") else v for v in row])
    return out.getvalue().encode("utf-8")


def seed_restrictions(session, *, now, rulebook) -> list[str]:
    from flask import current_app

    vault = current_app.extensions["identity_vault"]
    officer = session.scalar(select(User).where(User.username == "officer"))
    if officer is None:
        return []
    _account(session, vault, now)
    if session.scalar(select(RestrictedPerson.id).limit(1)) is None:
        restrictions.import_csv(session, actor=officer, data=_csv(now), vault=vault, now=now)
        lifted = session.scalar(select(RestrictedPerson).where(RestrictedPerson.source == "（2025）皖02执300号"))
        restrictions.lift(session, actor=officer, entry_id=lifted.id, now=now,
                          reason="被执行人已全部履行生效法律文书确定的义务，决定删除失信信息。")
    return ["  restricted   bidder     孙丽 (under an order restricting high consumption: refused on the house, "
            "decision 19; list at /bidding/restrictions)"]
