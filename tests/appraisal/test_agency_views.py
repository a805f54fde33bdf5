"""Agency-side pages and the supervisor's agency pages through the test client: registration,
decisions, the agency's dashboard, a commission from the offer to the report, inquiries.

The commission is reached as in test_services (case, asset, 6 listed agencies, an open
commissioned procedure, a scheduled draw, ``services.run_due``), with times taken from the
app's clock so the pages' own ``now()`` agrees with the data.
"""
from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from accounts.models import Role, User
from appraisal import services
from appraisal.context import context_for
from appraisal.models import Agency, AgencyConflict, Appraiser, Commission, ExtensionRequest, Valuation
from appraisal.rules import CommissionState, Method, ObjectionKind, ProcedureState
from cases.rules import PartyRole
from tests.conftest import csrf_from
from tests.factories import PASSWORD, make_agency, make_asset, make_case, make_user, pdf_bytes, resident_id

TITLE = "芜湖市镜湖区某小区3栋502室"  # make_asset's default title


@pytest.fixture
def client(client):
    """The anonymous client, reading English (the messages asserted on are the msgids)."""
    client.get("/lang/en")
    return client


def client_for(app, username: str):
    """A test client of its own (own cookies, English), logged in through the login form."""
    c = app.test_client()
    c.get("/lang/en")
    token = csrf_from(c.get("/accounts/login").get_data(as_text=True))
    r = c.post("/accounts/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    return c


def post(c, url: str, data: dict, *, form_page: str, multipart: bool = False, follow: bool = False):
    token = csrf_from(c.get(form_page).get_data(as_text=True))
    return c.post(url, data={**data, "csrf_token": token}, follow_redirects=follow,
                  content_type="multipart/form-data" if multipart else None)


def clock_ctx(app, session, delta=timedelta(0)):
    return context_for(app, session, app.extensions["clock"].now() + delta)


@pytest.fixture
def world(app, session):
    """A commission offered to the rank-1 agency of a draw that ran a day ago."""
    start = clock_ctx(app, session, -timedelta(days=2))
    case = make_case(session)
    asset = make_asset(session, case)
    agencies = [make_agency(session) for _ in range(6)]
    proc = services.open_procedure(session, actor=case.officer, asset_id=asset.id, method=Method.COMMISSIONED,
                                   ctx=start)
    d = services.schedule_draw(session, actor=case.officer, procedure_id=proc.id,
                               draw_at=start.now + timedelta(days=1, hours=1), ctx=start)
    assert services.run_due(session, clock_ctx(app, session, -timedelta(hours=22))) >= 1
    session.refresh(proc)
    session.refresh(d)
    by_id = {a.id: a for a in agencies}
    commission = next(c for c in proc.commissions if c.state == CommissionState.OFFERED)
    return {"case": case, "asset": asset, "proc": proc, "commission": commission,
            "ranked": [by_id[i] for i in d.ranking], "stranger": next(a for a in agencies if a.id not in d.ranking)}


def accept(app, session, world) -> Commission:
    c = world["commission"]
    services.answer_commission(session, actor=world["ranked"][0].user, commission_id=c.id, accept=True, reason="",
                               ctx=clock_ctx(app, session))
    return c


def submit(app, session, world, c) -> Valuation:
    agency = world["ranked"][0]
    today = app.extensions["clock"].now().date()
    return services.submit_valuation(session, actor=agency.user, commission_id=c.id, amount=Decimal("1850000"),
                                     effective_on=today - timedelta(days=1), valid_until=today + timedelta(days=300),
                                     appraiser_ids=[a.id for a in agency.appraisers], report=pdf_bytes(),
                                     ctx=clock_ctx(app, session))


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/appraisal/agency", "/appraisal/commissions/1", "/appraisal/commissions/1/letter",
                                  "/appraisal/inquiries/1", "/appraisal/agencies"])
def test_agency_pages_need_a_login(client, path):
    r = client.get(path)
    assert r.status_code == 302 and "/accounts/login" in r.headers["Location"]


