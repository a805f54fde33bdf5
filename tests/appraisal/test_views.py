"""Officer, party and public appraisal pages through the test client.

The app's clock is real time, so the world is built with services at explicit times relative
to the app's ``now`` and the scheduler's work (``run_due``) is run with a context days later.
"""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from accounts.models import Role
from appraisal import draw as protocol
from appraisal import services
from appraisal.context import context_for
from appraisal.models import Draw, DrawContribution, Objection, Procedure
from appraisal.rules import CommissionState, Method, ObjectionState, ProcedureState
from cases.rules import PartyRole
from core.i18n import SHANGHAI
from tests.conftest import csrf_from
from tests.factories import PASSWORD, VAULT, make_agency, make_asset, make_case, make_officer, make_user, pdf_bytes


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


def clock_now(app):
    return app.extensions["clock"].now()


def ctx_at(app, session, when):
    return context_for(app, session, when)


def signed_in(app, username: str):
    """A test client of its own, logged in through the real login form."""
    c = app.test_client()
    token = csrf_from(c.get("/accounts/login").get_data(as_text=True))
    r = c.post("/accounts/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, "login failed"
    return c


def post(c, url: str, data: dict, *, page: str, prefix: str | None = None, follow: bool = False):
    """POST ``data`` with the CSRF token read from ``page`` (also under the form's prefix)."""
    token = csrf_from(c.get(page).get_data(as_text=True))
    data = {**data, "csrf_token": token}
    if prefix:
        data[f"{prefix}-csrf_token"] = token
    return c.post(url, data=data, follow_redirects=follow)


def local_input(when) -> str:
    """How a ``datetime-local`` input sends a Beijing time."""
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def open_commissioned(app, session, world, when=None):
    ctx = ctx_at(app, session, when or clock_now(app))
    return services.open_procedure(session, actor=world["officer"], asset_id=world["asset"].id,
                                   method=Method.COMMISSIONED, ctx=ctx)


def scheduled(app, session, world):
    """A commissioned procedure whose draw is 1 day and 1 minute from the app's now."""
    proc = open_commissioned(app, session, world)
    now = clock_now(app)
    d = services.schedule_draw(session, actor=world["officer"], procedure_id=proc.id,
                               draw_at=now + timedelta(days=1, minutes=1), ctx=ctx_at(app, session, now))
    return proc, d


def run_the_draw(app, session):
    assert services.run_due(session, ctx_at(app, session, clock_now(app) + timedelta(days=2))) >= 1
    session.expire_all()


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/appraisal/procedures/1", "/appraisal/cases/1", "/appraisal/assets/1/open",
                                  "/appraisal/reports/" + "a" * 64])
def test_appraisal_pages_need_a_login(client, path):
    r = client.get(path)
    assert r.status_code == 302 and "/accounts/login" in r.headers["Location"]


def test_an_officer_of_another_court_finds_nothing(app, session, world):
    proc, d = scheduled(app, session, world)
    make_officer(session, username="officer_elsewhere")
    c = signed_in(app, "officer_elsewhere")
    assert c.get(f"/appraisal/procedures/{proc.id}").status_code == 404
    assert c.get(f"/appraisal/cases/{world['case'].id}").status_code == 404
    assert c.get(f"/appraisal/assets/{world['asset'].id}/open").status_code == 404
    r = post(c, f"/appraisal/procedures/{proc.id}/withdraw", {"withdraw-reason": "x"}, page="/accounts/profile",
             prefix="withdraw")
    assert r.status_code == 404
    assert c.get("/appraisal/procedures/999999").status_code == 404
    session.expire_all()
    assert session.get(Procedure, proc.id).state == ProcedureState.AGENCY_SELECTION


def test_a_party_sees_the_procedure_but_may_not_run_it(app, session, world):
    proc = open_commissioned(app, session, world)
    c = signed_in(app, world["parties"][PartyRole.DEBTOR].username)
    assert c.get(f"/appraisal/procedures/{proc.id}").status_code == 200
    assert c.get(f"/appraisal/cases/{world['case'].id}").status_code == 200
    assert c.get(f"/appraisal/assets/{world['asset'].id}/open").status_code == 403
    r = post(c, f"/appraisal/procedures/{proc.id}/draws",
             {"draw_at": local_input(clock_now(app) + timedelta(days=2))}, page=f"/appraisal/procedures/{proc.id}")
    assert r.status_code == 403
    assert session.scalars(select(Draw).where(Draw.procedure_id == proc.id)).all() == []


