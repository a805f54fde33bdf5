"""The appraisal JSON API v1 through the test client, against a real database.

Time moves the way it does in a deployment: the simulated platform clock is advanced and the
scheduler's work (``services.run_due``) runs with a context at the new time.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from accounts.services import issue_api_token
from appraisal import agencies, services
from appraisal.context import context_for
from appraisal.draw import verify_record
from appraisal.models import Draw, Objection, Procedure
from cases.models import Asset
from cases.rules import AssetStage, PartyRole, local_today
from core.clock import advance_clock
from tests.factories import VAULT, make_agency, make_asset, make_case, make_officer, make_user, pdf_bytes

BEIJING = timezone(timedelta(hours=8))


@pytest.fixture
def app(app_factory):
    """A simulated clock, so that the API's time and the scheduler's can move together."""
    return app_factory(CLOCK="simulated")


@pytest.fixture
def api(app):
    """The test client, with the appraisal API registered if ``appraisal.init_app`` does not do it yet."""
    if "appraisal_api" not in app.blueprints:
        from appraisal import api as appraisal_api
        from core.api import register_paths

        app.register_blueprint(appraisal_api.bp)
        app.extensions["csrf"].exempt(appraisal_api.bp)
        register_paths(app, appraisal_api.OPENAPI_PATHS)
    return app.test_client()


@pytest.fixture
def world(session, now):
    """A case with its two parties (each with a login), a flat of it, six listed agencies."""
    case = make_case(session)
    asset = make_asset(session, case)  # real estate in 340202 (city 340200)
    agency_list = [make_agency(session) for _ in range(6)]
    parties = {}
    for p in case.parties:
        user = make_user(session, Role.PARTY, username=f"party_{p.role}_{p.id}")
        p.user_id = user.id
        parties[p.role] = user
    session.flush()
    return {"case": case, "asset": asset, "officer": case.officer, "agencies": agency_list, "parties": parties,
            "party_ids": {p.role: p.id for p in case.parties}}


class Caller:
    """The test client as one user, recording every response body (for the identity check)."""

    def __init__(self, client, headers: dict, seen: list[str]):
        self.client, self.headers, self.seen = client, headers, seen

    def get(self, path, **kw):
        return self._record(self.client.get(path, headers=self.headers, **kw))

    def post(self, path, **kw):
        return self._record(self.client.post(path, headers=self.headers, **kw))

    def _record(self, response):
        self.seen.append(response.get_data(as_text=True))
        return response


@pytest.fixture
def as_user(api, session, now):
    """``as_user(user)``: a :class:`Caller` with a fresh bearer token; ``as_user.seen`` holds every body."""
    seen: list[str] = []

    def make(user) -> Caller:
        token = issue_api_token(session, user=user, name="test", now=now)
        return Caller(api, {"Authorization": f"Bearer {token}"}, seen)

    make.seen = seen
    make.public = Caller(api, {}, seen)
    return make


def platform_now(app):
    return app.extensions["clock"].now()


def advance(app, session, delta: timedelta) -> int:
    """Move the platform clock forward and run the scheduler's due work at the new time."""
    advance_clock(session, app.extensions["clock"], delta=delta, actor="test")
    return services.run_due(session, context_for(app, session, platform_now(app)))


def advance_past(app, session, instant: str) -> int:
    """Move the platform clock just past ``instant`` (a time from a response) and run due work.
    Windows end on working days (F01), so how far that is depends on today's weekday."""
    return advance(app, session, datetime.fromisoformat(instant) + timedelta(minutes=1) - platform_now(app))


def assert_no_identity_numbers(texts: list[str], case) -> None:
    for p in case.parties:
        number = VAULT.reveal(p.id_number_encrypted)
        for text in texts:
            assert number not in text and number[:-4] not in text and p.id_number_hmac not in text


def open_commissioned(as_user, world) -> int:
    r = as_user(world["officer"]).post(f"/api/v1/assets/{world['asset'].id}/procedures", json={"method": "commissioned"})
    assert r.status_code == 201, r.json
    return r.json["id"]


def draw_at(app, delta=timedelta(days=1, hours=1)) -> str:
    return (platform_now(app) + delta).astimezone(BEIJING).isoformat()


def drawn(app, session, as_user, world):
    """A commissioned procedure whose draw has run: (procedure id, draw record)."""
    proc_id = open_commissioned(as_user, world)
    r = as_user(world["officer"]).post(f"/api/v1/procedures/{proc_id}/draws", json={"draw_at": draw_at(app)})
    assert r.status_code == 201, r.json
    assert advance(app, session, timedelta(days=1, hours=2)) >= 1
    return proc_id, as_user.public.get(f"/api/v1/draws/{r.json['draw_id']}").json


def agency_by_id(world, agency_id):
    return next(a for a in world["agencies"] if a.id == agency_id)


def report_body(app, agency, **overrides) -> dict:
    today = local_today(platform_now(app))
    return {"amount": "1850000.00", "effective_on": (today - timedelta(days=1)).isoformat(),
            "valid_until": (today + timedelta(days=300)).isoformat(),
            "appraiser_ids": [a.id for a in agency.appraisers],
            "report_pdf_base64": base64.b64encode(pdf_bytes()).decode(), **overrides}


# --- the whole commissioned procedure ----------------------------------------------------------


