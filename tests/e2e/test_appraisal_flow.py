"""A commissioned appraisal from start to final reference price, in real browsers, on a simulated
clock with the platform's scheduler running in the server's process (``clocked_live_server``).

The officer opens the procedure (委托评估) and schedules the public draw; the debtor commits to a
secret generated in its browser and reveals it; the clock jumps past the draw time and the
scheduler draws; anyone downloads the draw record and checks it with the verifier; the agency
ranked first accepts and submits its report; the officer serves it; the debtor objects, the
officer forwards the objection, the agency answers, the officer dismisses it; ten days later
the report is the reference price.

Pages are driven through form field names, ids, URLs and roles, not visible text (the strings
may be English or Chinese). Screenshots of every step land in test-artifacts/e2e/<test name>/.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from accounts.models import User
from appraisal.draw import contribution_commitment, verify_record
from appraisal.models import Procedure
from appraisal.rules import ProcedureState
from cases import services as case_services
from cases.rules import AssetCategory, PartyKind, PartyRole, local_today
from tests.factories import PASSWORD as AGENCY_PASSWORD
from tests.factories import make_agency, pdf_bytes, resident_id, uscc

pytestmark = pytest.mark.e2e

PARTY_PASSWORD = "Dangshiren-2026pass"
AMOUNT = "1850000.00"
AGENCIES = [
    ("pg_zhongxin", "安徽中信房地产评估有限公司", "皖房估字2019-018"),
    ("pg_jiangcheng", "芜湖江城资产评估事务所", "皖资评2015-033"),
    ("pg_zhenghe", "安徽正和房地产土地评估有限公司", "皖房估字2017-102"),
    ("pg_huaheng", "芜湖华衡资产评估有限公司", "皖资评2018-071"),
    ("pg_guoxin", "安徽国信房地产估价有限公司", "皖房估字2016-055"),
    ("pg_zhongcheng", "芜湖中诚不动产评估有限公司", "皖房估字2020-009"),
]
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class World:
    case_number: str
    asset_id: int
    asset_title: str
    applicant_username: str
    debtor_username: str
    #: agency id → login user name (every agency's password is ``tests.factories.PASSWORD``)
    agency_logins: dict[int, str]


@pytest.fixture
def world(clocked_live_server) -> World:
    """A case of 皖02 with an applicant and a debtor who both joined through the officer's
    invitation, a seized house in 镜湖区 (340202), and six listed real-estate agencies of 芜湖
    (340200), each with a login and two appraisers; all committed in the live server's database."""
    server = clocked_live_server
    app = server.app
    vault = app.extensions["identity_vault"]
    now = server.now()
    session = server.session()
    try:
        officer = session.scalar(select(User).where(User.username == server.officer_username))
        case = case_services.create_case(
            session, actor=officer, number=f"（2026）{server.court_code}执618号",
            basis="（2025）皖0202民初789号民事判决书", filed_on=date(2026, 3, 2),
            claim_amount=Decimal("1620000.00"), vault=vault, now=now, parties=[
                case_services.PartyInput(role=PartyRole.APPLICANT, kind=PartyKind.ENTERPRISE,
                                         name="芜湖江城农村商业银行股份有限公司", id_number=uscc(),
                                         legal_representative="陈国华"),
                case_services.PartyInput(role=PartyRole.DEBTOR, kind=PartyKind.PERSON, name="王建国",
                                         id_number=resident_id(birth="19750608", serial=618),
                                         phone="13900000002"),
            ])
        asset = case_services.add_asset(session, actor=officer, case_id=case.id, now=now, asset=case_services.AssetInput(
            category=AssetCategory.REAL_ESTATE, title="芜湖市镜湖区春江花园3栋502室", region_code="340202",
            location="安徽省芜湖市镜湖区北京东路88号春江花园3栋502室", seized_on=local_today(now) - timedelta(days=20),
            description="住宅，建筑面积89.5平方米，2010年建成。"))
        logins = {}
        for party in case.parties:
            token = case_services.invite_party(session, actor=officer, party_id=party.id, now=now, base_url=server.url)
            username = f"party_{party.role}"
            case_services.accept_invitation(session, token=token, username=username, password=PARTY_PASSWORD, now=now)
            logins[party.role] = username
        agencies = {}
        for i, (username, name, licence) in enumerate(AGENCIES, 1):
            a = make_agency(session, name=name, username=username, regions=("340200",),
                            specialties=("real_estate", "assets"))
            a.licence_number, a.user.display_name = licence, name
            for appraiser, who in zip(a.appraisers, ("张敏", "刘涛"), strict=True):
                appraiser.name, appraiser.licence_number = f"{who}{i}", f"34{i:02d}{appraiser.id:04d}"
            agencies[a.id] = username
        session.commit()
        return World(case_number=case.number, asset_id=asset.id, asset_title=asset.title,
                     applicant_username=logins[PartyRole.APPLICANT], debtor_username=logins[PartyRole.DEBTOR],
                     agency_logins=agencies)
    finally:
        session.close()