def test_bidders_and_other_agencies_do_not_see_procedures(app, session, world):
    proc = open_commissioned(app, session, world)
    make_user(session, Role.BIDDER, username="bidder_v")
    assert signed_in(app, "bidder_v").get(f"/appraisal/procedures/{proc.id}").status_code == 404
    assert signed_in(app, world["agencies"][0].user.username).get(f"/appraisal/procedures/{proc.id}").status_code == 404


# --- officer: open and schedule -------------------------------------------------------------------


def test_the_officer_opens_a_commissioned_procedure_and_schedules_a_draw(app, session, world):
    c = signed_in(app, world["officer"].username)
    open_page = f"/appraisal/assets/{world['asset'].id}/open"
    assert c.get(open_page).status_code == 200
    r = post(c, open_page, {"method": "commissioned", "deadline_days": "10", "institution_id": "0"}, page=open_page)
    assert r.status_code == 302
    proc = session.scalar(select(Procedure).where(Procedure.asset_id == world["asset"].id))
    assert r.headers["Location"].endswith(f"/appraisal/procedures/{proc.id}")
    page = f"/appraisal/procedures/{proc.id}"
    html = c.get(page).get_data(as_text=True)
    assert 'name="draw_at"' in html and 'type="datetime-local"' in html

    at = clock_now(app) + timedelta(days=1, minutes=2)
    r = post(c, f"{page}/draws", {"draw_at": local_input(at)}, page=page)
    assert r.status_code == 302
    d = session.scalars(select(Draw).where(Draw.procedure_id == proc.id)).one()
    # Beijing wall time, read back as UTC: the same minute.
    assert d.scheduled_at == at.replace(second=0, microsecond=0)
    assert d.status == "scheduled" and len(d.pool) == 6
    assert f"/appraisal/draws/{d.id}" in c.get(page).get_data(as_text=True)


def test_a_bad_or_too_early_draw_time_is_explained_and_nothing_changes(app, session, world):
    proc = open_commissioned(app, session, world)
    c = signed_in(app, world["officer"].username)
    page = f"/appraisal/procedures/{proc.id}"
    for value in ("tomorrow at nine", "2026-13-40T25:61", local_input(clock_now(app) + timedelta(hours=3))):
        r = post(c, f"{page}/draws", {"draw_at": value}, page=page, follow=True)
        assert r.status_code == 200 and "flash-error" in r.get_data(as_text=True)
    assert session.scalars(select(Draw).where(Draw.procedure_id == proc.id)).all() == []


def test_opening_twice_is_refused_with_a_message(app, session, world):
    open_commissioned(app, session, world)
    c = signed_in(app, world["officer"].username)
    open_page = f"/appraisal/assets/{world['asset'].id}/open"
    r = post(c, open_page, {"method": "online_inquiry", "institution_id": "0"}, page=open_page)
    assert r.status_code == 200 and "flash-error" in r.get_data(as_text=True)
    assert len(session.scalars(select(Procedure).where(Procedure.asset_id == world["asset"].id)).all()) == 1


def test_the_officer_records_agreed_agencies_in_order(app, session, world):
    proc = open_commissioned(app, session, world)
    c = signed_in(app, world["officer"].username)
    page = f"/appraisal/procedures/{proc.id}"
    ids = [world["agencies"][i].id for i in (4, 1, 2)]
    r = post(c, f"{page}/agreed", {"first": ids[0], "second": ids[1], "third": ids[2]}, page=page)
    assert r.status_code == 302
    session.expire_all()
    proc = session.get(Procedure, proc.id)
    assert proc.state == ProcedureState.COMMISSIONED
    assert [(x.rank, x.agency_id) for x in proc.commissions] == [(1, ids[0])]