def test_the_commissioned_procedure_runs_end_to_end_through_the_api(app, session, as_user, world):
    officer = as_user(world["officer"])
    debtor = as_user(world["parties"][PartyRole.DEBTOR])

    opened = officer.post(f"/api/v1/assets/{world['asset'].id}/procedures", json={"method": "commissioned"})
    assert opened.status_code == 201
    proc_id = opened.json["id"]
    assert opened.headers["Location"].endswith(f"/api/v1/procedures/{proc_id}")
    assert (opened.json["method"], opened.json["state"]) == ("commissioned", "agency_selection")

    scheduled = officer.post(f"/api/v1/procedures/{proc_id}/draws", json={"draw_at": draw_at(app)})
    assert scheduled.status_code == 201 and scheduled.json["seed"] is None
    draw_id = scheduled.json["draw_id"]
    before = as_user.public.get(f"/api/v1/draws/{draw_id}").json
    assert before["seed"] is None and before["ranking"] is None and len(before["pool"]) == 6
    assert verify_record(before) == ["the seed has not been revealed"]

    assert advance(app, session, timedelta(days=1, hours=2)) >= 1
    record = as_user.public.get(f"/api/v1/draws/{draw_id}").json
    assert record["seed"] and verify_record(record) == []
    assert record["seed_commitment"] == before["seed_commitment"]

    first = agency_by_id(world, record["ranking"][0])
    agency = as_user(first.user)
    listed = agency.get("/api/v1/commissions").json["commissions"]
    assert [(c["rank"], c["state"], c["agency"]["id"]) for c in listed] == [(1, "offered", first.id)]
    assert listed[0]["asset"]["title"] == world["asset"].title
    commission_id = listed[0]["id"]

    accepted = agency.post(f"/api/v1/commissions/{commission_id}/answer", json={"accept": True})
    assert accepted.status_code == 200 and accepted.json["state"] == "accepted" and accepted.json["report_due_at"]
    assert agency.post(f"/api/v1/commissions/{commission_id}/answer", json={"accept": True}).status_code == 409

    report = report_body(app, first)
    submitted = agency.post(f"/api/v1/commissions/{commission_id}/valuations", json=report)
    assert submitted.status_code == 201, submitted.json
    assert submitted.json["status"] == "submitted" and submitted.json["amount"] == "1850000.00"
    assert submitted.json["report_sha256"] == hashlib.sha256(pdf_bytes()).hexdigest()
    valuation_id = submitted.json["id"]
    assert debtor.get(f"/api/v1/procedures/{proc_id}").json["valuations"] == []  # not served yet

    reviewed = officer.post(f"/api/v1/valuations/{valuation_id}/review", json={"accept": True, "note": "符合要求"})
    assert reviewed.status_code == 200 and reviewed.json["status"] == "accepted" and reviewed.json["served_at"]
    assert [v["id"] for v in debtor.get(f"/api/v1/procedures/{proc_id}").json["valuations"]] == [valuation_id]

    objected = debtor.post(f"/api/v1/procedures/{proc_id}/objections",
                           json={"kind": "technical", "grounds": "评估方法选择不当，未考虑学区因素"})
    assert objected.status_code == 201, objected.json
    assert (objected.json["by"], objected.json["state"]) == ("debtor", "filed")
    objection_id = objected.json["id"]
    assert agency.get(f"/api/v1/procedures/{proc_id}").json["objections"] == []  # not forwarded yet

    assert officer.post(f"/api/v1/objections/{objection_id}/forward").json["state"] == "forwarded"
    answered = agency.post(f"/api/v1/objections/{objection_id}/answer", json={"answer": "已采用市场比较法并考虑学区"})
    assert answered.status_code == 200 and answered.json["state"] == "answered"
    decided = officer.post(f"/api/v1/objections/{objection_id}/decision", json={"uphold": False, "note": "异议理由不成立"})
    assert decided.status_code == 200 and decided.json["state"] == "dismissed"
    assert officer.get(f"/api/v1/procedures/{proc_id}").json["state"] == "served"

    advance_past(app, session, reviewed.json["objections_close_at"])  # the 5-day window (E37/E38)
    final = officer.get(f"/api/v1/procedures/{proc_id}").json
    assert (final["state"], final["reference_price"]) == ("final", "1850000.00")
    assert final["valid_until"] == report["valid_until"]
    assert final["commissions"][0]["state"] == "completed"
    assert session.get(Asset, world["asset"].id).stage == AssetStage.PRICED
    seen_by_party = debtor.get(f"/api/v1/procedures/{proc_id}").json
    assert [o["by"] for o in seen_by_party["objections"]] == ["debtor"] and seen_by_party["submissions"] == []

    assert_no_identity_numbers(as_user.seen, world["case"])


def test_another_agency_never_sees_a_commission(app, session, as_user, world):
    proc_id, record = drawn(app, session, as_user, world)
    stranger = as_user(next(a for a in world["agencies"] if a.id not in record["ranking"]).user)
    commission_id = as_user(agency_by_id(world, record["ranking"][0]).user).get(
        "/api/v1/commissions").json["commissions"][0]["id"]
    assert stranger.get("/api/v1/commissions").json == {"commissions": []}
    assert stranger.get(f"/api/v1/procedures/{proc_id}").status_code == 404
    for path, body in ((f"/api/v1/commissions/{commission_id}/answer", {"accept": True}),
                       (f"/api/v1/commissions/{commission_id}/extensions", {"days": 10, "reason": "x"}),
                       (f"/api/v1/commissions/{commission_id}/valuations", report_body(app, world["agencies"][0]))):
        r = stranger.post(path, json=body)
        assert r.status_code == 404 and r.json["error"]["code"] == 404
    second = as_user(agency_by_id(world, record["ranking"][1]).user)
    assert second.get(f"/api/v1/procedures/{proc_id}").status_code == 404  # not offered anything yet