def log_in(page, server, username: str, password: str) -> None:
    page.goto(server.url + "/accounts/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("main form.stacked button[type=submit]").click()
    expect(page.locator(".flash-success")).to_have_count(1)
    expect(page.locator(".nav .who")).to_be_visible()


def submit(form) -> None:
    form.locator("button[type=submit]").first.click()


def expect_flash_success(page) -> None:
    """The last action succeeded: a success flash and no error flash."""
    expect(page.locator(".flash-success").first).to_be_visible()
    expect(page.locator(".flash-error")).to_have_count(0)


def advance_clock(page, server, duration: str) -> None:
    """Move the platform's simulated clock through the administrators' API (bearer token)."""
    before = server.now()
    response = page.request.post(server.url + "/api/v1/admin/clock", data={"advance": duration},
                                 headers={"Authorization": f"Bearer {server.admin_token}"})
    assert response.ok, f"{response.status} {response.text()}"
    body = response.json()
    assert body["mode"] == "simulated"
    assert server.now() - before >= timedelta(hours=1)


def reload_until(page, selector: str, *, seconds: float = 10.0) -> None:
    """Reload ``page`` until ``selector`` is on it (the scheduler works in the background)."""
    deadline = time.monotonic() + seconds
    while True:
        if page.locator(selector).count():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} did not appear on {page.url} within {seconds} s")
        time.sleep(0.3)
        page.reload()


