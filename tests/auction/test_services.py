"""Auction services through every path of section b, with explicit time."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from accounts.models import Role
from auction import services
from auction.models import BarredBidder, Round
from auction.rules import NoticeMethod, RoundKind, RoundState
from auction.services import Terms
from cases import services as case_services
from cases.models import Asset
from cases.rules import AssetStage, FundAccount, PartyRole
from core.audit import verify
from core.calendar import WorkCalendar
from core.context import Context
from core.files import FileStore
from core.models import Document
from core.rulebook import SPC
from tests.factories import VAULT, make_bidder, make_case, make_officer, make_priced_asset, make_user, resident_id


@pytest.fixture
def ctx(now, tmp_path):
    return Context(now=now, rulebook=SPC, calendar=WorkCalendar(), vault=VAULT, store=FileStore(tmp_path / "f"),
                   base_url="http://test")


def at(ctx, delta):
    return replace(ctx, now=ctx.now + delta)


def terms(ctx, *, start_in=timedelta(days=35), **kw):
    args = dict(starting_price=Decimal("700000"), deposit=Decimal("70000"), increment=Decimal("5000"),
                start_at=ctx.now + start_in, end_at=ctx.now + start_in + timedelta(hours=24), balance_days=30,
                taxes=[{"tax": "契税", "payer": "buyer"}, {"tax": "增值税", "payer": "debtor"}],
                inspection="每周三上午看样", panel_record="合议庭评议：起拍价按参考价七成确定",
                court_contact="芜湖中院执行局 0553-0000000；监督电话 0553-1111111",
                title_and_possession="不动产权证号皖(2020)芜湖市不动产权第0000001号；被执行人居住",
                defects_statement="无已知瑕疵")
    args.update(kw)
    return Terms(**args)


@pytest.fixture
def world(session):
    case = make_case(session)
    asset = make_priced_asset(session, case)
    return {"case": case, "officer": case.officer, "asset": asset}


def new_lot(session, world, ctx, **kw):
    return services.create_lot(session, actor=world["officer"], asset_ids=[world["asset"].id], title="某小区3栋502室",
                               terms=terms(ctx, **kw), ctx=ctx)


def notify_all(session, world, rnd, ctx, when):
    for p in world["case"].parties:
        services.record_notice(session, actor=world["officer"], round_id=rnd.id, party_id=p.id,
                               method=NoticeMethod.SERVED, detail="EMS 1234567890 签收", at=when, ctx=ctx)


def published_lot(session, world, ctx):
    lot = new_lot(session, world, ctx)
    rnd = lot.current
    notify_all(session, world, rnd, ctx, ctx.now - timedelta(days=4))
    services.publish(session, actor=world["officer"], round_id=rnd.id, ctx=ctx)
    return lot, rnd


def test_creating_a_lot_refuses_a_price_below_70_percent_with_the_rules_words(session, world, ctx):
    with pytest.raises(services.Refused) as info:
        new_lot(session, world, ctx, starting_price=Decimal("699999"))
    assert "70 %" in info.value.message and info.value.params["floor"] == "¥700,000.00"
    with pytest.raises(services.Refused) as info:
        new_lot(session, world, ctx, deposit=Decimal("200000"))
    assert "A19" in info.value.message and info.value.params["high"] == "¥140,000.00"
    with pytest.raises(services.Refused, match="24 hours"):
        services.create_lot(session, actor=world["officer"], asset_ids=[world["asset"].id], title="x",
                            terms=terms(ctx, end_at=ctx.now + timedelta(days=35, hours=23)), ctx=ctx)


def test_an_unpriced_or_expired_asset_cannot_be_listed(session, world, ctx):
    from tests.factories import make_asset

    plain = make_asset(session, world["case"])
    with pytest.raises(services.Refused, match="no final reference price"):
        services.create_lot(session, actor=world["officer"], asset_ids=[plain.id], title="x", terms=terms(ctx), ctx=ctx)
    expired = make_priced_asset(session, world["case"], valid_days=-1)
    with pytest.raises(services.Refused, match="expired"):
        services.create_lot(session, actor=world["officer"], asset_ids=[expired.id], title="x", terms=terms(ctx), ctx=ctx)


def test_a_bundle_sums_the_reference_prices_and_an_asset_is_in_one_lot_only(session, world, ctx):
    second = make_priced_asset(session, world["case"], price=Decimal("500000"), category="vehicle")
    lot = services.create_lot(session, actor=world["officer"], asset_ids=[world["asset"].id, second.id],
                              title="房产及车辆", terms=terms(ctx, starting_price=Decimal("1050000"),
                                                             deposit=Decimal("105000")), ctx=ctx)
    assert lot.reference_price == Decimal("1500000.00") and not lot.movable and lot.housing
    with pytest.raises(services.Refused, match="already in a lot"):
        new_lot(session, world, ctx)


def test_another_courts_officer_cannot_list(session, world, ctx):
    with pytest.raises(services.NotFound):
        services.create_lot(session, actor=make_officer(session), asset_ids=[world["asset"].id], title="x",
                            terms=terms(ctx), ctx=ctx)


def test_publication_needs_notices_three_days_ahead(session, world, ctx):
    lot = new_lot(session, world, ctx)
    rnd = lot.current
    with pytest.raises(services.Refused, match="notices are served"):
        services.publish(session, actor=world["officer"], round_id=rnd.id, ctx=ctx)
    notify_all(session, world, rnd, ctx, ctx.now - timedelta(days=2))
    assert rnd.state == RoundState.NOTIFYING
    with pytest.raises(services.Refused, match="3 days"):
        services.publish(session, actor=world["officer"], round_id=rnd.id, ctx=ctx)
    services.publish(session, actor=world["officer"], round_id=rnd.id, ctx=at(ctx, timedelta(days=1)))
    assert rnd.state == RoundState.ANNOUNCED


def test_publication_needs_the_lead_time_and_the_whole_publication_set(session, world, ctx):
    lot = new_lot(session, world, ctx, start_in=timedelta(days=20))
    rnd = lot.current
    notify_all(session, world, rnd, ctx, ctx.now - timedelta(days=4))
    with pytest.raises(services.Refused, match="at least 30 days") as info:
        services.publish(session, actor=world["officer"], round_id=rnd.id, ctx=ctx)
    assert info.value.params["days"] == 30
    lot2_asset = make_priced_asset(session, world["case"])
    lot2 = services.create_lot(session, actor=world["officer"], asset_ids=[lot2_asset.id], title="y",
                               terms=terms(ctx, taxes=[], court_contact=""), ctx=ctx)
    notify_all(session, world, lot2.current, ctx, ctx.now - timedelta(days=4))
    with pytest.raises(services.Refused, match="Missing for the announcement") as info:
        services.publish(session, actor=world["officer"], round_id=lot2.current.id, ctx=ctx)
    assert "taxes" in info.value.params["item"]


def test_publishing_issues_the_announcement_and_lists_the_asset(session, world, ctx):
    lot, rnd = published_lot(session, world, ctx)
    assert rnd.published_at == ctx.now and rnd.announcement_sha256
    doc = session.scalars(select(Document).where(Document.kind == "announcement")).one()
    assert doc.public and doc.subject == f"case:{world['case'].id}"
    assert session.get(Asset, world["asset"].id).stage == AssetStage.LISTED
    with pytest.raises(services.Refused, match="cannot change"):
        services.update_terms(session, actor=world["officer"], round_id=rnd.id, terms=terms(ctx), ctx=ctx)


def test_bidding_opens_by_itself_at_the_start(session, world, ctx):
    lot, rnd = published_lot(session, world, ctx)
    assert services.run_due(session, at(ctx, timedelta(days=34))) == 0
    services.run_due(session, replace(ctx, now=rnd.start_at))
    assert rnd.state == RoundState.BIDDING
    assert services.run_due(session, replace(ctx, now=rnd.start_at)) == 0  # idempotent


def bidding(session, world, ctx):
    lot, rnd = published_lot(session, world, ctx)
    services.run_due(session, replace(ctx, now=rnd.start_at))
    return lot, rnd, replace(ctx, now=rnd.end_at)


def test_sold_then_paid_then_ruled_then_handed_over(session, world, ctx):
    lot, rnd, closing = bidding(session, world, ctx)
    buyer = make_bidder(session, real_name="李买受")
    services.record_sale(session, round_id=rnd.id, buyer_id=buyer.id, buyer_code="A1234", price=Decimal("805000"),
                         ctx=closing, commit=True)
    assert rnd.state == RoundState.AWAITING_BALANCE and rnd.balance_due_at == closing.now + timedelta(days=30)
    confirmation = session.scalars(select(Document).where(Document.kind == "confirmation")).one()
    assert confirmation.public
    paying = at(closing, timedelta(days=10))
    services.record_balance_paid(session, actor=world["officer"], round_id=rnd.id, amount=Decimal("735000"), ctx=paying)
    assert case_services.fund_balances(session, world["case"].id)[FundAccount.COURT] == Decimal("735000.00")
    with pytest.raises(services.Refused, match="D01"):
        services.issue_ruling(session, actor=world["officer"], round_id=rnd.id, ctx=paying)
    services.record_qualification_check(session, actor=world["officer"], round_id=rnd.id, note="购房资格持续符合", ctx=paying)
    services.issue_ruling(session, actor=world["officer"], round_id=rnd.id, ctx=paying)
    assert rnd.state == RoundState.RULED and rnd.ruling_sha256
    services.record_handover(session, actor=world["officer"], round_id=rnd.id, note="已交付钥匙", ctx=at(paying, timedelta(days=5)))
    assert rnd.state == RoundState.HANDED_OVER
    assert session.get(Asset, world["asset"].id).stage == AssetStage.CLOSED
    assert verify(session) == []


def test_a_buyer_who_does_not_pay_defaults_and_is_barred_from_the_resale(session, world, ctx):
    lot, rnd, closing = bidding(session, world, ctx)
    buyer = make_bidder(session, real_name="赖账人")
    services.record_sale(session, round_id=rnd.id, buyer_id=buyer.id, buyer_code="B2", price=Decimal("700000"),
                         ctx=closing, commit=True)
    services.run_due(session, replace(closing, now=rnd.balance_due_at + timedelta(seconds=1)))
    assert rnd.state == RoundState.DEFAULTED
    assert services.is_barred(session, lot_id=lot.id, fingerprint=buyer.identity.id_number_hmac)
    resale = services.relist(session, actor=world["officer"], lot_id=lot.id,
                             terms=terms(closing, start_in=timedelta(days=40)), ctx=closing)
    assert resale.kind == RoundKind.RESALE and resale.seq == 2 and resale.state == RoundState.DRAFT
    assert session.scalars(select(BarredBidder)).one().lot_id == lot.id


def test_unsold_twice_then_variation_then_sold(session, world, ctx):
    lot, rnd, closing = bidding(session, world, ctx)
    services.record_no_sale(session, round_id=rnd.id, ctx=closing, commit=True)
    assert rnd.state == RoundState.UNSOLD
    with pytest.raises(services.Refused, match="20 %"):
        services.relist(session, actor=world["officer"], lot_id=lot.id, ctx=closing,
                        terms=terms(closing, start_in=timedelta(days=20), starting_price=Decimal("559000"),
                                    deposit=Decimal("55900")))
    r2 = services.relist(session, actor=world["officer"], lot_id=lot.id, ctx=closing,
                         terms=terms(closing, start_in=timedelta(days=20), starting_price=Decimal("560000"),
                                     deposit=Decimal("56000")))
    assert r2.kind == RoundKind.SECOND
    notify_all(session, world, r2, closing, closing.now)
    later = at(closing, timedelta(days=4))
    services.publish(session, actor=world["officer"], round_id=r2.id, ctx=later)  # 16 days ahead ≥ 15
    services.run_due(session, replace(later, now=r2.start_at))
    services.record_no_sale(session, round_id=r2.id, ctx=replace(later, now=r2.end_at), commit=True)
    after2 = replace(later, now=r2.end_at)
    v = services.start_variation(session, actor=world["officer"], lot_id=lot.id, deposit=Decimal("56000"),
                                 start_at=after2.now + timedelta(days=16), balance_days=15,
                                 taxes=[{"tax": "契税", "payer": "buyer"}], court_contact="执行局 0553-0000000",
                                 title_and_possession="产权清晰", defects_statement="无已知瑕疵", ctx=after2)
    assert v.kind == RoundKind.VARIATION and v.starting_price == Decimal("560000.00")
    assert v.end_at - v.start_at == timedelta(days=60)
    notify_all(session, world, v, after2, after2.now - timedelta(days=4))
    services.publish(session, actor=world["officer"], round_id=v.id, ctx=after2)
    services.run_due(session, replace(after2, now=v.start_at))
    assert v.state == RoundState.VARIATION_OPEN
    v.state = RoundState.VARIATION_BIDDING  # the bidding package moves it on the first bid (issue 6)
    buyer = make_bidder(session)
    services.record_sale(session, round_id=v.id, buyer_id=buyer.id, buyer_code="V1", price=Decimal("560000"),
                         ctx=replace(after2, now=v.start_at + timedelta(days=3)), commit=True)
    assert v.state == RoundState.AWAITING_BALANCE


def test_a_variation_without_bids_fails_after_sixty_days_and_awaits_the_courts_decision(session, world, ctx):
    lot, rnd, closing = bidding(session, world, ctx)
    services.record_no_sale(session, round_id=rnd.id, ctx=closing, commit=True)
    r2 = services.relist(session, actor=world["officer"], lot_id=lot.id, ctx=closing,
                         terms=terms(closing, start_in=timedelta(days=20), starting_price=Decimal("600000"),
                                     deposit=Decimal("60000")))
    notify_all(session, world, r2, closing, closing.now - timedelta(days=4))
    services.publish(session, actor=world["officer"], round_id=r2.id, ctx=closing)
    services.run_due(session, replace(closing, now=r2.start_at))
    end2 = replace(closing, now=r2.end_at)
    services.record_no_sale(session, round_id=r2.id, ctx=end2, commit=True)
    v = services.start_variation(session, actor=world["officer"], lot_id=lot.id, deposit=Decimal("60000"),
                                 start_at=end2.now + timedelta(days=16), balance_days=15,
                                 taxes=[{"tax": "契税", "payer": "buyer"}], court_contact="x", title_and_possession="x",
                                 defects_statement="x", ctx=end2)
    notify_all(session, world, v, end2, end2.now - timedelta(days=4))
    services.publish(session, actor=world["officer"], round_id=v.id, ctx=end2)
    services.run_due(session, replace(end2, now=v.start_at))
    services.run_due(session, replace(end2, now=v.end_at))
    assert v.state == RoundState.VARIATION_FAILED
    services.record_variation_decision(session, actor=world["officer"], round_id=v.id, decision="裁定解除查封",
                                       ctx=replace(end2, now=v.end_at))


def test_a_creditor_takes_the_property_in_payment_topping_up_the_surplus(session, world, ctx):
    world["case"].claim_amount = Decimal("500000")
    lot, rnd, closing = bidding(session, world, ctx)
    services.record_no_sale(session, round_id=rnd.id, ctx=closing, commit=True)
    applicant = next(p for p in world["case"].parties if p.role == PartyRole.APPLICANT)
    with pytest.raises(services.Refused, match="top up") as info:
        services.take_in_payment(session, actor=world["officer"], round_id=rnd.id, party_id=applicant.id,
                                 top_up=Decimal("0"), ctx=closing)
    assert info.value.params["amount"] == "¥200,000.00"
    services.take_in_payment(session, actor=world["officer"], round_id=rnd.id, party_id=applicant.id,
                             top_up=Decimal("200000"), ctx=closing)
    assert rnd.state == RoundState.TAKEN_IN_PAYMENT


def test_suspend_and_resume_bidding_runs_again_for_24_hours(session, world, ctx):
    lot, rnd, closing = bidding(session, world, ctx)
    during = replace(ctx, now=rnd.start_at + timedelta(hours=5))
    services.suspend(session, actor=world["officer"], round_id=rnd.id, reason="案外人提出异议（A57）", ctx=during)
    assert rnd.state == RoundState.SUSPENDED and rnd.events[-1].public
    services.record_cause_ended(session, actor=world["officer"], round_id=rnd.id, ctx=at(during, timedelta(days=3)))
    resumed = at(during, timedelta(days=4))
    with pytest.raises(services.Refused, match="24 hours"):
        services.resume(session, actor=world["officer"], round_id=rnd.id, ctx=resumed,
                        new_end_at=resumed.now + timedelta(hours=2))
    services.resume(session, actor=world["officer"], round_id=rnd.id, ctx=resumed)
    assert rnd.state == RoundState.BIDDING and rnd.end_at == resumed.now + timedelta(hours=24)


def test_the_administrator_may_only_suspend_for_an_emergency(session, world, ctx):
    lot, rnd, closing = bidding(session, world, ctx)
    admin = make_user(session, Role.ADMIN)
    services.suspend(session, actor=admin, round_id=rnd.id, reason="系统故障", ctx=closing)
    assert rnd.emergency and rnd.state == RoundState.SUSPENDED
    with pytest.raises(services.NotAllowed):
        services.resume(session, actor=admin, round_id=rnd.id, ctx=closing)
    with pytest.raises(services.NotAllowed):
        services.withdraw(session, actor=admin, round_id=rnd.id, ground="other", reason="x", ctx=closing)


def test_withdrawal_needs_a_ground_and_is_impossible_after_a_sale(session, world, ctx):
    lot, rnd = published_lot(session, world, ctx)
    with pytest.raises(services.Refused, match="B05"):
        services.withdraw(session, actor=world["officer"], round_id=rnd.id, ground="whim", reason="x", ctx=ctx)
    services.withdraw(session, actor=world["officer"], round_id=rnd.id, ground="debt_paid", reason="被执行人已全额履行",
                      ctx=ctx)
    assert rnd.state == RoundState.WITHDRAWN


def test_an_upheld_objection_annuls_a_sale(session, world, ctx):
    lot, rnd, closing = bidding(session, world, ctx)
    services.record_sale(session, round_id=rnd.id, buyer_id=make_bidder(session).id, buyer_code="C3",
                         price=Decimal("700000"), ctx=closing, commit=True)
    services.annul(session, actor=world["officer"], round_id=rnd.id, ground="collusion", reason="竞买人恶意串通（A52）",
                   ctx=closing)
    assert rnd.state == RoundState.ANNULLED


def test_late_steps_are_alerted_the_day_after_the_deadline(session, world, ctx):
    from cases.rules import local_today

    lot, rnd, closing = bidding(session, world, ctx)
    services.record_no_sale(session, round_id=rnd.id, ctx=closing, commit=True)
    officer = world["officer"]
    day = local_today(closing.now)
    assert services.alerts(session, user=officer, today=day + timedelta(days=30), rulebook=SPC) == []
    late = services.alerts(session, user=officer, today=day + timedelta(days=31), rulebook=SPC)
    assert len(late) == 1 and "30 days" in late[0].what
    assert services.alerts(session, user=make_officer(session), today=day + timedelta(days=31), rulebook=SPC) == []


def test_priority_holders_are_confirmed_with_their_rank(session, world, ctx):
    lot = new_lot(session, world, ctx)
    h = services.add_priority_holder(session, actor=world["officer"], lot_id=lot.id, name="承租人刘某", kind="person",
                                     id_number=resident_id(), right="承租人优先购买权", rank=1, ctx=ctx)
    assert h.confirmed_at == ctx.now
    rnd = lot.current
    notify_all(session, world, rnd, ctx, ctx.now - timedelta(days=4))
    with pytest.raises(services.Refused, match="Every party and priority holder"):
        services.publish(session, actor=world["officer"], round_id=rnd.id, ctx=ctx)
    services.record_notice(session, actor=world["officer"], round_id=rnd.id, holder_id=h.id, method=NoticeMethod.WAIVED,
                           detail="书面放弃优先购买权", at=ctx.now, ctx=ctx)
    services.publish(session, actor=world["officer"], round_id=rnd.id, ctx=ctx)


def test_unknown_rounds(session, world, ctx):
    with pytest.raises(services.NotFound):
        services.publish(session, actor=world["officer"], round_id=987654, ctx=ctx)
    assert session.get(Round, 987654) is None


def test_a_priced_asset_not_put_up_for_sale_within_10_days_is_flagged(session, world, ctx):
    from appraisal.models import Procedure
    from cases.rules import local_today

    proc = session.scalars(select(Procedure).where(Procedure.asset_id == world["asset"].id)).one()
    fixed = local_today(proc.final_at)
    assert not [a for a in services.alerts(session, user=world["officer"], today=fixed + timedelta(days=10),
                                           rulebook=SPC) if a.asset]
    late = [a for a in services.alerts(session, user=world["officer"], today=fixed + timedelta(days=11), rulebook=SPC)
            if a.asset]
    assert len(late) == 1 and "E48" in late[0].what
    new_lot(session, world, ctx)
    assert not [a for a in services.alerts(session, user=world["officer"], today=fixed + timedelta(days=11),
                                           rulebook=SPC) if a.asset]