def test_an_agency_sees_only_its_own_commission_in_the_procedure(app, session, as_user, world):
    proc_id, record = drawn(app, session, as_user, world)
    first = as_user(agency_by_id(world, record["ranking"][0]).user)
    commission_id = first.get("/api/v1/commissions").json["commissions"][0]["id"]
    assert first.post(f"/api/v1/commissions/{commission_id}/answer",
                      json={"accept": False, "reason": "本所近期承接业务饱和"}).json["state"] == "declined"
    officer_view = as_user(world["officer"]).get(f"/api/v1/procedures/{proc_id}").json
    assert [(c["rank"], c["state"]) for c in officer_view["commissions"]] == [(1, "declined"), (2, "offered")]
    assert officer_view["commissions"][0]["decline_reason"] == "本所近期承接业务饱和"
    second_view = as_user(agency_by_id(world, record["ranking"][1]).user).get(f"/api/v1/procedures/{proc_id}").json
    assert [c["rank"] for c in second_view["commissions"]] == [2]
    assert [c["rank"] for c in first.get(f"/api/v1/procedures/{proc_id}").json["commissions"]] == [1]


def test_a_decline_needs_a_reason_and_a_late_answer_is_refused(app, session, as_user, world):
    proc_id, record = drawn(app, session, as_user, world)
    first = as_user(agency_by_id(world, record["ranking"][0]).user)
    offered = first.get("/api/v1/commissions?state=offered").json["commissions"][0]
    commission_id = offered["id"]
    r = first.post(f"/api/v1/commissions/{commission_id}/answer", json={"accept": False, "reason": "  "})
    assert r.status_code == 409 and r.json["error"]["message"]
    assert first.get("/api/v1/commissions?state=offered").json["commissions"][0]["id"] == commission_id
    advance_past(app, session, offered["answer_due_at"])  # silence is a decline (decision 14)
    r = first.post(f"/api/v1/commissions/{commission_id}/answer", json={"accept": True})
    assert r.status_code == 409
    assert first.get("/api/v1/commissions?state=declined").json["commissions"][0]["id"] == commission_id


def test_an_extension_is_requested_and_granted(app, session, as_user, world):
    proc_id, record = drawn(app, session, as_user, world)
    first = as_user(agency_by_id(world, record["ranking"][0]).user)
    commission_id = first.get("/api/v1/commissions").json["commissions"][0]["id"]
    due = first.post(f"/api/v1/commissions/{commission_id}/answer", json={"accept": True}).json["report_due_at"]
    assert first.post(f"/api/v1/commissions/{commission_id}/extensions",
                      json={"days": 16, "reason": "现场勘验受阻"}).status_code == 409  # E31: ≤ 15 days
    r = first.post(f"/api/v1/commissions/{commission_id}/extensions", json={"days": 15, "reason": "现场勘验受阻"})
    assert r.status_code == 201 and r.json["decision"] == "pending"
    decided = as_user(world["officer"]).post(f"/api/v1/extensions/{r.json['id']}/decision", json={"grant": True})
    assert decided.status_code == 200 and decided.json["decision"] == "granted"
    commission = first.get("/api/v1/commissions").json["commissions"][0]
    assert commission["extensions_granted"] == 1 and commission["report_due_at"] > due
    assert as_user(world["officer"]).post(f"/api/v1/extensions/{r.json['id']}/decision",
                                          json={"grant": False}).status_code == 409


def test_a_report_sent_back_for_correction_is_not_served(app, session, as_user, world):
    proc_id, record = drawn(app, session, as_user, world)
    first_agency = agency_by_id(world, record["ranking"][0])
    first = as_user(first_agency.user)
    commission_id = first.get("/api/v1/commissions").json["commissions"][0]["id"]
    first.post(f"/api/v1/commissions/{commission_id}/answer", json={"accept": True})
    v = first.post(f"/api/v1/commissions/{commission_id}/valuations", json=report_body(app, first_agency)).json
    officer = as_user(world["officer"])
    assert officer.post(f"/api/v1/valuations/{v['id']}/review", json={"accept": False}).status_code == 409  # no note
    r = officer.post(f"/api/v1/valuations/{v['id']}/review", json={"accept": False, "note": "签章机构与选定机构不一致"})
    assert r.status_code == 200 and r.json["status"] == "correction" and r.json["correction_due_at"]
    assert officer.get(f"/api/v1/procedures/{proc_id}").json["state"] == "commissioned"
    r = as_user(world["parties"][PartyRole.APPLICANT]).post(f"/api/v1/procedures/{proc_id}/objections",
                                                            json={"kind": "procedural", "grounds": "x"})
    assert r.status_code == 409  # nothing served to object to
    assert session.scalar(select(func.count(Objection.id))) == 0


def test_a_valuation_that_breaks_a_rule_is_a_409_and_a_file_that_is_not_a_pdf_a_400(app, session, as_user, world):
    proc_id, record = drawn(app, session, as_user, world)
    first_agency = agency_by_id(world, record["ranking"][0])
    first = as_user(first_agency.user)
    commission_id = first.get("/api/v1/commissions").json["commissions"][0]["id"]
    first.post(f"/api/v1/commissions/{commission_id}/answer", json={"accept": True})
    url = f"/api/v1/commissions/{commission_id}/valuations"
    one_signer = report_body(app, first_agency, appraiser_ids=[first_agency.appraisers[0].id])
    r = first.post(url, json=one_signer)
    assert r.status_code == 409 and "E55" in r.json["error"]["message"]
    r = first.post(url, json=report_body(app, first_agency, report_pdf_base64=base64.b64encode(b"hello").decode()))
    assert r.status_code == 400 and r.json["error"]["message"]
    assert as_user(world["officer"]).get(f"/api/v1/procedures/{proc_id}").json["valuations"] == []