def test_registration_and_agency_pages_are_public(client, session):
    agency = make_agency(session, name="公开评估事务所")
    assert client.get("/appraisal/agencies/register").status_code == 200
    page = client.get(f"/appraisal/agencies/{agency.id}")
    assert page.status_code == 200 and "公开评估事务所" in page.get_data(as_text=True)
    assert client.get("/appraisal/agencies/999999").status_code == 404


def test_other_roles_get_403_on_agency_pages(app, session, world):
    officer = world["case"].officer
    c = client_for(app, officer.username)
    assert c.get(f"/appraisal/commissions/{world['commission'].id}").status_code == 403
    assert c.get("/appraisal/agency").status_code == 403
    assert c.get("/appraisal/agencies").status_code == 403


# --- registration -------------------------------------------------------------------------------


def registration(**kw) -> dict:
    data = {"kind": "appraisal", "name": "芜湖信达房地产估价有限公司", "licence_number": "皖估备字第0123号",
            "specialties": ["real_estate", "land"], "regions": "340200，340000", "address": "芜湖市镜湖区中山路1号",
            "username": "xinda_pg", "email": "office@xinda.example", "phone": "13900000001",
            "password": "Gujia-2026pass", "password2": "Gujia-2026pass",
            "appraisers-0-name": "李估价", "appraisers-0-licence_number": "3420100012",
            "appraisers-1-name": "王估价", "appraisers-1-licence_number": "3420100013"}
    data.update(kw)
    return data


def test_an_agency_registers_through_the_form_and_sees_its_pending_status(client, session):
    r = post(client, "/appraisal/agencies/register", registration(), form_page="/appraisal/agencies/register",
             follow=True)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "芜湖信达房地产估价有限公司" in html and "Pending review" in html
    agency = session.scalar(select(Agency).where(Agency.name == "芜湖信达房地产估价有限公司"))
    assert agency.status == "pending" and agency.regions == ["340000", "340200"]
    assert agency.specialties == ["land", "real_estate"]
    assert sorted(a.licence_number for a in agency.appraisers) == ["3420100012", "3420100013"]
    assert agency.user.role == Role.AGENCY
    assert client.get("/appraisal/agency").status_code == 200  # logged in


def test_an_appraisal_agency_with_one_appraiser_is_refused(client, session):
    r = post(client, "/appraisal/agencies/register",
             registration(**{"appraisers-1-name": "", "appraisers-1-licence_number": ""}),
             form_page="/appraisal/agencies/register")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "at least two qualified appraisers" in html
    assert session.scalar(select(func.count()).select_from(Agency)) == 0
    assert session.scalar(select(User.id).where(User.username == "xinda_pg")) is None


def test_a_bad_region_code_is_explained(client, session):
    r = post(client, "/appraisal/agencies/register", registration(regions="340202"),
             form_page="/appraisal/agencies/register")
    assert "Regions are cities" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Agency)) == 0


def test_an_online_platform_registers_without_appraisers(client, session):
    data = registration(kind="online_platform", name="某网络询价平台", licence_number="ICP-0001",
                        **{"appraisers-0-name": "", "appraisers-0-licence_number": "",
                           "appraisers-1-name": "", "appraisers-1-licence_number": ""})
    r = post(client, "/appraisal/agencies/register", data, form_page="/appraisal/agencies/register")
    assert r.status_code == 302
    assert session.scalar(select(Agency).where(Agency.name == "某网络询价平台")).kind == "online_platform"


# --- the supervisor -----------------------------------------------------------------------------


def test_a_supervisor_approves_with_a_reason_and_it_shows_on_the_public_page(app, client, session):
    pending = make_agency(session, name="待审评估所", status="pending")
    make_agency(session, name="已入库评估所")
    make_user(session, Role.SUPERVISOR, username="sup")
    sup = client_for(app, "sup")
    listing = sup.get("/appraisal/agencies").get_data(as_text=True)
    assert listing.index("待审评估所") < listing.index("已入库评估所")  # pending first
    only_pending = sup.get("/appraisal/agencies?status=pending").get_data(as_text=True)
    assert "待审评估所" in only_pending and "已入库评估所" not in only_pending
    page = f"/appraisal/agencies/{pending.id}"
    r = post(sup, f"{page}/decide", {"action": "approved", "reason": ""}, form_page=page, follow=True)
    session.expire_all()
    html = r.get_data(as_text=True)
    assert "Reason (published" in html and "This field is required." in html
    assert pending.status == "pending"
    r = post(sup, f"{page}/decide", {"action": "approved", "reason": "资质材料齐全，经审核准予入库"}, form_page=page)
    assert r.status_code == 302
    public = client.get(page).get_data(as_text=True)  # anonymous
    assert "资质材料齐全，经审核准予入库" in public and "On the list" in public
    r = post(sup, f"{page}/decide", {"action": "reinstated", "reason": "x"}, form_page=page, follow=True)
    assert "not possible for an agency in its current status" in r.get_data(as_text=True)


