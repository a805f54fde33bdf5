"""The reference-price procedure end to end against a real database, with explicit time."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from accounts.models import Role
from appraisal import draw as protocol
from appraisal import rules, services
from appraisal.models import Commission, Draw, Procedure
from appraisal.rules import CommissionState, Method, ObjectionKind, ObjectionState, ProcedureState
from appraisal.services import Context
from cases.models import Asset
from cases.rules import AssetStage, PartyRole
from core.audit import verify
from core.calendar import WorkCalendar
from core.files import FileStore
from core.models import Document
from core.rulebook import SPC
from tests.factories import VAULT, make_agency, make_asset, make_case, make_user, pdf_bytes


@pytest.fixture
def ctx(now, tmp_path):
    return Context(now=now, rulebook=SPC, calendar=WorkCalendar(), vault=VAULT, store=FileStore(tmp_path / "files"),
                   base_url="http://test")


def at(ctx: Context, delta: timedelta) -> Context:
    return replace(ctx, now=ctx.now + delta)


@pytest.fixture
def world(session):
    case = make_case(session)
    asset = make_asset(session, case)  # real estate in 340202 (city 340200)
    agencies = [make_agency(session) for _ in range(6)]
    parties = {}
    for p in case.parties:
        user = make_user(session, Role.PARTY, username=f"party_{p.role}_{p.id}")
        p.user_id = user.id
        parties[p.role] = user
    session.flush()
    return {"case": case, "asset": asset, "officer": case.officer, "agencies": agencies, "parties": parties}


def open_commissioned(session, world, ctx):
    return services.open_procedure(session, actor=world["officer"], asset_id=world["asset"].id,
                                   method=Method.COMMISSIONED, ctx=ctx)


def drawn(session, world, ctx, contribute=True):
    proc = open_commissioned(session, world, ctx)
    d = services.schedule_draw(session, actor=world["officer"], procedure_id=proc.id,
                               draw_at=ctx.now + timedelta(days=1, hours=1), ctx=ctx)
    if contribute:
        secret = "申请人的随机数-7"
        applicant = world["parties"][PartyRole.APPLICANT]
        services.commit_contribution(session, actor=applicant, draw_id=d.id,
                                     commitment=protocol.contribution_commitment(d.id, secret), ctx=ctx)
        services.reveal_contribution(session, actor=applicant, draw_id=d.id, secret=secret,
                                     ctx=at(ctx, timedelta(hours=2)))
    later = at(ctx, timedelta(days=1, hours=2))
    assert services.run_due(session, later) >= 1
    session.refresh(d)
    return proc, d, later


def agency_user(world, agency_id):
    return next(a.user for a in world["agencies"] if a.id == agency_id)


def offered(proc):
    return [c for c in proc.commissions if c.state == CommissionState.OFFERED]


def test_opening_a_procedure_moves_the_asset_to_pricing(session, world, ctx):
    proc = open_commissioned(session, world, ctx)
    assert proc.state == ProcedureState.AGENCY_SELECTION
    assert session.get(Asset, world["asset"].id).stage == AssetStage.PRICING
    with pytest.raises(services.Refused, match="already under way"):
        open_commissioned(session, world, ctx)


def test_a_draw_needs_a_day_of_notice_and_freezes_the_pool(session, world, ctx):
    proc = open_commissioned(session, world, ctx)
    with pytest.raises(services.Refused, match="one day"):
        services.schedule_draw(session, actor=world["officer"], procedure_id=proc.id,
                               draw_at=ctx.now + timedelta(hours=23), ctx=ctx)
    d = services.schedule_draw(session, actor=world["officer"], procedure_id=proc.id,
                               draw_at=ctx.now + timedelta(days=1), ctx=ctx)
    assert d.level == "city" and sorted(a["id"] for a in d.pool) == sorted(a.id for a in world["agencies"])
    assert d.seed is None and d.seed_commitment and d.pool_digest == protocol.pool_digest(d.pool)
    assert services.run_due(session, at(ctx, timedelta(hours=23))) == 0  # not yet due


def test_conflicted_suspended_and_other_specialty_agencies_never_enter_the_pool(session, world, ctx):
    debtor = next(p for p in world["case"].parties if p.role == PartyRole.DEBTOR)
    from appraisal.models import AgencyConflict

    conflicted = world["agencies"][0]
    session.add(AgencyConflict(agency_id=conflicted.id, fingerprint=debtor.id_number_hmac, number_tail="0000",
                               description="被执行人的关联公司", declared_at=ctx.now))
    suspended = make_agency(session, status="suspended")
    land_only = make_agency(session, specialties=("land",))
    session.flush()
    proc = open_commissioned(session, world, ctx)
    d = services.schedule_draw(session, actor=world["officer"], procedure_id=proc.id,
                               draw_at=ctx.now + timedelta(days=2), ctx=ctx)
    ids = {a["id"] for a in d.pool}
    assert conflicted.id not in ids and suspended.id not in ids and land_only.id not in ids
    reasons = {e["id"]: e["reason"] for e in d.exclusions}
    assert "conflict of interest" in reasons[conflicted.id] and "not on the list" in reasons[suspended.id]


def test_the_province_list_is_used_when_the_city_has_fewer_than_three(session, ctx):
    case = make_case(session)
    asset = make_asset(session, case, region_code="341002")  # 黄山市: no city agencies
    for _ in range(3):
        make_agency(session, regions=("340000",))
    proc = services.open_procedure(session, actor=case.officer, asset_id=asset.id, method=Method.COMMISSIONED, ctx=ctx)
    d = services.schedule_draw(session, actor=case.officer, procedure_id=proc.id,
                               draw_at=ctx.now + timedelta(days=2), ctx=ctx)
    assert (d.level, d.region_code) == ("province", "340000")


def test_the_draw_runs_on_schedule_and_anyone_can_verify_it(session, world, ctx):
    proc, d, _ = drawn(session, world, ctx)
    assert d.status == "drawn" and protocol.seed_commitment(d.seed) == d.seed_commitment
    record = services.draw_record(d)
    assert protocol.verify_record(record) == []
    assert record["contributions"][0]["secret"] == "申请人的随机数-7"
    first = offered(proc)
    assert len(first) == 1 and first[0].rank == 1 and first[0].agency_id == d.ranking[0]
    kinds = {doc.kind for doc in session.scalars(select(Document))}
    assert {"draw_record", "commission_letter"} <= kinds
    assert verify(session) == []


def test_the_cli_verifies_a_draw_from_the_database(session, world, ctx, app):
    _, d, _ = drawn(session, world, ctx)
    result = app.test_cli_runner().invoke(args=["appraisal", "verify-draw", str(d.id)])
    assert result.exit_code == 0 and "verifies" in result.output
    d.ranking = list(reversed(d.ranking))
    session.flush()
    result = app.test_cli_runner().invoke(args=["appraisal", "verify-draw", str(d.id)])
    assert result.exit_code == 1


def test_running_due_work_twice_changes_nothing(session, world, ctx):
    proc, d, later = drawn(session, world, ctx)
    before = [(c.id, c.state) for c in proc.commissions]
    services.run_due(session, later)
    session.refresh(proc)
    assert [(c.id, c.state) for c in proc.commissions] == before


def test_a_decline_moves_to_the_next_rank_and_silence_counts_as_a_decline(session, world, ctx):
    proc, d, later = drawn(session, world, ctx)
    first = offered(proc)[0]
    with pytest.raises(services.Refused, match="reason"):
        services.answer_commission(session, actor=agency_user(world, first.agency_id), commission_id=first.id,
                                   accept=False, reason=" ", ctx=later)
    services.answer_commission(session, actor=agency_user(world, first.agency_id), commission_id=first.id,
                               accept=False, reason="本所近期承接业务饱和", ctx=later)
    session.refresh(proc)
    second = offered(proc)[0]
    assert (second.rank, second.agency_id) == (2, d.ranking[1])
    services.run_due(session, at(later, timedelta(days=4)))  # 3 days of silence
    session.refresh(proc)
    third = offered(proc)[0]
    assert (third.rank, third.agency_id) == (3, d.ranking[2])
    assert session.get(Commission, second.id).state == CommissionState.DECLINED


def test_when_all_three_fail_a_new_draw_excludes_them(session, world, ctx):
    proc, d, later = drawn(session, world, ctx)
    for _ in range(3):
        later = at(later, timedelta(days=4))
        services.run_due(session, later)
    session.refresh(proc)
    assert proc.state == ProcedureState.AGENCY_SELECTION
    redraw = session.scalars(select(Draw).where(Draw.procedure_id == proc.id, Draw.status == "scheduled")).one()
    assert not set(d.ranking) & {a["id"] for a in redraw.pool}


def test_only_the_commissioned_agency_sees_its_commission(session, world, ctx):
    proc, d, later = drawn(session, world, ctx)
    first = offered(proc)[0]
    stranger = next(a for a in world["agencies"] if a.id not in d.ranking)
    with pytest.raises(services.NotFound):
        services.answer_commission(session, actor=stranger.user, commission_id=first.id, accept=True, reason="",
                                   ctx=later)
    assert not services.can_view_procedure(stranger.user, proc, session)
    assert services.can_view_procedure(agency_user(world, first.agency_id), proc, session)


def accepted(session, world, ctx):
    proc, d, later = drawn(session, world, ctx)
    c = offered(proc)[0]
    services.answer_commission(session, actor=agency_user(world, c.agency_id), commission_id=c.id, accept=True,
                               reason="", ctx=later)
    return proc, c, later


def test_the_report_is_due_thirty_days_after_the_letter_was_delivered(session, world, ctx):
    proc, c, later = accepted(session, world, ctx)
    assert (c.report_due_at - c.delivered_at) >= timedelta(days=30)
    assert (c.report_due_at - c.delivered_at) < timedelta(days=33)  # at most a weekend's shift


def test_extensions_follow_e31(session, world, ctx):
    proc, c, later = accepted(session, world, ctx)
    user = agency_user(world, c.agency_id)
    with pytest.raises(services.Refused, match="15 days"):
        services.request_extension(session, actor=user, commission_id=c.id, days=16, reason="现场勘验受阻", ctx=later)
    too_late = replace(later, now=c.report_due_at - timedelta(days=4))
    with pytest.raises(services.Refused, match="5 days before"):
        services.request_extension(session, actor=user, commission_id=c.id, days=10, reason="x", ctx=too_late)
    for _ in range(2):
        e = services.request_extension(session, actor=user, commission_id=c.id, days=15, reason="需补充资料", ctx=later)
        services.decide_extension(session, actor=world["officer"], request_id=e.id, grant=True, ctx=later)
    assert (c.extensions_granted, c.extension_days) == (2, 30)
    assert c.report_due_at == rules.report_due(c.delivered_at, paused_days=0, extension_days=30,
                                               calendar=ctx.calendar, rulebook=SPC)
    with pytest.raises(services.Refused, match="two extensions"):
        services.request_extension(session, actor=user, commission_id=c.id, days=5, reason="x", ctx=later)


def test_a_missed_report_deadline_moves_to_the_next_rank_without_fee(session, world, ctx):
    proc, c, later = accepted(session, world, ctx)
    services.run_due(session, replace(later, now=c.report_due_at + timedelta(seconds=1)))
    session.refresh(c)
    assert c.state == CommissionState.LAPSED and c.fee == Decimal("0.00")
    session.refresh(proc)
    assert offered(proc)[0].rank == 2


def submit(session, world, c, ctx, **kw):
    agency = next(a for a in world["agencies"] if a.id == c.agency_id)
    args = dict(amount=Decimal("1850000"), effective_on=ctx.now.date() - timedelta(days=1),
                valid_until=ctx.now.date() + timedelta(days=300),
                appraiser_ids=[a.id for a in agency.appraisers], report=pdf_bytes())
    args.update(kw)
    return services.submit_valuation(session, actor=agency.user, commission_id=c.id, ctx=ctx, **args)


def test_a_valuation_needs_two_registered_appraisers_and_at_most_a_year_of_validity(session, world, ctx):
    proc, c, later = accepted(session, world, ctx)
    agency = next(a for a in world["agencies"] if a.id == c.agency_id)
    with pytest.raises(services.Refused, match="two qualified"):
        submit(session, world, c, later, appraiser_ids=[agency.appraisers[0].id])
    other = next(a for a in world["agencies"] if a.id != c.agency_id)
    with pytest.raises(services.Refused, match="registered with the agency"):
        submit(session, world, c, later, appraiser_ids=[agency.appraisers[0].id, other.appraisers[0].id])
    with pytest.raises(services.Refused, match="one year"):
        submit(session, world, c, later, valid_until=later.now.date() + timedelta(days=400))


def test_report_served_objection_in_time_dismissed_then_final(session, world, ctx):
    proc, c, later = accepted(session, world, ctx)
    v = submit(session, world, c, at(later, timedelta(days=10)))
    review = at(later, timedelta(days=11))
    services.review_valuation(session, actor=world["officer"], valuation_id=v.id, accept=False, note="签章机构与选定机构不一致",
                              ctx=review)
    assert proc.state == ProcedureState.COMMISSIONED
    v2 = submit(session, world, c, at(review, timedelta(days=1)))
    served = at(review, timedelta(days=2))
    services.review_valuation(session, actor=world["officer"], valuation_id=v2.id, accept=True, note="", ctx=served)
    assert proc.state == ProcedureState.SERVED and v2.objections_close_at > served.now
    debtor = world["parties"][PartyRole.DEBTOR]
    o = services.file_objection(session, actor=debtor, procedure_id=proc.id, kind=ObjectionKind.TECHNICAL,
                                grounds="评估方法选择不当，未考虑学区因素", ctx=at(served, timedelta(days=2)))
    services.forward_objection(session, actor=world["officer"], objection_id=o.id, ctx=at(served, timedelta(days=2)))
    services.answer_objection(session, actor=agency_user(world, c.agency_id), objection_id=o.id,
                              answer="已采用市场比较法并考虑学区", ctx=at(served, timedelta(days=3)))
    services.decide_objection(session, actor=world["officer"], objection_id=o.id, uphold=False, note="异议理由不成立",
                              ctx=at(served, timedelta(days=4)))
    assert o.state == ObjectionState.DISMISSED and proc.state == ProcedureState.SERVED
    with pytest.raises(services.Refused, match="5-day"):
        services.file_objection(session, actor=world["parties"][PartyRole.APPLICANT], procedure_id=proc.id,
                                kind=ObjectionKind.PROCEDURAL, grounds="x", ctx=at(served, timedelta(days=10)))
    services.run_due(session, at(served, timedelta(days=10)))
    session.refresh(proc)
    assert proc.state == ProcedureState.FINAL and proc.reference_price == Decimal("1850000.00")
    assert proc.valid_until == v2.valid_until
    assert session.get(Asset, world["asset"].id).stage == AssetStage.PRICED
    assert c.state == CommissionState.COMPLETED


def test_an_upheld_procedural_objection_goes_to_the_next_rank(session, world, ctx):
    proc, c, later = accepted(session, world, ctx)
    v = submit(session, world, c, at(later, timedelta(days=5)))
    services.review_valuation(session, actor=world["officer"], valuation_id=v.id, accept=True, note="",
                              ctx=at(later, timedelta(days=6)))
    o = services.file_objection(session, actor=world["parties"][PartyRole.APPLICANT], procedure_id=proc.id,
                                kind=ObjectionKind.PROCEDURAL, grounds="签字评估师不具备资格",
                                ctx=at(later, timedelta(days=7)))
    services.decide_objection(session, actor=world["officer"], objection_id=o.id, uphold=True, note="异议成立",
                              ctx=at(later, timedelta(days=8)))
    assert c.state == CommissionState.REPLACED and c.fee == Decimal("0.00")
    assert offered(proc)[0].rank == 2 and proc.state == ProcedureState.COMMISSIONED


def test_a_negotiated_price_is_final_and_cannot_be_objected_to(session, world, ctx):
    proc = services.open_procedure(session, actor=world["officer"], asset_id=world["asset"].id,
                                   method=Method.NEGOTIATION, ctx=ctx, deadline_days=10)
    by_role = {p.role: p for p in world["case"].parties}
    services.submit_negotiated_price(session, actor=world["parties"][PartyRole.APPLICANT], procedure_id=proc.id,
                                     party_id=by_role[PartyRole.APPLICANT].id, amount=Decimal("1500000"), ctx=ctx)
    services.submit_negotiated_price(session, actor=world["parties"][PartyRole.DEBTOR], procedure_id=proc.id,
                                     party_id=by_role[PartyRole.DEBTOR].id, amount=Decimal("1600000"), ctx=ctx)
    assert proc.state == ProcedureState.NEGOTIATION  # not identical
    services.submit_negotiated_price(session, actor=world["parties"][PartyRole.DEBTOR], procedure_id=proc.id,
                                     party_id=by_role[PartyRole.DEBTOR].id, amount=Decimal("1500000.00"), ctx=ctx)
    assert proc.state == ProcedureState.FINAL and proc.reference_price == Decimal("1500000.00")
    with pytest.raises(services.Refused, match="E40"):
        services.file_objection(session, actor=world["parties"][PartyRole.DEBTOR], procedure_id=proc.id,
                                kind=ObjectionKind.TECHNICAL, grounds="x", ctx=ctx)


def test_online_inquiry_averages_the_on_time_results(session, world, ctx):
    platforms = [make_agency(session, kind="online_platform", appraisers=0) for _ in range(3)]
    proc = services.open_procedure(session, actor=world["officer"], asset_id=world["asset"].id,
                                   method=Method.ONLINE_INQUIRY, ctx=ctx)
    services.submit_inquiry_result(session, actor=platforms[0].user, procedure_id=proc.id, amount=Decimal("1000000"),
                                   ctx=at(ctx, timedelta(days=1)))
    services.submit_inquiry_result(session, actor=platforms[1].user, procedure_id=proc.id, amount=Decimal("1000001"),
                                   ctx=at(ctx, timedelta(days=2)))
    services.run_due(session, at(ctx, timedelta(days=6)))
    session.refresh(proc)
    assert proc.state == ProcedureState.SERVED and proc.proposed_price == Decimal("1000001.00")  # 1000000.5 → halves up
    with pytest.raises(services.Refused, match="closed"):
        services.submit_inquiry_result(session, actor=platforms[2].user, procedure_id=proc.id,
                                       amount=Decimal("1"), ctx=at(ctx, timedelta(days=6)))
    services.run_due(session, at(ctx, timedelta(days=20)))
    session.refresh(proc)
    assert proc.state == ProcedureState.FINAL and proc.reference_price == Decimal("1000001.00")


def test_online_inquiry_with_no_result_falls_back_to_commissioned(session, world, ctx):
    make_agency(session, kind="online_platform", appraisers=0)
    proc = services.open_procedure(session, actor=world["officer"], asset_id=world["asset"].id,
                                   method=Method.ONLINE_INQUIRY, ctx=ctx)
    services.run_due(session, at(ctx, timedelta(days=6)))
    session.refresh(proc)
    assert proc.method == Method.COMMISSIONED and proc.state == ProcedureState.AGENCY_SELECTION


def test_pausing_stops_the_report_clock(session, world, ctx):
    proc, c, later = accepted(session, world, ctx)
    due = c.report_due_at
    services.pause(session, actor=world["officer"], procedure_id=proc.id, reason="案外人异议，暂缓执行", ctx=later)
    services.run_due(session, replace(later, now=due + timedelta(days=1)))
    assert c.state == CommissionState.ACCEPTED  # no lapse while paused
    services.resume(session, actor=world["officer"], procedure_id=proc.id, ctx=at(later, timedelta(days=10)))
    assert c.paused_days == 10
    assert c.report_due_at == rules.report_due(c.delivered_at, paused_days=10, extension_days=0,
                                               calendar=ctx.calendar, rulebook=SPC)
    assert c.report_due_at > due


def test_only_the_cases_officer_runs_the_procedure(session, world, ctx):
    proc = open_commissioned(session, world, ctx)
    from tests.factories import make_officer

    with pytest.raises(services.NotFound):  # another court's case does not exist for them
        services.schedule_draw(session, actor=make_officer(session), procedure_id=proc.id,
                               draw_at=ctx.now + timedelta(days=2), ctx=ctx)
    assert session.get(Procedure, proc.id).state == ProcedureState.AGENCY_SELECTION


def test_dates_are_used_not_naive(ctx):
    assert isinstance(ctx.now.date(), date)


def test_the_fee_advance_and_the_fee_go_through_the_case_fund_ledger(session, world, ctx):
    from cases import services as case_services
    from cases.rules import FundAccount

    proc, c, later = accepted(session, world, ctx)
    advance = services.record_fee_advance(session, actor=world["officer"], commission_id=c.id,
                                          estimated_fee=Decimal("12000"), ctx=later)
    assert advance == Decimal("6000.00")  # E52: 50 %
    with pytest.raises(services.Refused, match="reference price"):
        services.settle_appraisal_fee(session, actor=world["officer"], commission_id=c.id, fee=Decimal("5000"), ctx=later)
    v = submit(session, world, c, at(later, timedelta(days=5)))
    services.review_valuation(session, actor=world["officer"], valuation_id=v.id, accept=True, note="",
                              ctx=at(later, timedelta(days=6)))
    services.run_due(session, at(later, timedelta(days=15)))
    with pytest.raises(services.Refused, match="Not enough"):
        services.settle_appraisal_fee(session, actor=world["officer"], commission_id=c.id, fee=Decimal("6000.01"),
                                      ctx=at(later, timedelta(days=16)))
    services.settle_appraisal_fee(session, actor=world["officer"], commission_id=c.id, fee=Decimal("6000"),
                                  ctx=at(later, timedelta(days=16)))
    case_id = world["case"].id
    assert case_services.fund_balances(session, case_id)[FundAccount.COURT] == Decimal("0.00")
    assert case_services.reconcile_funds(session, case_id) == []


def test_fee_rules():
    assert rules.appraisal_fee_base(appraised=Decimal("100"), sale_price=Decimal("120")) == Decimal("100.00")
    assert rules.appraisal_fee_base(appraised=Decimal("100"), sale_price=Decimal("80")) == Decimal("80.00")
    assert rules.appraisal_fee_base(appraised=Decimal("100"), sale_price=None) is None
    assert rules.online_fee_winners({1: Decimal("90"), 2: Decimal("110"), 3: Decimal("130")}, Decimal("100")) == [1, 2]


def test_reminders_go_out_once_before_each_deadline(session, world, ctx):
    from core.models import OutboxMessage

    proc, d, later = drawn(session, world, ctx)
    c = offered(proc)[0]

    def reminders(subject):
        return session.scalars(select(OutboxMessage).where(OutboxMessage.subject == subject,
                                                           OutboxMessage.user_id == c.agency.user_id)).all()

    services.run_due(session, at(later, timedelta(hours=1)))
    assert reminders("请答复评估委托") == []
    almost = replace(later, now=c.answer_due_at - timedelta(hours=12))
    services.run_due(session, almost)
    services.run_due(session, at(almost, timedelta(hours=1)))
    assert len(reminders("请答复评估委托")) == 1
    services.answer_commission(session, actor=c.agency.user, commission_id=c.id, accept=True, reason="", ctx=almost)
    services.run_due(session, replace(later, now=c.report_due_at - timedelta(days=2)))
    assert len(reminders("评估报告即将到期")) == 1


def test_the_online_inquiry_fee_goes_to_the_closest_platform(session, world, ctx):
    from cases import services as case_services
    from cases.rules import FundMovement

    platforms = [make_agency(session, kind="online_platform", appraisers=0) for _ in range(3)]
    proc = services.open_procedure(session, actor=world["officer"], asset_id=world["asset"].id,
                                   method=Method.ONLINE_INQUIRY, ctx=ctx)
    for p, amount in zip(platforms, ("900000", "1100000", "1300000"), strict=True):
        services.submit_inquiry_result(session, actor=p.user, procedure_id=proc.id, amount=Decimal(amount),
                                       ctx=at(ctx, timedelta(days=1)))
    services.run_due(session, at(ctx, timedelta(days=6)))
    services.run_due(session, at(ctx, timedelta(days=20)))
    assert proc.state == ProcedureState.FINAL
    case_services.record_fund_movement(session, case_id=world["case"].id, kind=FundMovement.RECEIVED,
                                       amount=Decimal("1000000"), source="sale", actor="t", now=ctx.now)
    paid = services.settle_online_inquiry_fee(session, actor=world["officer"], procedure_id=proc.id,
                                              sale_price=Decimal("1000000"), fee=Decimal("301"),
                                              ctx=at(ctx, timedelta(days=30)))
    assert paid == {platforms[0].id: Decimal("150.50"), platforms[1].id: Decimal("150.50")}  # a tie: split (E49)
    with pytest.raises(services.Refused, match="already"):
        services.settle_online_inquiry_fee(session, actor=world["officer"], procedure_id=proc.id,
                                           sale_price=Decimal("1000000"), fee=Decimal("1"), ctx=ctx)
    assert case_services.reconcile_funds(session, world["case"].id) == []