# --- the draw ---------------------------------------------------------------------------------------


def test_a_draw_needs_a_day_of_notice_and_only_the_cases_officer_schedules_it(app, session, as_user, world):
    proc_id = open_commissioned(as_user, world)
    officer = as_user(world["officer"])
    r = officer.post(f"/api/v1/procedures/{proc_id}/draws", json={"draw_at": draw_at(app, timedelta(hours=20))})
    assert r.status_code == 409 and r.json["error"]["message"]
    assert as_user(make_officer(session)).post(f"/api/v1/procedures/{proc_id}/draws",
                                               json={"draw_at": draw_at(app)}).status_code == 404
    assert as_user(make_user(session, Role.SUPERVISOR)).post(f"/api/v1/procedures/{proc_id}/draws",
                                                             json={"draw_at": draw_at(app)}).status_code == 403
    assert session.scalar(select(func.count(Draw.id)).where(Draw.procedure_id == proc_id)) == 0
    assert officer.post(f"/api/v1/procedures/{proc_id}/draws", json={"draw_at": draw_at(app)}).status_code == 201
    assert officer.post(f"/api/v1/procedures/{proc_id}/draws", json={"draw_at": draw_at(app)}).status_code == 409


def test_the_public_draw_record_has_no_seed_before_the_draw_and_verifies_after(app, session, as_user, world):
    proc_id = open_commissioned(as_user, world)
    draw_id = as_user(world["officer"]).post(f"/api/v1/procedures/{proc_id}/draws",
                                             json={"draw_at": draw_at(app)}).json["draw_id"]
    before = as_user.public.get(f"/api/v1/draws/{draw_id}")
    assert before.status_code == 200 and before.json["seed"] is None and before.json["combined"] is None
    advance(app, session, timedelta(hours=2))  # not due yet
    assert as_user.public.get(f"/api/v1/draws/{draw_id}").json["seed"] is None
    advance(app, session, timedelta(days=1))
    after = as_user.public.get(f"/api/v1/draws/{draw_id}").json
    assert verify_record(after) == [] and len(after["ranking"]) == 3
    tampered = {**after, "ranking": list(reversed(after["ranking"]))}
    assert verify_record(tampered)
    assert as_user.public.get("/api/v1/draws/999999").status_code == 404


# --- the other methods ----------------------------------------------------------------------------


def test_a_directed_institution_submits_its_result_through_the_api(app, session, as_user, world):
    institution = make_agency(session, kind="directed_institution", appraisers=0)
    opened = as_user(world["officer"]).post(f"/api/v1/assets/{world['asset'].id}/procedures", json={
        "method": "directed_inquiry", "institution_id": institution.id, "deadline_days": 5})
    assert opened.status_code == 201 and opened.json["state"] == "directed_inquiry"
    proc_id = opened.json["id"]
    caller = as_user(institution.user)
    inquiries = caller.get("/api/v1/inquiries").json["inquiries"]
    assert [(i["procedure"]["id"], i["submitted_at"]) for i in inquiries] == [(proc_id, None)]
    r = caller.post(f"/api/v1/procedures/{proc_id}/inquiry-result",
                    json={"amount": "1600000", "report_pdf_base64": base64.b64encode(pdf_bytes()).decode()})
    assert r.status_code == 201, r.json
    assert r.json["amount"] == "1600000.00" and r.json["procedure"]["state"] == "final"
    assert r.json["report_sha256"] == hashlib.sha256(pdf_bytes()).hexdigest()
    assert caller.post(f"/api/v1/procedures/{proc_id}/inquiry-result", json={"amount": "1"}).status_code == 409
    proc = as_user(world["officer"]).get(f"/api/v1/procedures/{proc_id}").json
    assert proc["reference_price"] == "1600000.00" and proc["submissions"][0]["agency"]["id"] == institution.id
    platform = make_agency(session, kind="online_platform", appraisers=0)
    assert as_user(platform.user).post(f"/api/v1/procedures/{proc_id}/inquiry-result",
                                       json={"amount": "1"}).status_code == 404  # not asked


def test_an_online_platform_sees_only_its_own_inquiry(app, session, as_user, world):
    platforms = [make_agency(session, kind="online_platform", appraisers=0) for _ in range(2)]
    proc_id = as_user(world["officer"]).post(f"/api/v1/assets/{world['asset'].id}/procedures",
                                             json={"method": "online_inquiry"}).json["id"]
    one = as_user(platforms[0].user)
    assert one.post(f"/api/v1/procedures/{proc_id}/inquiry-result", json={"amount": "1000000"}).status_code == 201
    seen = one.get(f"/api/v1/procedures/{proc_id}").json["submissions"]
    assert [(s["agency"]["id"], s["amount"]) for s in seen] == [(platforms[0].id, "1000000.00")]
    other = as_user(platforms[1].user).get(f"/api/v1/procedures/{proc_id}").json["submissions"]
    assert [(s["agency"]["id"], s["amount"]) for s in other] == [(platforms[1].id, None)]