def test_only_supervisors_decide(app, client, session, world):
    target = world["stranger"]
    url = f"/appraisal/agencies/{target.id}/decide"
    for username in (world["ranked"][0].user.username, world["case"].officer.username):
        c = client_for(app, username)
        assert post(c, url, {"action": "removed", "reason": "x"}, form_page="/").status_code == 403
    assert client.post(url, data={"action": "removed", "reason": "x"}).status_code in (302, 400)
    session.expire_all()
    assert target.status == "listed"


# --- the dashboard ------------------------------------------------------------------------------


def test_an_agency_adds_an_appraiser_and_declares_a_conflict_showing_only_four_characters(app, session):
    agency = make_agency(session)
    c = client_for(app, agency.user.username)
    r = post(c, "/appraisal/agency/appraisers", {"name": "赵估价", "licence_number": "3420109999"},
             form_page="/appraisal/agency", follow=True)
    assert "赵估价" in r.get_data(as_text=True)
    number = resident_id()
    r = post(c, "/appraisal/agency/conflicts", {"kind": "person", "id_number": number, "description": "本所股东"},
             form_page="/appraisal/agency", follow=True)
    html = r.get_data(as_text=True)
    assert "本所股东" in html and number[-4:] in html and number not in html
    r = post(c, "/appraisal/agency/conflicts", {"kind": "person", "id_number": "340202199001011234",
                                                "description": "x"}, form_page="/appraisal/agency")
    assert r.status_code == 200 and "error" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(AgencyConflict)
                          .where(AgencyConflict.agency_id == agency.id)) == 1


# --- a commission -------------------------------------------------------------------------------


def test_only_the_rank_one_agency_sees_its_commission(app, session, world):
    cid = world["commission"].id
    first = client_for(app, world["ranked"][0].user.username)
    dashboard = first.get("/appraisal/agency").get_data(as_text=True)
    assert TITLE in dashboard and f"/appraisal/commissions/{cid}" in dashboard
    page = first.get(f"/appraisal/commissions/{cid}")
    assert page.status_code == 200 and "Accept the commission" in page.get_data(as_text=True)
    with first.get(f"/appraisal/commissions/{cid}/letter") as letter:
        assert letter.status_code == 200 and letter.mimetype == "application/pdf" and letter.data[:5] == b"%PDF-"
    for other in (world["stranger"], world["ranked"][1]):
        c = client_for(app, other.user.username)
        assert c.get(f"/appraisal/commissions/{cid}").status_code == 404
        with c.get(f"/appraisal/commissions/{cid}/letter") as r:
            assert r.status_code == 404
        assert TITLE not in c.get("/appraisal/agency").get_data(as_text=True)
        r = post(c, f"/appraisal/commissions/{cid}/answer", {"decision": "decline", "reason": "x"},
                 form_page="/appraisal/agency")
        assert r.status_code == 404
    session.expire_all()
    assert world["commission"].state == CommissionState.OFFERED