def test_pause_resume_and_withdraw_through_the_page(app, session, world):
    proc = open_commissioned(app, session, world)
    c = signed_in(app, world["officer"].username)
    page = f"/appraisal/procedures/{proc.id}"
    assert post(c, f"{page}/pause", {"pause-reason": "案外人异议，暂缓执行"}, page=page, prefix="pause").status_code == 302
    session.expire_all()
    assert session.get(Procedure, proc.id).state == ProcedureState.PAUSED
    assert post(c, f"{page}/resume", {}, page=page).status_code == 302
    session.expire_all()
    assert session.get(Procedure, proc.id).state == ProcedureState.AGENCY_SELECTION
    r = post(c, f"{page}/withdraw", {"withdraw-reason": " "}, page=page, prefix="withdraw", follow=True)
    assert "flash-error" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Procedure, proc.id).state == ProcedureState.AGENCY_SELECTION
    post(c, f"{page}/withdraw", {"withdraw-reason": "申请执行人撤回申请"}, page=page, prefix="withdraw")
    session.expire_all()
    assert session.get(Procedure, proc.id).state == ProcedureState.WITHDRAWN


# --- the public draw ------------------------------------------------------------------------------


def test_anyone_sees_the_draw_and_the_seed_only_after_it_ran(app, session, world, client):
    proc, d = scheduled(app, session, world)
    seed = VAULT.reveal(d.seed_encrypted)
    page = client.get(f"/appraisal/draws/{d.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert d.seed_commitment in html and world["agencies"][0].licence_number in html
    assert seed not in html
    r = client.get(f"/appraisal/draws/{d.id}.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert seed not in r.get_data(as_text=True) and r.get_json()["seed"] is None
    assert client.get("/appraisal/draws/999999").status_code == 404

    run_the_draw(app, session)
    record = client.get(f"/appraisal/draws/{d.id}.json").get_json()
    assert record["seed"] == seed and protocol.verify_record(record) == []
    html = client.get(f"/appraisal/draws/{d.id}").get_data(as_text=True)
    ranked_first = next(a for a in world["agencies"] if a.id == record["ranking"][0])
    assert seed in html and record["combined"] in html and ranked_first.name in html


def test_exclusion_reasons_are_shown_in_the_users_language(app, session, world, client):
    make_agency(session, status="suspended")
    proc, d = scheduled(app, session, world)
    client.get("/lang/en")
    html = client.get(f"/appraisal/draws/{d.id}").get_data(as_text=True)
    assert "not on the list (pending, suspended or removed)" in html


def test_a_party_commits_and_reveals_through_the_draw_page(app, session, world):
    proc, d = scheduled(app, session, world)
    applicant = world["parties"][PartyRole.APPLICANT]
    c = signed_in(app, applicant.username)
    page = f"/appraisal/draws/{d.id}"
    html = c.get(page).get_data(as_text=True)
    assert 'name="commitment"' in html and "crypto.subtle.digest" in html
    secret = "申请人掷骰子-3141592653"
    r = post(c, f"{page}/commit", {"commitment": protocol.contribution_commitment(d.id, secret).upper()}, page=page)
    assert r.status_code == 302
    mine = session.scalars(select(DrawContribution).where(DrawContribution.draw_id == d.id)).one()
    assert mine.commitment == protocol.contribution_commitment(d.id, secret) and mine.secret is None

    r = post(c, f"{page}/reveal", {"secret": "not my secret"}, page=page, follow=True)
    assert "flash-error" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(DrawContribution, mine.id).secret is None
    post(c, f"{page}/reveal", {"secret": f"  {secret} "}, page=page)
    session.expire_all()
    assert session.get(DrawContribution, mine.id).secret == secret

    run_the_draw(app, session)
    record = c.get(f"{page}.json").get_json()
    assert protocol.verify_record(record) == []
    assert record["contributions"] == [{"by": "applicant", "commitment": mine.commitment, "secret": secret}]


def test_without_javascript_the_server_computes_the_commitment_and_shows_the_secret_once(app, session, world):
    proc, d = scheduled(app, session, world)
    c = signed_in(app, world["parties"][PartyRole.DEBTOR].username)
    page = f"/appraisal/draws/{d.id}"
    r = post(c, f"{page}/commit-secret", {"secret": "  六一四二三五六六一二  "}, page=page, follow=True)
    assert "六一四二三五六六一二" in r.get_data(as_text=True)
    mine = session.scalars(select(DrawContribution).where(DrawContribution.draw_id == d.id)).one()
    assert mine.commitment == protocol.contribution_commitment(d.id, "六一四二三五六六一二")
    assert mine.secret is None and mine.label == "debtor"
    assert "六一四二三五六六一二" not in c.get(page).get_data(as_text=True)  # shown once only
    r = post(c, f"{page}/commit-secret", {"secret": "short"}, page=page, follow=True)
    assert "flash-error" in r.get_data(as_text=True)


def test_only_parties_contribute_and_a_bad_commitment_is_refused(app, session, world):
    proc, d = scheduled(app, session, world)
    page = f"/appraisal/draws/{d.id}"
    officer = signed_in(app, world["officer"].username)
    assert post(officer, f"{page}/commit", {"commitment": "a" * 64}, page=page).status_code == 403
    party = signed_in(app, world["parties"][PartyRole.APPLICANT].username)
    r = post(party, f"{page}/commit", {"commitment": "xyz"}, page=page, follow=True)
    assert "flash-error" in r.get_data(as_text=True)
    assert session.scalars(select(DrawContribution).where(DrawContribution.draw_id == d.id)).all() == []
    assert signed_in(app, world["agencies"][0].user.username).get(page).status_code == 200  # public


# --- reports, objections ----------------------------------------------------------------------------


def served_report(app, session, world):
    """A commissioned report waiting for the officer's review, built in the past."""
    now = clock_now(app)
    proc = open_commissioned(app, session, world, when=now - timedelta(days=12))
    services.schedule_draw(session, actor=world["officer"], procedure_id=proc.id,
                           draw_at=now - timedelta(days=11) + timedelta(minutes=1),
                           ctx=ctx_at(app, session, now - timedelta(days=12)))
    services.run_due(session, ctx_at(app, session, now - timedelta(days=10)))
    session.refresh(proc)
    c = next(x for x in proc.commissions if x.state == CommissionState.OFFERED)
    agency = next(a for a in world["agencies"] if a.id == c.agency_id)
    later = ctx_at(app, session, now - timedelta(days=10))
    services.answer_commission(session, actor=agency.user, commission_id=c.id, accept=True, reason="", ctx=later)
    today = now.astimezone(SHANGHAI).date()
    v = services.submit_valuation(session, actor=agency.user, commission_id=c.id, amount=Decimal("1850000"),
                                  effective_on=today - timedelta(days=3), valid_until=today + timedelta(days=300),
                                  appraiser_ids=[a.id for a in agency.appraisers], report=pdf_bytes(),
                                  ctx=ctx_at(app, session, now - timedelta(days=2)))
    return proc, v, agency


def test_a_party_objects_and_the_officer_decides(app, session, world):
    proc, v, agency = served_report(app, session, world)
    page = f"/appraisal/procedures/{proc.id}"
    officer = signed_in(app, world["officer"].username)
    assert post(officer, f"/appraisal/valuations/{v.id}/review", {"decision": "accept", "note": ""},
                page=page).status_code == 302
    session.expire_all()
    assert session.get(Procedure, proc.id).state == ProcedureState.SERVED

    debtor = signed_in(app, world["parties"][PartyRole.DEBTOR].username)
    html = debtor.get(page).get_data(as_text=True)
    assert 'name="grounds"' in html and "¥1,850,000.00" in html
    r = post(debtor, f"{page}/objections", {"kind": "technical", "grounds": "评估方法选择不当，未考虑学区因素",
                                            "submission_id": "0"}, page=page)
    assert r.status_code == 302
    o = session.scalars(select(Objection).where(Objection.procedure_id == proc.id)).one()
    assert o.kind == "technical" and o.state == ObjectionState.FILED
    assert post(debtor, f"/appraisal/objections/{o.id}/forward", {}, page=page).status_code == 403

    assert post(officer, f"/appraisal/objections/{o.id}/forward", {}, page=page).status_code == 302
    prefix = f"objection-{o.id}"
    r = post(officer, f"/appraisal/objections/{o.id}/decide",
             {f"{prefix}-decision": "uphold", f"{prefix}-note": "x", f"{prefix}-corrected_amount": "一百万"},
             page=page, prefix=prefix, follow=True)
    assert "flash-error" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Objection, o.id).state == ObjectionState.FORWARDED
    post(officer, f"/appraisal/objections/{o.id}/decide",
         {f"{prefix}-decision": "dismiss", f"{prefix}-note": "异议理由不成立"}, page=page, prefix=prefix)
    session.expire_all()
    o = session.get(Objection, o.id)
    assert o.state == ObjectionState.DISMISSED and o.decision_note == "异议理由不成立"
    assert session.get(Procedure, proc.id).state == ProcedureState.SERVED
    assert "异议理由不成立" in debtor.get(page).get_data(as_text=True)


def test_the_report_is_served_to_those_who_may_see_the_procedure(app, session, world):
    proc, v, agency = served_report(app, session, world)
    url = f"/appraisal/reports/{v.report_sha256}"
    with signed_in(app, world["parties"][PartyRole.APPLICANT].username).get(url) as r:
        assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data[:5] == b"%PDF-"
    with signed_in(app, agency.user.username).get(url) as r:
        assert r.status_code == 200
    other_agency = next(a for a in world["agencies"] if a.id != agency.id)
    assert signed_in(app, other_agency.user.username).get(url).status_code == 404
    make_officer(session, username="officer_far")
    assert signed_in(app, "officer_far").get(url).status_code == 404
    assert signed_in(app, "officer_far").get("/appraisal/reports/not-a-hash").status_code == 404


def test_the_officer_grants_an_extension_with_one_button(app, session, world):
    now = clock_now(app)
    proc = open_commissioned(app, session, world, when=now - timedelta(days=3))
    services.schedule_draw(session, actor=world["officer"], procedure_id=proc.id,
                           draw_at=now - timedelta(days=2), ctx=ctx_at(app, session, now - timedelta(days=3)))
    services.run_due(session, ctx_at(app, session, now - timedelta(days=2)))
    session.refresh(proc)
    c = proc.commissions[0]
    agency = next(a for a in world["agencies"] if a.id == c.agency_id)
    services.answer_commission(session, actor=agency.user, commission_id=c.id, accept=True, reason="",
                               ctx=ctx_at(app, session, now - timedelta(days=2)))
    e = services.request_extension(session, actor=agency.user, commission_id=c.id, days=10, reason="需补充产权资料",
                                   ctx=ctx_at(app, session, now - timedelta(days=1)))
    due = c.report_due_at
    page = f"/appraisal/procedures/{proc.id}"
    officer = signed_in(app, world["officer"].username)
    assert "需补充产权资料" in officer.get(page).get_data(as_text=True)
    party = signed_in(app, world["parties"][PartyRole.DEBTOR].username)
    assert post(party, f"/appraisal/extensions/{e.id}/decide", {"decision": "grant"}, page=page).status_code == 403
    assert post(officer, f"/appraisal/extensions/{e.id}/decide", {"decision": "maybe"}, page=page).status_code == 302
    session.expire_all()
    assert session.get(type(e), e.id).decision == "pending"
    post(officer, f"/appraisal/extensions/{e.id}/decide", {"decision": "grant"}, page=page)
    session.expire_all()
    e = session.get(type(e), e.id)
    assert e.decision == "granted" and e.commission.report_due_at > due


# --- negotiation and the final price ------------------------------------------------------------


def test_identical_figures_fix_the_price_and_the_page_says_when_selling_must_start(app, session, world):
    ctx = ctx_at(app, session, clock_now(app))
    proc = services.open_procedure(session, actor=world["officer"], asset_id=world["asset"].id,
                                   method=Method.NEGOTIATION, ctx=ctx, deadline_days=10)
    by_role = {p.role: p for p in world["case"].parties}
    page = f"/appraisal/procedures/{proc.id}"
    debtor = signed_in(app, world["parties"][PartyRole.DEBTOR].username)
    r = post(debtor, f"{page}/negotiation", {"party_id": by_role[PartyRole.APPLICANT].id, "amount": "1"}, page=page)
    assert r.status_code == 302  # not its own party: refused as an invalid choice
    assert [s for s in session.get(Procedure, proc.id).submissions if s.party_id] == []
    post(debtor, f"{page}/negotiation", {"party_id": by_role[PartyRole.DEBTOR].id, "amount": "¥1,500,000"}, page=page)
    officer = signed_in(app, world["officer"].username)
    post(officer, f"{page}/negotiation", {"party_id": by_role[PartyRole.APPLICANT].id, "amount": "1500000.00"},
         page=page)
    session.expire_all()
    proc = session.get(Procedure, proc.id)
    assert proc.state == ProcedureState.FINAL and proc.reference_price == Decimal("1500000.00")
    debtor.get("/lang/en")
    html = debtor.get(page).get_data(as_text=True)
    selling_by = proc.final_at.astimezone(SHANGHAI).date() + timedelta(days=10)
    assert "¥1,500,000.00" in html and "Selling must start by" in html and selling_by.isoformat() in html
    assert "Procedure opened" in html and "Reference price fixed" in html  # the timeline
    listing = debtor.get(f"/appraisal/cases/{world['case'].id}").get_data(as_text=True)
    assert page in listing and "¥1,500,000.00" in listing


def test_the_officer_switches_method_after_a_failed_negotiation(app, session, world):
    ctx = ctx_at(app, session, clock_now(app))
    proc = services.open_procedure(session, actor=world["officer"], asset_id=world["asset"].id,
                                   method=Method.NEGOTIATION, ctx=ctx, deadline_days=10)
    c = signed_in(app, world["officer"].username)
    page = f"/appraisal/procedures/{proc.id}"
    r = post(c, f"{page}/switch", {"method": "commissioned", "institution_id": "0"}, page=page)
    assert r.status_code == 302
    new = session.scalars(select(Procedure).where(Procedure.asset_id == world["asset"].id, Procedure.id != proc.id)).one()
    assert r.headers["Location"].endswith(f"/appraisal/procedures/{new.id}")
    assert new.method == Method.COMMISSIONED and new.state == ProcedureState.AGENCY_SELECTION
    session.expire_all()
    assert session.get(Procedure, proc.id).state == ProcedureState.WITHDRAWN
    assert f"/appraisal/procedures/{new.id}" in c.get(page).get_data(as_text=True)


def test_the_draw_json_is_a_download_the_verifier_reads(app, session, world, client, tmp_path):
    from appraisal.verify import main

    proc, d = scheduled(app, session, world)
    run_the_draw(app, session)
    r = client.get(f"/appraisal/draws/{d.id}.json")
    assert f'filename="draw-{d.id}.json"' in r.headers["Content-Disposition"]
    path = tmp_path / "record.json"
    path.write_bytes(r.data)
    assert main([str(path)]) == 0
    assert json.loads(r.data)["asset"] == world["asset"].title  # UTF-8, not escaped
    assert "python -m appraisal.verify" in client.get(f"/appraisal/draws/{d.id}").get_data(as_text=True)



def test_the_officer_records_the_fee_advance_through_the_case_funds(app, session, world):
    from cases import services as case_services
    from cases.rules import FundAccount

    proc, v, agency = served_report(app, session, world)
    c = v.commission
    page = f"/appraisal/procedures/{proc.id}"
    officer = signed_in(app, world["officer"].username)
    assert f"commissions/{c.id}/fees/advance" in officer.get(page).get_data(as_text=True)
    assert post(officer, f"/appraisal/commissions/{c.id}/fees/advance", {"amount": "abc"}, page=page).status_code == 302
    assert case_services.fund_balances(session, world["case"].id)[FundAccount.COURT] == Decimal("0.00")
    post(officer, f"/appraisal/commissions/{c.id}/fees/advance", {"amount": "12,000"}, page=page)
    session.expire_all()
    assert case_services.fund_balances(session, world["case"].id)[FundAccount.COURT] == Decimal("6000.00")
    party = signed_in(app, world["parties"][PartyRole.DEBTOR].username)
    assert post(party, f"/appraisal/commissions/{c.id}/fees/advance", {"amount": "1"}, page=page).status_code == 403