def test_the_parties_negotiate_a_price(app, session, as_user, world):
    officer = as_user(world["officer"])
    proc_id = officer.post(f"/api/v1/assets/{world['asset'].id}/procedures",
                           json={"method": "negotiation", "deadline_days": 10}).json["id"]
    applicant = as_user(world["parties"][PartyRole.APPLICANT])
    ids = world["party_ids"]
    other_case = make_case(session, world["officer"])
    r = officer.post(f"/api/v1/procedures/{proc_id}/negotiation", json={"party_id": other_case.parties[0].id,
                                                                        "amount": "1"})
    assert r.status_code == 404  # a party of another case
    r = applicant.post(f"/api/v1/procedures/{proc_id}/negotiation",
                       json={"party_id": ids[PartyRole.DEBTOR], "amount": "1"})
    assert r.status_code == 403  # another party's figure
    r = applicant.post(f"/api/v1/procedures/{proc_id}/negotiation",
                       json={"party_id": ids[PartyRole.APPLICANT], "amount": "1500000"})
    assert r.status_code == 200 and r.json["state"] == "negotiation" and r.json["submissions"] == []
    r = officer.post(f"/api/v1/procedures/{proc_id}/negotiation",
                     json={"party_id": ids[PartyRole.DEBTOR], "amount": "1,500,000.00"})
    assert r.status_code == 200 and (r.json["state"], r.json["reference_price"]) == ("final", "1500000.00")
    assert sorted(s["party"] for s in r.json["submissions"]) == ["applicant", "debtor"]
    r = applicant.post(f"/api/v1/procedures/{proc_id}/objections", json={"kind": "technical", "grounds": "x"})
    assert r.status_code == 409 and "E40" in r.json["error"]["message"]
    assert_no_identity_numbers(as_user.seen, world["case"])


def test_a_second_procedure_for_the_same_asset_is_a_409(as_user, world, session):
    open_commissioned(as_user, world)
    r = as_user(world["officer"]).post(f"/api/v1/assets/{world['asset'].id}/procedures",
                                       json={"method": "online_inquiry"})
    assert r.status_code == 409 and r.json["error"]["message"]
    assert session.scalar(select(func.count(Procedure.id))) == 1


def test_an_officer_of_another_court_sees_nothing(as_user, world, session):
    proc_id = open_commissioned(as_user, world)
    stranger = as_user(make_officer(session))
    assert stranger.get(f"/api/v1/procedures/{proc_id}").status_code == 404
    assert stranger.post(f"/api/v1/assets/{world['asset'].id}/procedures",
                         json={"method": "commissioned"}).status_code == 404
    other_party = as_user(make_user(session, Role.PARTY))
    assert other_party.get(f"/api/v1/procedures/{proc_id}").status_code == 404
    assert other_party.post(f"/api/v1/procedures/{proc_id}/objections",
                            json={"kind": "technical", "grounds": "x"}).status_code == 404
    assert as_user(make_user(session, Role.SUPERVISOR)).get(f"/api/v1/procedures/{proc_id}").status_code == 200
    assert as_user(make_user(session, Role.BIDDER)).get(f"/api/v1/procedures/{proc_id}").status_code == 404


# --- agencies ---------------------------------------------------------------------------------------


def test_the_agency_list_is_public_and_a_supervisors_decision_is_published(as_user, world, session):
    pending = make_agency(session, status="pending", name="待审核评估机构")
    target = world["agencies"][0]
    public = as_user.public
    names = [a["name"] for a in public.get("/api/v1/agencies").json["agencies"]]
    assert target.name in names and pending.name not in names
    assert public.get(f"/api/v1/agencies/{pending.id}").status_code == 404
    assert public.get("/api/v1/agencies?status=pending").status_code == 400
    assert public.get("/api/v1/agencies?kind=%00").status_code == 400

    supervisor = as_user(make_user(session, Role.SUPERVISOR))
    r = supervisor.post(f"/api/v1/agencies/{target.id}/decisions", json={"action": "suspended", "reason": "出具虚假报告，立案调查"})
    assert r.status_code == 201 and r.json["status"] == "suspended"
    page = public.get(f"/api/v1/agencies/{target.id}").json
    assert [(d["action"], d["reason"]) for d in page["decisions"]] == [("suspended", "出具虚假报告，立案调查")]
    assert page["scorecard"]["received"] == 0 and page["licence"] == target.licence_number
    assert target.id not in [a["id"] for a in public.get("/api/v1/agencies").json["agencies"]]
    assert target.id in [a["id"] for a in public.get("/api/v1/agencies?status=suspended").json["agencies"]]
    assert supervisor.post(f"/api/v1/agencies/{target.id}/decisions",
                           json={"action": "suspended", "reason": "x"}).status_code == 409
    assert supervisor.post(f"/api/v1/agencies/{target.id}/decisions",
                           json={"action": "approved", "reason": ""}).status_code == 409
    assert supervisor.post("/api/v1/agencies/999999/decisions",
                           json={"action": "approved", "reason": "x"}).status_code == 404
    r = supervisor.post(f"/api/v1/agencies/{pending.id}/decisions", json={"action": "approved", "reason": "材料齐全"})
    assert r.status_code == 201 and r.json["status"] == "listed"
    assert as_user(world["officer"]).post(f"/api/v1/agencies/{pending.id}/decisions",
                                          json={"action": "removed", "reason": "x"}).status_code == 403
    assert "conflicts" not in page and "contact_phone" not in page


def test_the_decision_vocabulary_matches_the_service():
    from appraisal import api

    assert set(api._DECISIONS) == set(agencies._TRANSITIONS)


# --- malformed requests, tokens, ids -------------------------------------------------------------------