def test_the_agency_accepts_asks_for_time_and_submits_its_report(app, session, world):
    c = world["commission"]
    agency = world["ranked"][0]
    page = f"/appraisal/commissions/{c.id}"
    web = client_for(app, agency.user.username)
    r = post(web, f"{page}/answer", {"decision": "accept"}, form_page=page, follow=True)
    session.expire_all()  # the pages wrote through their own sessions
    assert "Commission accepted" in r.get_data(as_text=True) and c.state == CommissionState.ACCEPTED

    r = post(web, f"{page}/extension", {"days": "16", "reason": "现场勘验受阻"}, form_page=page, follow=True)
    assert "at most 15 days" in r.get_data(as_text=True)
    r = post(web, f"{page}/extension", {"days": "10", "reason": "现场勘验受阻"}, form_page=page, follow=True)
    assert "Extension request sent" in r.get_data(as_text=True)
    assert [(e.days, e.decision) for e in session.scalars(select(ExtensionRequest))] == [(10, "pending")]

    today = app.extensions["clock"].now().date()
    report = {"amount": "1,850,000.00", "effective_on": str(today - timedelta(days=1)),
              "valid_until": str(today + timedelta(days=300)),
              "appraiser_ids": [str(a.id) for a in agency.appraisers]}
    r = post(web, f"{page}/valuation", {**report, "report": (io.BytesIO(b"MZ not a pdf"), "report.pdf")},
             form_page=page, multipart=True)
    assert r.status_code == 200 and "it is not a PDF document" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Valuation)) == 0
    r = post(web, f"{page}/valuation", {**report, "appraiser_ids": [str(agency.appraisers[0].id)],
                                        "report": (io.BytesIO(pdf_bytes()), "report.pdf")},
             form_page=page, multipart=True)
    assert "two qualified appraisers" in r.get_data(as_text=True)
    r = post(web, f"{page}/valuation", {**report, "report": (io.BytesIO(pdf_bytes()), "评估报告.pdf")},
             form_page=page, multipart=True, follow=True)
    assert "Report submitted" in r.get_data(as_text=True)
    v = session.scalars(select(Valuation).where(Valuation.commission_id == c.id)).one()
    assert v.amount == Decimal("1850000.00") and sorted(v.appraiser_ids) == sorted(a.id for a in agency.appraisers)
    session.expire_all()
    assert c.state == CommissionState.REPORTED and world["proc"].state == ProcedureState.REPORT_REVIEW
    with web.get(f"{page}/reports/{v.id}") as got:
        assert got.mimetype == "application/pdf" and got.data == pdf_bytes()


def test_declining_needs_a_reason_which_is_published_and_the_next_rank_is_asked(app, client, session, world):
    c = world["commission"]
    first, second = world["ranked"][0], world["ranked"][1]
    page = f"/appraisal/commissions/{c.id}"
    web = client_for(app, first.user.username)
    r = post(web, f"{page}/answer", {"decision": "decline", "reason": " "}, form_page=page, follow=True)
    assert "Give the reason for declining" in r.get_data(as_text=True) and c.state == CommissionState.OFFERED
    r = post(web, f"{page}/answer", {"decision": "decline", "reason": "本所近期承接业务饱和"}, form_page=page, follow=True)
    session.expire_all()
    assert "Commission declined" in r.get_data(as_text=True) and c.state == CommissionState.DECLINED
    assert "本所近期承接业务饱和" in client.get(f"/appraisal/agencies/{first.id}").get_data(as_text=True)
    nxt = session.scalars(select(Commission).where(Commission.procedure_id == world["proc"].id,
                                                   Commission.state == CommissionState.OFFERED)).one()
    assert nxt.agency_id == second.id and nxt.rank == 2
    dashboard = client_for(app, second.user.username).get("/appraisal/agency").get_data(as_text=True)
    assert f"/appraisal/commissions/{nxt.id}" in dashboard


def test_the_officers_correction_note_is_shown_and_the_report_resubmitted(app, session, world):
    c = accept(app, session, world)
    v = submit(app, session, world, c)
    services.review_valuation(session, actor=world["case"].officer, valuation_id=v.id, accept=False,
                              note="签字评估师与备案信息不一致", ctx=clock_ctx(app, session))
    agency = world["ranked"][0]
    page = f"/appraisal/commissions/{c.id}"
    web = client_for(app, agency.user.username)
    html = web.get(page).get_data(as_text=True)
    assert "签字评估师与备案信息不一致" in html and "Submit the corrected report" in html
    today = app.extensions["clock"].now().date()
    r = post(web, f"{page}/valuation", {
        "amount": "1800000", "effective_on": str(today), "valid_until": str(today + timedelta(days=200)),
        "appraiser_ids": [str(a.id) for a in agency.appraisers], "report": (io.BytesIO(pdf_bytes()), "r.pdf")},
        form_page=page, multipart=True)
    assert r.status_code == 302
    session.expire_all()
    assert [x.status for x in c.valuations] == ["superseded", "submitted"]