def test_a_commissioned_appraisal_from_the_draw_to_the_final_reference_price(
        page, new_page, shot, clocked_live_server, world, tmp_path):
    server = clocked_live_server
    report_pdf = tmp_path / "评估报告.pdf"
    report_pdf.write_bytes(pdf_bytes())

    # --- The officer opens the procedure (委托评估) from the asset's page and schedules the draw.
    officer = page
    log_in(officer, server, server.officer_username, server.officer_password)
    officer.goto(f"{server.url}/cases/assets/{world.asset_id}")
    officer.locator(f"main a[href='/appraisal/assets/{world.asset_id}/open']").first.click()
    expect(officer).to_have_url(re.compile(rf"/appraisal/assets/{world.asset_id}/open$"))
    officer.locator("input[name=method][value=commissioned]").check()
    shot(officer, "officer-open-procedure")
    submit(officer.locator("main form.stacked"))
    expect(officer).to_have_url(re.compile(r"/appraisal/procedures/\d+$"))
    expect_flash_success(officer)
    proc_url = officer.url
    proc_id = int(proc_url.rsplit("/", 1)[1])
    expect(officer.locator(".page-head .badge")).to_have_class(re.compile(r"\bstate-agency_selection\b"))

    draw_form = officer.locator("form[action$='/draws']")
    default_at = draw_form.locator("#draw_at").input_value()  # tomorrow + 1 hour, Beijing time
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", default_at), default_at
    submit(draw_form)
    expect_flash_success(officer)
    draw_link = officer.locator("#agencies a[href*='/appraisal/draws/']")
    expect(draw_link).to_have_count(1)
    draw_path = draw_link.get_attribute("href")
    draw_id = int(draw_path.rsplit("/", 1)[1])
    expect(officer.locator("form[action$='/draws']")).to_have_count(0)  # one draw at a time
    shot(officer, "officer-draw-scheduled")

    # --- The debtor commits to a secret made in the browser, then reveals it.
    debtor = new_page()
    log_in(debtor, server, world.debtor_username, PARTY_PASSWORD)
    debtor.goto(proc_url)
    debtor.locator(f"#agencies a[href='{draw_path}']").click()
    expect(debtor).to_have_url(re.compile(rf"/appraisal/draws/{draw_id}$"))
    expect(debtor.locator("#countdown")).to_be_visible()
    expect(debtor.locator("#generate-box")).to_be_visible()  # crypto.subtle works on 127.0.0.1
    debtor.locator("#generate").click()
    expect(debtor.locator("#commitment")).to_have_value(HEX64)
    secret = debtor.locator("#secret-shown").input_value()
    commitment = debtor.locator("#commitment").input_value()
    assert re.fullmatch(r"[0-9a-f]{32}", secret), secret
    assert commitment == contribution_commitment(draw_id, secret), "the browser's commitment differs"
    shot(debtor, "debtor-secret-generated")
    submit(debtor.locator("form[action$='/commit']"))
    expect_flash_success(debtor)
    reveal_box = debtor.locator("form[action$='/reveal'] input[name=secret]")
    expect(reveal_box).to_have_value(secret)  # kept by this browser for the reveal
    expect(debtor.locator("#commitments tbody")).to_contain_text(commitment)
    shot(debtor, "debtor-committed")
    submit(debtor.locator("form[action$='/reveal']"))
    expect_flash_success(debtor)
    expect(debtor.locator("#revealed")).to_be_visible()
    expect(debtor.locator("#commitments tbody")).to_contain_text(secret)
    shot(debtor, "debtor-revealed")

    # --- Time travel past the draw time: the scheduler draws.
    advance_clock(debtor, server, "1d2h")
    reload_until(debtor, "#result")
    expect(debtor.locator("#result .ranking li")).to_have_count(3)
    expect(debtor.locator("#countdown")).to_have_count(0)
    shot(debtor, "debtor-draw-result")

    # --- Anyone (not logged in) downloads the record and checks it; the page ranks 3 agencies.
    public = new_page()
    public.goto(server.url + draw_path)
    ranks = public.locator("#result .ranking li")
    expect(ranks).to_have_count(3)
    with public.expect_download() as download:
        public.locator(f"#verify a[href$='/draws/{draw_id}.json']").click()
    assert download.value.suggested_filename == f"draw-{draw_id}.json"
    record = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert verify_record(record) == []
    assert record["draw_id"] == draw_id and record["asset"] == world.asset_title
    assert len(record["pool"]) == 6 and len(record["ranking"]) == 3
    assert record["contributions"] == [{"by": "debtor", "commitment": commitment, "secret": secret}]
    names = {a["id"]: a["name"] for a in record["pool"]}
    for i, agency_id in enumerate(record["ranking"]):
        expect(ranks.nth(i)).to_contain_text(names[agency_id])
        expect(ranks.nth(i)).to_contain_text(f"#{agency_id}")
    shot(public, "public-draw-drawn")

    # --- The agency ranked first sees the commission on its dashboard and accepts it.
    first = record["ranking"][0]
    agency = new_page()
    log_in(agency, server, world.agency_logins[first], AGENCY_PASSWORD)
    agency.goto(server.url + "/appraisal/agency")
    commission_link = agency.locator("#commissions tbody a[href*='/appraisal/commissions/']")
    expect(commission_link).to_have_count(1)
    expect(agency.locator("#commissions tbody tr").first).to_contain_text(world.case_number)
    shot(agency, "agency-dashboard-offered")
    commission_link.click()
    expect(agency).to_have_url(re.compile(r"/appraisal/commissions/\d+$"))
    commission_url = agency.url
    expect(agency.locator("#answer")).to_be_visible()
    shot(agency, "agency-commission-offered")
    agency.locator("#answer button[name=decision][value=accept]").click()
    expect_flash_success(agency)
    expect(agency.locator("#answer")).to_have_count(0)

    # ... and submits the report: value, dates, both appraisers, the PDF.
    today = local_today(server.now())
    effective_on, valid_until = today - timedelta(days=2), today + timedelta(days=300)
    form = agency.locator("form[action$='/valuation']")
    form.locator("#amount").fill(AMOUNT)
    form.locator("#effective_on").fill(effective_on.isoformat())
    form.locator("#valid_until").fill(valid_until.isoformat())
    signers = form.locator("input[name=appraiser_ids]")
    expect(signers).to_have_count(2)
    for i in range(2):
        signers.nth(i).check()
    form.locator("#report").set_input_files(report_pdf)
    shot(agency, "agency-report-filled")
    submit(form)
    expect_flash_success(agency)
    expect(agency.locator("#report tbody tr")).to_have_count(1)
    expect(agency.locator("#report tbody tr")).to_contain_text("¥1,850,000.00")
    expect(agency.locator("form[action$='/valuation']")).to_have_count(0)
    shot(agency, "agency-report-submitted")

    # --- The officer reviews the report and serves it on the parties.
    officer.goto(proc_url)
    review = officer.locator("#valuations form[action*='/review']")
    expect(review).to_have_count(1)
    review.locator("input[name=decision][value=accept]").check()
    submit(review)
    expect_flash_success(officer)
    expect(officer.locator(".page-head .badge")).to_have_class(re.compile(r"\bstate-served\b"))
    shot(officer, "officer-report-served")

    # --- The debtor files a technical objection on the procedure page.
    debtor.goto(proc_url)
    objection = debtor.locator("form[action$='/objections']")
    expect(objection).to_be_visible()
    objection.locator("input[name=kind][value=technical]").check()
    objection.locator("#grounds").fill("评估未考虑房屋漏水及学区调整等因素，评估价明显偏高。")
    shot(debtor, "debtor-objection-filled")
    submit(objection)
    expect_flash_success(debtor)
    expect(debtor.locator("#objections article.objection")).to_have_count(1)
    expect(debtor.locator(".page-head .badge")).to_have_class(re.compile(r"\bstate-objection\b"))

    # --- The officer forwards it to the agency; the agency answers; the officer dismisses it.
    officer.goto(proc_url)
    submit(officer.locator("#objections form[action$='/forward']"))
    expect_flash_success(officer)
    expect(officer.locator("#objections form[action$='/forward']")).to_have_count(0)

    agency.goto(commission_url)
    answer = agency.locator("#objections form[action*='/objections/']")
    expect(answer).to_have_count(1)
    answer.locator("textarea[name=answer]").fill("估价时已对房屋现状及学区情况进行实地查勘，并在报告第5节作了修正。")
    shot(agency, "agency-objection-answer")
    submit(answer)
    expect_flash_success(agency)
    expect(agency.locator("#objections form")).to_have_count(0)

    officer.goto(proc_url)
    decide = officer.locator("#objections form[action$='/decide']")
    expect(decide).to_have_count(1)
    decide.locator("input[type=radio][value=dismiss]").check()
    decide.locator("textarea[name$='-note']").fill("评估机构已书面说明，异议理由不成立。")
    submit(decide)
    expect_flash_success(officer)
    expect(officer.locator("#objections article.objection")).to_contain_text("异议理由不成立")
    expect(officer.locator("#objections form")).to_have_count(0)
    expect(officer.locator(".page-head .badge")).to_have_class(re.compile(r"\bstate-served\b"))
    shot(officer, "officer-objection-dismissed")

    # --- Ten days on, the objection window has closed: the report is the reference price. (The
    # window is 5 days, longer when it would end on a holiday (F01): then the jump is longer.)
    closes = datetime.fromisoformat(officer.locator("#status dd strong time").get_attribute("datetime"))
    days = max(10, -(-(closes - server.now()) // timedelta(days=1)))
    advance_clock(officer, server, f"{days}d")
    reload_until(officer, "#price")
    expect(officer.locator(".page-head .badge")).to_have_class(re.compile(r"\bstate-final\b"))
    expect(officer.locator("#price .amount")).to_have_text("¥1,850,000.00")
    expect(officer.locator("#price .facts")).to_contain_text(valid_until.isoformat())
    shot(officer, "officer-final-price")

    debtor.goto(proc_url)
    expect(debtor.locator("#price .amount")).to_have_text("¥1,850,000.00")
    expect(debtor.locator("form[action$='/objections']")).to_have_count(0)
    shot(debtor, "debtor-final-price")

    session = server.session()
    try:
        proc = session.get(Procedure, proc_id)
        assert proc.state == ProcedureState.FINAL
        assert proc.reference_price == Decimal(AMOUNT) and proc.valid_until == valid_until
        assert proc.commissions[0].agency_id == first and proc.commissions[0].state == "completed"
    finally:
        session.close()