@pytest.fixture
def targets(session, as_user, world):
    """Something to aim every endpoint at: a commissioned procedure, a directed inquiry on a
    second asset, and a caller of each role. Bodies are read before anything is looked up past
    the procedure, so ``commission`` need not exist (the draw's PDFs are slow to render)."""
    proc_id = open_commissioned(as_user, world)
    institution = make_agency(session, kind="directed_institution", appraisers=0)
    other_asset = make_asset(session, world["case"], title="另一处房产")
    inquiry_id = as_user(world["officer"]).post(f"/api/v1/assets/{other_asset.id}/procedures", json={
        "method": "directed_inquiry", "institution_id": institution.id}).json["id"]
    agency = world["agencies"][0]
    return {"procedure": proc_id, "commission": 999999, "inquiry": inquiry_id, "asset": world["asset"].id,
            "agency": agency.id, "officer": world["officer"], "party": world["parties"][PartyRole.DEBTOR],
            "commissioned": agency.user, "institution": institution.user,
            "supervisor": make_user(session, Role.SUPERVISOR), "first_agency": agency}


_PDF64 = base64.b64encode(pdf_bytes()).decode()

MALFORMED = [
    # (caller, path, body, field named in the message)
    ("officer", "/api/v1/assets/{asset}/procedures", {"method": "auction"}, "method"),
    ("officer", "/api/v1/assets/{asset}/procedures", {"method": ["commissioned"]}, "method"),
    ("officer", "/api/v1/assets/{asset}/procedures", {"method": "negotiation", "deadline_days": 0}, "deadline_days"),
    ("officer", "/api/v1/assets/{asset}/procedures", {"method": "negotiation", "deadline_days": 10**9}, "deadline_days"),
    ("officer", "/api/v1/assets/{asset}/procedures", {"method": "commissioned", "colour": "red"}, "colour"),
    ("officer", "/api/v1/procedures/{procedure}/draws", {"draw_at": "2026-12-01T10:00:00"}, "draw_at"),
    ("officer", "/api/v1/procedures/{procedure}/draws", {"draw_at": "tomorrow"}, "draw_at"),
    ("officer", "/api/v1/procedures/{procedure}/draws", {"draw_at": 1764554400}, "draw_at"),
    ("officer", "/api/v1/procedures/{procedure}/draws", {"draw_at": "0001-01-01T00:00:00+08:00"}, "draw_at"),
    ("officer", "/api/v1/procedures/{procedure}/draws", {}, "draw_at"),
    ("party", "/api/v1/procedures/{procedure}/objections", {"kind": "moral", "grounds": "x"}, "kind"),
    ("party", "/api/v1/procedures/{procedure}/objections", {"kind": "technical", "grounds": "a\x00b"}, "grounds"),
    ("party", "/api/v1/procedures/{procedure}/objections", {"kind": "technical", "grounds": "a\ud800b"}, "grounds"),
    ("party", "/api/v1/procedures/{procedure}/objections", {"kind": "technical"}, "grounds"),
    ("party", "/api/v1/procedures/{procedure}/negotiation", {"party_id": "1", "amount": "1.00"}, "party_id"),
    ("party", "/api/v1/procedures/{procedure}/negotiation", {"party_id": 2**40, "amount": "1.00"}, "party_id"),
    ("party", "/api/v1/procedures/{procedure}/negotiation", {"party_id": 1, "amount": 100}, "amount"),
    ("officer", "/api/v1/objections/1/decision", {"uphold": "yes", "note": "x"}, "uphold"),
    ("officer", "/api/v1/objections/1/decision", {"uphold": True, "note": "x", "corrected_amount": "abc"},
     "corrected_amount"),
    ("officer", "/api/v1/objections/1/decision", {"uphold": True}, "note"),
    ("officer", "/api/v1/valuations/1/review", {"accept": None}, "accept"),
    ("officer", "/api/v1/extensions/1/decision", {"grant": 1}, "grant"),
    ("commissioned", "/api/v1/commissions/{commission}/answer", {"accept": 1}, "accept"),
    ("commissioned", "/api/v1/commissions/{commission}/answer", {"accept": True, "reason": 5}, "reason"),
    ("commissioned", "/api/v1/commissions/{commission}/extensions", {"days": 1.5, "reason": "x"}, "days"),
    ("commissioned", "/api/v1/commissions/{commission}/extensions", {"days": True, "reason": "x"}, "days"),
    ("commissioned", "/api/v1/commissions/{commission}/valuations", {"report_pdf_base64": "not base64!"},
     "report_pdf_base64"),
    ("commissioned", "/api/v1/commissions/{commission}/valuations", {"report_pdf_base64": ""}, "report_pdf_base64"),
    ("commissioned", "/api/v1/commissions/{commission}/valuations", {"report_pdf_base64": 12}, "report_pdf_base64"),
    ("commissioned", "/api/v1/commissions/{commission}/valuations", {"report_pdf_base64": "报告"},
     "report_pdf_base64"),
    ("commissioned", "/api/v1/commissions/{commission}/valuations", {"appraiser_ids": "1,2"}, "appraiser_ids"),
    ("commissioned", "/api/v1/commissions/{commission}/valuations", {"appraiser_ids": [1, True]}, "appraiser_ids"),
    ("commissioned", "/api/v1/commissions/{commission}/valuations", {"appraiser_ids": list(range(1, 50))},
     "appraiser_ids"),
    ("commissioned", "/api/v1/commissions/{commission}/valuations", {"effective_on": "2026-02-30"}, "effective_on"),
    ("commissioned", "/api/v1/commissions/{commission}/valuations", {"amount": "1.234"}, "amount"),
    ("commissioned", "/api/v1/commissions/{commission}/valuations", {"signature": "x"}, "signature"),
    ("commissioned", "/api/v1/objections/1/answer", {"answer": ["x"]}, "answer"),
    ("institution", "/api/v1/procedures/{inquiry}/inquiry-result", {"amount": "-1"}, "amount"),
    ("institution", "/api/v1/procedures/{inquiry}/inquiry-result", {"amount": "1", "report_pdf_base64": "%%%"},
     "report_pdf_base64"),
    ("supervisor", "/api/v1/agencies/{agency}/decisions", {"action": "promoted", "reason": "x"}, "action"),
    ("supervisor", "/api/v1/agencies/{agency}/decisions", {"action": "approved"}, "reason"),
]


