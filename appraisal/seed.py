"""Demo data of the appraisal package, built through the real use cases with staged times:

* six listed real-estate/asset agencies in 芜湖 (the demo login ``agency`` is one of them),
  three online inquiry platforms and a directed-inquiry institution;
* the house of （2026）皖02执101号 priced by a complete commissioned appraisal: draw with a
  party contribution, acceptance, report, service, objection window, final reference price;
* an asset of the series with a draw scheduled shortly after ``make run`` (10 s per legal day
  under ``RULEBOOK=demo``; tomorrow otherwise), so the public draw page shows a countdown.

Idempotent: does nothing once the agencies exist.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from accounts.models import Role, User
from appraisal import draw as protocol
from appraisal import services
from appraisal.models import Agency, Appraiser
from appraisal.rules import AgencyKind, AgencyStatus, Method
from cases.models import Asset, Case
from cases.rules import AssetCategory, PartyRole

AGENCIES = [
    ("agency", "安徽中信房地产评估有限公司", "皖房估字2019-018"),
    ("agency2", "芜湖江城资产评估事务所", "皖资评2015-033"),
    ("agency3", "安徽正和房地产土地评估有限公司", "皖房估字2017-102"),
    ("agency4", "芜湖华衡资产评估有限公司", "皖资评2018-071"),
    ("agency5", "安徽国信房地产估价有限公司", "皖房估字2016-055"),
    ("agency6", "芜湖中诚不动产评估有限公司", "皖房估字2020-009"),
]
PLATFORMS = [("platform1", "淘宝询价平台（演示）"), ("platform2", "京东询价平台（演示）"), ("platform3", "工行融e购询价（演示）")]


def _pdf() -> bytes:
    import io

    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def seed_appraisal(session, *, now, rulebook) -> list[str]:
    from flask import current_app

    from appraisal.context import context_for

    if session.scalar(select(Agency.id).limit(1)) is not None:
        return []
    officer = session.scalar(select(User).where(User.username == "officer"))
    house_case = session.scalar(select(Case).where(Case.number == "（2026）皖02执101号"))
    if officer is None or house_case is None:
        return []
    password = generate_password_hash("Passw0rd-Demo")
    agencies = []
    for i, (username, name, licence) in enumerate(AGENCIES):
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, email=f"{username}@demo.example", display_name=name, password_hash=password,
                        role=Role.AGENCY, active=True, failed_logins=0, created_at=now)
            session.add(user)
            session.flush()
        a = Agency(user_id=user.id, kind=AgencyKind.APPRAISAL, name=name, licence_number=licence,
                   status=AgencyStatus.LISTED, specialties=["real_estate", "assets"], regions=["340200"],
                   contact_phone=f"1390000010{i}", created_at=now)
        session.add(a)
        session.flush()
        for j, who in enumerate(("张敏", "刘涛")):
            session.add(Appraiser(agency_id=a.id, name=f"{who}{i + 1}", licence_number=f"{licence}-{j + 1}", active=True))
        agencies.append(a)
    for username, name in PLATFORMS + [("institution", "芜湖市税务局计税价格评估中心（演示）")]:
        user = User(username=username, email=f"{username}@demo.example", display_name=name, password_hash=password,
                    role=Role.AGENCY, active=True, failed_logins=0, created_at=now)
        session.add(user)
        session.flush()
        kind = AgencyKind.DIRECTED_INSTITUTION if username == "institution" else AgencyKind.ONLINE_PLATFORM
        session.add(Agency(user_id=user.id, kind=kind, name=name, licence_number=f"DEMO-{username}",
                           status=AgencyStatus.LISTED, specialties=["real_estate", "assets"], regions=["340000"],
                           created_at=now))
    session.commit()

    # The house: a complete commissioned appraisal, 40 days ago → final.
    ctx0 = context_for(current_app, session, now - rulebook.day * 40)
    house = session.scalar(select(Asset).where(Asset.case_id == house_case.id,
                                               Asset.category == AssetCategory.REAL_ESTATE))
    proc = services.open_procedure(session, actor=officer, asset_id=house.id, method=Method.COMMISSIONED, ctx=ctx0)
    d = services.schedule_draw(session, actor=officer, procedure_id=proc.id,
                               draw_at=ctx0.now + rulebook.day * (1 + 2 / 24), ctx=ctx0)
    debtor_party = next(p for p in house_case.parties if p.role == PartyRole.DEBTOR)
    debtor_user = session.get(User, debtor_party.user_id) if debtor_party.user_id else None
    if debtor_user is not None:
        secret = "演示-被执行人随机数-2026"
        services.commit_contribution(session, actor=debtor_user, draw_id=d.id,
                                     commitment=protocol.contribution_commitment(d.id, secret), ctx=ctx0)
        services.reveal_contribution(session, actor=debtor_user, draw_id=d.id, secret=secret,
                                     ctx=replace(ctx0, now=ctx0.now + rulebook.day * (3 / 24)))
    t = replace(ctx0, now=ctx0.now + rulebook.day * (1 + 3 / 24))
    services.run_due(session, t)
    session.refresh(proc)
    commission = proc.commissions[-1]
    agency = session.get(Agency, commission.agency_id)
    services.answer_commission(session, actor=agency.user, commission_id=commission.id, accept=True, reason="",
                               ctx=replace(t, now=t.now + rulebook.day * (5 / 24)))
    submitted = replace(t, now=t.now + rulebook.day * 12)
    v = services.submit_valuation(session, actor=agency.user, commission_id=commission.id, amount=Decimal("2150000"),
                                  effective_on=submitted.now.date() - timedelta(days=2),
                                  valid_until=submitted.now.date() + timedelta(days=360),
                                  appraiser_ids=[a.id for a in agency.appraisers], report=_pdf(), ctx=submitted)
    served = replace(submitted, now=submitted.now + rulebook.day)
    services.review_valuation(session, actor=officer, valuation_id=v.id, accept=True, note="报告要素齐全", ctx=served)
    services.run_due(session, replace(served, now=served.now + rulebook.day * 12))

    # A series asset with a draw coming up (countdown on the public draw page).
    lines = [f"Demo appraisal: 6 agencies (login agency … agency6), 3 online platforms, 1 institution; "
             f"house of （2026）皖02执101号 priced at ¥2,150,000.00 (draw #{d.id})"]
    series_asset = session.scalar(select(Asset).join(Case).where(Case.number == "（2026）皖02执201号"))
    if series_asset is not None:
        ctx = context_for(current_app, session, now)
        p2 = services.open_procedure(session, actor=officer, asset_id=series_asset.id, method=Method.COMMISSIONED,
                                     ctx=ctx)
        at = now + rulebook.days(rulebook.draw_notice_days) + timedelta(minutes=2)
        d2 = services.schedule_draw(session, actor=officer, procedure_id=p2.id, draw_at=at, ctx=ctx)
        lines.append(f"Demo draw #{d2.id} scheduled at {at.isoformat()} (public page /appraisal/draws/{d2.id})")
    return lines
