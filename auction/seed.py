"""Demo lots built through the real use cases with staged times:

* the house of （2026）皖02执101号: first auction announced, bidding opening after the legal
  lead time (30 legal days: a month under ``spc``, five minutes under ``RULEBOOK=demo``);
* the equipment of （2026）皖02执202号 (negotiated price): first auction closed without a bid
  (流拍 record) and waiting for the second auction;
* the equipment of （2026）皖02执203号: sold to the demo bidder, balance paid, ruling issued.

Idempotent: does nothing once a lot exists.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from accounts.models import User
from appraisal import services as appraisal_services
from appraisal.models import Procedure
from appraisal.rules import Method, ProcedureState
from auction import services
from auction.models import Lot
from auction.rules import NoticeMethod
from auction.services import Terms
from cases.models import Asset, AssetFile, Case
from cases.rules import PartyRole
from core.context import context_for

CONTACT = "芜湖市中级人民法院执行局 联系电话 0553-3800000；监督电话 0553-3811111"


def _terms(start, rulebook, *, price, movable, **kw) -> Terms:
    return Terms(starting_price=price, deposit=(price * Decimal("0.1")).quantize(Decimal("1")),
                 increment=Decimal("2000") if movable else Decimal("5000"), start_at=start,
                 end_at=start + rulebook.min_bidding_period, balance_days=kw.pop("balance_days", 30),
                 taxes=[{"tax": "契税", "payer": "buyer"}, {"tax": "增值税及附加", "payer": "debtor"},
                        {"tax": "个人所得税", "payer": "debtor"}],
                 inspection="每周三 9:00–11:00 预约看样（电话 0553-3800000）",
                 panel_record="经合议庭评议：起拍价按参考价的百分之七十确定，保证金为起拍价的百分之十。",
                 court_contact=CONTACT, title_and_possession=kw.pop("title", "权属清晰，已查封；由法院负责交付。"),
                 defects_statement=kw.pop("defects", "除已披露情况外，无已知瑕疵；按现状拍卖。"), **kw)


def _negotiated(session, app, officer, asset, price, now):
    """A negotiated reference price for a demo asset (both parties' identical figures, E04)."""
    ctx = context_for(app, session, now)
    proc = appraisal_services.open_procedure(session, actor=officer, asset_id=asset.id, method=Method.NEGOTIATION,
                                             ctx=ctx, deadline_days=10)
    for party in asset.case.parties:
        appraisal_services.submit_negotiated_price(session, actor=officer, procedure_id=proc.id, party_id=party.id,
                                                   amount=price, ctx=ctx)
    return proc


def _notify(session, officer, rnd, ctx, when):
    for p in rnd.lot.case.parties:
        services.record_notice(session, actor=officer, round_id=rnd.id, party_id=p.id, method=NoticeMethod.SERVED,
                               detail="EMS 邮寄送达，已签收" if p.role == PartyRole.APPLICANT else "直接送达，本人签收",
                               at=when, ctx=ctx)


def _photo(session, asset, officer, now):
    if asset.photos:
        return
    from cases.seed import _photo as draw
    from core.files import file_store
    from flask import current_app

    data = draw("car", (90, 110, 90))
    sha = file_store(current_app).put(data)
    asset.files.append(AssetFile(kind="photo", sha256=sha, media_type="image/jpeg", filename="设备.jpg",
                                 size=len(data), uploaded_at=now, uploaded_by_id=officer.id))
    session.flush()


def _basis(session, case):
    if case.basis_file_sha256:
        return
    from core.files import file_store
    from flask import current_app

    from appraisal.seed import _pdf

    case.basis_file_sha256 = file_store(current_app).put(_pdf())


def seed_auction(session, *, now, rulebook) -> list[str]:
    from flask import current_app

    app = current_app._get_current_object()
    if session.scalar(select(Lot.id).limit(1)) is not None:
        return []
    officer = session.scalar(select(User).where(User.username == "officer"))
    house_case = session.scalar(select(Case).where(Case.number == "（2026）皖02执101号"))
    if officer is None or house_case is None:
        return []
    lines = []
    house = session.scalar(select(Asset).join(Procedure, Procedure.asset_id == Asset.id)
                           .where(Asset.case_id == house_case.id, Procedure.state == ProcedureState.FINAL))
    if house is not None:
        _basis(session, house_case)
        proc = session.scalar(select(Procedure).where(Procedure.asset_id == house.id, Procedure.state == ProcedureState.FINAL))
        ctx = context_for(app, session, now)
        start = now + rulebook.days(rulebook.lead_days_property_r1) + timedelta(minutes=1)
        price = (proc.reference_price * Decimal("0.7")).quantize(Decimal("1"))
        lot = services.create_lot(session, actor=officer, asset_ids=[house.id], title=house.title,
                                  terms=_terms(start, rulebook, price=price, movable=False,
                                               title="不动产权证号：皖（2020）芜湖市不动产权第0012345号；被执行人居住，法院负责腾退交付。",
                                               defects="已设定抵押，拍卖成交后抵押权消灭；无其他已知瑕疵。"), ctx=ctx)
        _notify(session, officer, lot.current, ctx, now - rulebook.days(4))
        services.publish(session, actor=officer, round_id=lot.current.id, ctx=ctx)
        lines.append(f"Demo lot #{lot.id}: {lot.title} — first auction announced, bidding {start.isoformat()}")
    for number, outcome in (("（2026）皖02执202号", "unsold"), ("（2026）皖02执203号", "sold")):
        case = session.scalar(select(Case).where(Case.number == number))
        asset = case and session.scalar(select(Asset).where(Asset.case_id == case.id))
        if asset is None:
            continue
        past = now - rulebook.day * 60
        _basis(session, case)
        _photo(session, asset, officer, past)
        _negotiated(session, app, officer, asset, Decimal("120000"), past)
        ctx = context_for(app, session, past)
        start = past + rulebook.day * 16
        lot = services.create_lot(session, actor=officer, asset_ids=[asset.id], title=asset.title,
                                  terms=_terms(start, rulebook, price=Decimal("84000"), movable=True, balance_days=10),
                                  ctx=ctx)
        rnd = lot.current
        _notify(session, officer, rnd, ctx, past - rulebook.day * 4)
        services.publish(session, actor=officer, round_id=rnd.id, ctx=ctx)
        services.run_due(session, replace(ctx, now=start))
        closing = replace(ctx, now=rnd.end_at)
        if outcome == "unsold":
            services.record_no_sale(session, round_id=rnd.id, ctx=closing, commit=True)
            lines.append(f"Demo lot #{lot.id}: {lot.title} — 流拍, waiting for the second auction")
        else:
            bidder = session.scalar(select(User).where(User.username == "bidder"))
            services.record_sale(session, round_id=rnd.id, buyer_id=bidder.id, buyer_code="A7K2",
                                 price=Decimal("96000"), ctx=closing, commit=True)
            paid = replace(closing, now=closing.now + rulebook.day * 5)
            services.record_balance_paid(session, actor=officer, round_id=rnd.id, amount=Decimal("87600"), ctx=paid)
            services.issue_ruling(session, actor=officer, round_id=rnd.id, ctx=replace(paid, now=paid.now + rulebook.day * 2))
            lines.append(f"Demo lot #{lot.id}: {lot.title} — sold for ¥96,000.00 to the demo bidder, ruled")
    return lines