@pytest.mark.parametrize(("who", "path", "change", "field"), MALFORMED)
def test_a_malformed_body_is_a_400_naming_the_field_and_changes_nothing(app, as_user, targets, who, path, change,
                                                                         field):
    # A report is otherwise complete, so the message can only be about the changed field.
    base = report_body(app, targets["first_agency"]) if path.endswith("/valuations") else {}
    body = {**base, **change}
    caller = as_user(targets[who])
    before = caller.get(f"/api/v1/procedures/{targets['procedure']}").json if who != "institution" else None
    r = caller.post(path.format(**targets), json=body)
    assert r.status_code == 400, r.json
    assert field in r.json["error"]["message"]
    if before is not None:
        assert caller.get(f"/api/v1/procedures/{targets['procedure']}").json == before


@pytest.mark.parametrize(("data", "content_type"), [
    ("{not json", "application/json"), ("[1, 2]", "application/json"), ('"text"', "application/json"),
    ("[" * 100_000 + "]" * 100_000, "application/json"), ('{"method": "commissioned"}', "text/plain"),
])
def test_an_unreadable_body_is_a_400(as_user, targets, data, content_type):
    r = as_user(targets["officer"]).post(f"/api/v1/assets/{targets['asset']}/procedures", data=data,
                                         content_type=content_type)
    assert r.status_code == 400 and r.json["error"]["message"]


AUTHENTICATED = [
    ("post", "/api/v1/agencies/1/decisions"), ("post", "/api/v1/assets/1/procedures"),
    ("get", "/api/v1/procedures/1"), ("post", "/api/v1/procedures/1/draws"), ("post", "/api/v1/procedures/1/objections"),
    ("post", "/api/v1/procedures/1/negotiation"), ("post", "/api/v1/procedures/1/inquiry-result"),
    ("post", "/api/v1/objections/1/decision"), ("post", "/api/v1/objections/1/forward"),
    ("post", "/api/v1/objections/1/answer"), ("post", "/api/v1/valuations/1/review"),
    ("post", "/api/v1/extensions/1/decision"), ("get", "/api/v1/commissions"),
    ("post", "/api/v1/commissions/1/answer"), ("post", "/api/v1/commissions/1/extensions"),
    ("post", "/api/v1/commissions/1/valuations"), ("get", "/api/v1/inquiries"),
]


@pytest.mark.parametrize(("method", "path"), AUTHENTICATED)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer jap_not-a-token"}, {"Authorization": "Basic x"}])
def test_every_non_public_endpoint_needs_a_valid_bearer_token(api, method, path, headers):
    r = getattr(api, method)(path, json={}, headers=headers)
    assert r.status_code == 401 and r.json["error"]["code"] == 401


def test_the_public_endpoints_need_no_token_and_ignore_a_bad_one(api, world):
    for headers in ({}, {"Authorization": "Bearer jap_not-a-token"}):
        assert api.get("/api/v1/agencies", headers=headers).status_code == 200
        assert api.get(f"/api/v1/agencies/{world['agencies'][0].id}", headers=headers).status_code == 200


@pytest.mark.parametrize(("who", "method", "path"), [
    ("party", "post", "/api/v1/assets/{asset}/procedures"),
    ("supervisor", "post", "/api/v1/procedures/{procedure}/draws"),
    ("officer", "post", "/api/v1/procedures/{procedure}/objections"),
    ("party", "post", "/api/v1/objections/1/decision"),
    ("officer", "get", "/api/v1/commissions"),
    ("party", "post", "/api/v1/agencies/{agency}/decisions"),
    ("commissioned", "post", "/api/v1/procedures/{procedure}/negotiation"),
])
def test_the_wrong_role_is_a_403(as_user, targets, who, method, path):
    r = getattr(as_user(targets[who]), method)(path.format(**targets), json={})
    assert r.status_code == 403 and r.json["error"]["code"] == 403


@pytest.mark.parametrize("path", [
    "/api/v1/procedures/99999999999999999999", "/api/v1/procedures/0", "/api/v1/procedures/2147483648",
    "/api/v1/procedures/-1", "/api/v1/procedures/abc", "/api/v1/draws/99999999999999999999",
    "/api/v1/agencies/99999999999999999999",
])
def test_absurd_ids_are_a_404_not_a_database_error(as_user, session, path):
    r = as_user(make_user(session, Role.SUPERVISOR)).get(path)
    assert r.status_code == 404 and r.json["error"]["code"] == 404