def test_the_agency_answers_a_forwarded_objection(app, session, world):
    c = accept(app, session, world)
    v = submit(app, session, world, c)
    officer = world["case"].officer
    services.review_valuation(session, actor=officer, valuation_id=v.id, accept=True, note="", ctx=clock_ctx(app, session))
    debtor = next(p for p in world["case"].parties if p.role == PartyRole.DEBTOR)
    debtor_user = make_user(session, Role.PARTY, username="debtor_wang")
    debtor.user_id = debtor_user.id
    session.flush()
    o = services.file_objection(session, actor=debtor_user, procedure_id=world["proc"].id, kind=ObjectionKind.TECHNICAL,
                                grounds="评估方法选择不当，未考虑学区因素", ctx=clock_ctx(app, session))
    services.forward_objection(session, actor=officer, objection_id=o.id, ctx=clock_ctx(app, session))
    web = client_for(app, world["ranked"][0].user.username)
    page = f"/appraisal/commissions/{c.id}"
    dashboard = web.get("/appraisal/agency").get_data(as_text=True)
    assert "Objections waiting for your explanation" in dashboard and f"#objection-{o.id}" in dashboard
    assert "评估方法选择不当" in web.get(page).get_data(as_text=True)
    stranger = client_for(app, world["stranger"].user.username)
    assert post(stranger, f"/appraisal/objections/{o.id}/answer", {"answer": "x"},
                form_page="/appraisal/agency").status_code == 404
    r = post(web, f"/appraisal/objections/{o.id}/answer", {"answer": "已采用市场比较法并考虑学区"}, form_page=page,
             follow=True)
    session.expire_all()
    assert "已采用市场比较法并考虑学区" in r.get_data(as_text=True) and o.state == "answered"


# --- inquiries ----------------------------------------------------------------------------------


def test_a_platform_submits_its_result_and_another_asks_for_time(app, session):
    case = make_case(session)
    asset = make_asset(session, case)
    platforms = [make_agency(session, kind="online_platform", appraisers=0) for _ in range(2)]
    outsider = make_agency(session, kind="online_platform", appraisers=0, status="pending")
    proc = services.open_procedure(session, actor=case.officer, asset_id=asset.id, method=Method.ONLINE_INQUIRY,
                                   ctx=clock_ctx(app, session))
    page = f"/appraisal/inquiries/{proc.id}"
    assert client_for(app, outsider.user.username).get(page).status_code == 404

    one = client_for(app, platforms[0].user.username)
    assert page in one.get("/appraisal/agency").get_data(as_text=True)
    r = post(one, f"{page}/result", {"amount": "abc"}, form_page=page, multipart=True)
    assert "not an amount" in r.get_data(as_text=True)
    r = post(one, f"{page}/result", {"amount": "1000000", "report": (io.BytesIO(b"fake"), "r.pdf")},
             form_page=page, multipart=True)
    assert "it is not a PDF document" in r.get_data(as_text=True)
    r = post(one, f"{page}/result", {"amount": "1,000,000", "report": (io.BytesIO(pdf_bytes()), "r.pdf")},
             form_page=page, multipart=True, follow=True)
    assert "Result submitted" in r.get_data(as_text=True) and "¥1,000,000.00" in r.get_data(as_text=True)

    two = client_for(app, platforms[1].user.username)
    r = post(two, f"{page}/extension", {}, form_page=page, follow=True)
    assert "Extension requested" in r.get_data(as_text=True)
    session.expire_all()
    sub = next(s for s in proc.submissions if s.agency_id == platforms[1].id)
    assert sub.extension_requested_at is not None
    r = post(two, f"{page}/extension", {}, form_page=page, follow=True)  # button gone, a replay changes nothing
    assert r.status_code == 200


def test_appraisers_registered_with_the_agency_are_listed_publicly(client, session):
    agency = make_agency(session)
    html = client.get(f"/appraisal/agencies/{agency.id}").get_data(as_text=True)
    for a in session.scalars(select(Appraiser).where(Appraiser.agency_id == agency.id)):
        assert a.name in html and a.licence_number in html