def test_unknown_ids_are_a_404(as_user, targets):
    officer, agency = as_user(targets["officer"]), as_user(targets["commissioned"])
    assert officer.post("/api/v1/assets/999999/procedures", json={"method": "commissioned"}).status_code == 404
    assert officer.post("/api/v1/procedures/999999/draws", json={"draw_at": "2030-01-01T00:00:00Z"}).status_code == 404
    assert officer.post("/api/v1/valuations/999999/review", json={"accept": True}).status_code == 404
    assert officer.post("/api/v1/objections/999999/forward").status_code == 404
    assert officer.post("/api/v1/objections/999999/decision", json={"uphold": False, "note": "x"}).status_code == 404
    assert officer.post("/api/v1/extensions/999999/decision", json={"grant": True}).status_code == 404
    assert agency.post("/api/v1/commissions/999999/answer", json={"accept": True}).status_code == 404
    assert agency.post("/api/v1/objections/999999/answer", json={"answer": "x"}).status_code == 404


def test_an_unknown_commission_state_filter_is_a_400(as_user, targets):
    assert as_user(targets["commissioned"]).get("/api/v1/commissions?state=sleeping").status_code == 400


def test_the_openapi_document_lists_the_appraisal_paths(api):
    from appraisal.api import OPENAPI_PATHS

    paths = api.get("/api/v1/openapi.json").json["paths"]
    assert set(OPENAPI_PATHS) <= set(paths)
    rules = {r.rule.replace("<", "{").replace(">", "}") for r in api.application.url_map.iter_rules()
             if r.endpoint.startswith("appraisal_api.")}
    documented = {p.replace("/api/v1", "") for p in OPENAPI_PATHS}
    assert {_openapi_form(r) for r in rules} == documented
    for item in OPENAPI_PATHS.values():
        for op in item.values():
            assert op["summary"] and {"200", "201"} & set(op["responses"])
    assert OPENAPI_PATHS["/api/v1/draws/{draw_id}"]["get"]["security"] == []
    assert "requestBody" in OPENAPI_PATHS["/api/v1/commissions/{commission_id}/valuations"]["post"]


def _openapi_form(rule: str) -> str:
    """``/api/v1/procedures/{int(min=1, max=…):procedure_id}`` → ``/procedures/{procedure_id}``."""
    return re.sub(r"\{[^}]*:([a-z_]+)\}", r"{\1}", rule).replace("/api/v1", "")


def test_money_in_responses_is_a_decimal_string(app, session, as_user, world):
    institution = make_agency(session, kind="directed_institution", appraisers=0)
    proc_id = as_user(world["officer"]).post(f"/api/v1/assets/{world['asset'].id}/procedures", json={
        "method": "directed_inquiry", "institution_id": institution.id}).json["id"]
    as_user(institution.user).post(f"/api/v1/procedures/{proc_id}/inquiry-result", json={"amount": "1234567.5"})
    proc = as_user(world["officer"]).get(f"/api/v1/procedures/{proc_id}")
    assert proc.json["reference_price"] == "1234567.50"
    assert Decimal(proc.json["reference_price"]) == Decimal("1234567.50")
    assert proc.json["final_at"].endswith("+00:00")  # ISO 8601, UTC


WEIRD = [None, True, 0, -1, 10**30, 1.5, float("nan"), "", " ", "\x00", "\ud800", "9" * 40, "x" * 30_000,
         [], [[[]]], {}, {"a": {"b": {}}}]


def test_no_field_value_makes_any_endpoint_fail(app, session, as_user, targets, world):
    """Each field of a well-formed body of every endpoint, given each odd value in turn, gets a
    2xx or a 4xx with a message: never a server error."""
    officer = as_user(world["officer"])
    officer.post(f"/api/v1/procedures/{targets['procedure']}/draws", json={"draw_at": draw_at(app)})
    advance(app, session, timedelta(days=1, hours=2))
    offered = officer.get(f"/api/v1/procedures/{targets['procedure']}").json["commissions"][0]
    first, commission_id = agency_by_id(world, offered["agency"]["id"]), offered["id"]
    targets = {**targets, "commission": commission_id, "commissioned": first.user, "first_agency": first}
    party_id = world["party_ids"][PartyRole.DEBTOR]
    valid = {
        "/api/v1/agencies/{agency}/decisions": ("supervisor", {"action": "suspended", "reason": "x"}),
        "/api/v1/assets/{asset}/procedures": ("officer", {"method": "negotiation", "deadline_days": 3}),
        "/api/v1/procedures/{procedure}/draws": ("officer", {"draw_at": draw_at(app)}),
        "/api/v1/procedures/{procedure}/objections": ("party", {"kind": "technical", "grounds": "x"}),
        "/api/v1/procedures/{procedure}/negotiation": ("party", {"party_id": party_id, "amount": "1"}),
        "/api/v1/procedures/{inquiry}/inquiry-result": ("institution", {"amount": "1", "report_pdf_base64": _PDF64}),
        "/api/v1/valuations/1/review": ("officer", {"accept": True, "note": "x"}),
        "/api/v1/objections/1/decision": ("officer", {"uphold": False, "note": "x", "corrected_amount": "1"}),
        "/api/v1/objections/1/answer": ("commissioned", {"answer": "x"}),
        "/api/v1/extensions/1/decision": ("officer", {"grant": True}),
        "/api/v1/commissions/{commission}/answer": ("commissioned", {"accept": True, "reason": ""}),
        "/api/v1/commissions/{commission}/extensions": ("commissioned", {"days": 10, "reason": "x"}),
        "/api/v1/commissions/{commission}/valuations": ("commissioned", report_body(app, targets["first_agency"])),
    }
    for path, (who, body) in valid.items():
        caller = as_user(targets[who])
        for field in body:
            for value in WEIRD:
                r = caller.post(path.format(**targets), data=json.dumps({**body, field: value}),
                                content_type="application/json")
                assert r.status_code < 500, (path, field, value)
                assert r.status_code in (200, 201) or r.json["error"]["message"], (path, field, value)
