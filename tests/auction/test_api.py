"""The auction JSON API v1 through the test client, against a real database.

Time moves the way it does in a deployment: the simulated platform clock is advanced and the
scheduler's work (``services.run_due``) runs at the new time. The close of a round belongs to
the bidding package, so the tests simulate it with ``services.record_sale`` / ``record_no_sale``.
"""
from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from accounts.services import issue_api_token
from auction import services
from auction.models import Lot, Notice, Round, RoundEvent
from auction.rules import NoticeMethod, RoundState
from cases.rules import PartyRole
from core.clock import advance_clock
from core.context import context_for
from tests.factories import VAULT, make_bidder, make_case, make_officer, make_priced_asset, make_user, resident_id

BEIJING = timezone(timedelta(hours=8))


@pytest.fixture
def app(app_factory):
    """A simulated clock, so that the API's time and the scheduler's can move together."""
    return app_factory(CLOCK="simulated")


@pytest.fixture
def api(app):
    """The test client, with the auction API registered if ``auction.init_app`` does not do it yet."""
    if "auction_api" not in app.blueprints:
        from auction import api as auction_api
        from core.api import register_paths

        app.register_blueprint(auction_api.bp)
        app.extensions["csrf"].exempt(auction_api.bp)
        register_paths(app, auction_api.OPENAPI_PATHS)
    return app.test_client()


class Caller:
    """The test client as one user; public callers' bodies are kept for the identity check."""

    def __init__(self, client, headers: dict, seen: list[str] | None = None):
        self.client, self.headers, self.seen = client, headers, seen

    def get(self, path, **kw):
        return self._record(self.client.get(path, headers=self.headers, **kw))

    def post(self, path, **kw):
        return self._record(self.client.post(path, headers=self.headers, **kw))

    def put(self, path, **kw):
        return self._record(self.client.put(path, headers=self.headers, **kw))

    def _record(self, response):
        if self.seen is not None:
            self.seen.append(response.get_data(as_text=True))
        return response


@pytest.fixture
def as_user(api, session, now):
    """``as_user(user)``: a :class:`Caller` with a fresh bearer token; ``as_user.public`` has
    none and records every body in ``as_user.public_seen``."""

    def make(user) -> Caller:
        token = issue_api_token(session, user=user, name="test", now=now)
        return Caller(api, {"Authorization": f"Bearer {token}"})

    make.public_seen = []
    make.public = Caller(api, {}, make.public_seen)
    return make


@pytest.fixture
def world(session):
    """A case of the officer's court (an applicant bank, a debtor) with a flat priced at ¥1,000,000."""
    case = make_case(session)
    return {"case": case, "officer": case.officer, "asset": make_priced_asset(session, case)}


def platform_now(app) -> datetime:
    return app.extensions["clock"].now()


def ctx_now(app, session):
    return context_for(app, session, platform_now(app))


def advance_to(app, session, instant: datetime) -> None:
    """Move the platform clock just past ``instant`` and run the auction's due work there."""
    advance_clock(session, app.extensions["clock"], delta=instant + timedelta(minutes=1) - platform_now(app),
                  actor="test")
    session.expire_all()
    services.run_due(session, ctx_now(app, session))


def iso(instant: datetime) -> str:
    return instant.astimezone(BEIJING).isoformat()


def terms_body(app, *, start_in=timedelta(days=35), **overrides) -> dict:
    start = platform_now(app) + start_in
    body = {"starting_price": "700000.00", "deposit": "70000.00", "increment": "5000.00", "start_at": iso(start),
            "end_at": iso(start + timedelta(hours=24)), "balance_days": 30,
            "taxes": [{"tax": "契税", "payer": "buyer"}, {"tax": "增值税", "payer": "debtor"}],
            "inspection": "每周三上午看样", "panel_record": "合议庭评议：起拍价按参考价七成确定",
            "court_contact": "执行局 0553-0000000；监督电话 0553-1111111",
            "title_and_possession": "不动产权证号皖(2020)芜湖市不动产权第0000001号；被执行人居住",
            "defects_statement": "无已知瑕疵"}
    body.update(overrides)
    return body


def new_lot(as_user, world, app, *, asset=None, **overrides) -> dict:
    r = as_user(world["officer"]).post("/api/v1/lots", json={
        "asset_ids": [(asset or world["asset"]).id], "title": "某小区3栋502室", "terms": terms_body(app, **overrides)})
    assert r.status_code == 201, r.json
    return r.json


def notify_parties(officer: Caller, world, round_id: int, app, *, days_back=4) -> None:
    for p in world["case"].parties:
        r = officer.post(f"/api/v1/rounds/{round_id}/notices", json={
            "party_id": p.id, "method": "served", "detail": "EMS 1234567890 签收",
            "at": iso(platform_now(app) - timedelta(days=days_back))})
        assert r.status_code == 201, r.json


def published(as_user, world, app) -> tuple[dict, dict]:
    """A lot whose first round is announced through the API: (lot, round)."""
    lot = new_lot(as_user, world, app)
    officer = as_user(world["officer"])
    notify_parties(officer, world, lot["rounds"][0]["id"], app)
    r = officer.post(f"/api/v1/rounds/{lot['rounds'][0]['id']}/publish")
    assert r.status_code == 200, r.json
    return lot, r.json


def bidding(app, session, as_user, world) -> tuple[dict, Round]:
    lot, rnd = published(as_user, world, app)
    advance_to(app, session, datetime.fromisoformat(rnd["terms"]["start_at"]))
    row = session.get(Round, rnd["id"])
    assert row.state == RoundState.BIDDING
    return lot, row


def close_unsold(app, session, rnd: Round) -> None:
    """What bidding's close does when no one bid (A42)."""
    advance_to(app, session, rnd.end_at)
    services.record_no_sale(session, round_id=rnd.id, ctx=ctx_now(app, session), commit=True)


def close_sold(app, session, rnd: Round, buyer, *, price="805000", code="A1234") -> None:
    advance_to(app, session, rnd.end_at)
    services.record_sale(session, round_id=rnd.id, buyer_id=buyer.id, buyer_code=code, price=Decimal(price),
                         ctx=ctx_now(app, session), commit=True)


def identities(world) -> list[str]:
    """Every party's identity number (whole, and without the public tail) and name."""
    out = []
    for p in world["case"].parties:
        number = VAULT.reveal(p.id_number_encrypted)
        out += [number, number[:-4], p.id_number_hmac, p.name]
    return out


def assert_none_of(secrets: list[str], texts: list[str]) -> None:
    assert texts
    for secret in secrets:
        for text in texts:
            assert secret not in text, secret


# --- the first auction, from the lot to the announcement ----------------------------------------------


def test_an_officer_creates_notifies_and_publishes_a_lot_once_the_publication_set_is_complete(
        app, session, as_user, world):
    officer = as_user(world["officer"])
    lot = new_lot(as_user, world, app, taxes=[])
    rnd = lot["rounds"][0]
    assert (lot["reference_price"], lot["housing"], lot["case_number"]) == ("1000000.00", True, world["case"].number)
    assert (rnd["seq"], rnd["kind"], rnd["state"], rnd["label"]) == (1, "first", "draft", "第一次拍卖")
    assert rnd["terms"]["starting_price"] == "700000.00" and rnd["terms"]["start_at"].endswith("+00:00")
    assert as_user.public.get(f"/api/v1/lots/{lot['id']}").status_code == 404  # not public before publication

    check = officer.get(f"/api/v1/rounds/{rnd['id']}/publication-check").json
    assert check["ready"] is False and len(check["problems"]) == 1  # a draft: notices first
    refused = officer.post(f"/api/v1/rounds/{rnd['id']}/publish")
    assert refused.status_code == 409 and refused.json["error"]["message"] == check["problems"][0]

    notify_parties(officer, world, rnd["id"], app)
    check = officer.get(f"/api/v1/rounds/{rnd['id']}/publication-check").json
    assert not check["ready"] and len(check["problems"]) == 1 and "A12(9)" in check["problems"][0]
    refused = officer.post(f"/api/v1/rounds/{rnd['id']}/publish")
    assert refused.status_code == 409 and "A12(9)" in refused.json["error"]["message"]
    assert session.get(Round, rnd["id"]).published_at is None

    fixed = officer.put(f"/api/v1/rounds/{rnd['id']}/terms", json=terms_body(app))
    assert fixed.status_code == 200 and fixed.json["terms"]["taxes"][0] == {"tax": "契税", "payer": "buyer"}
    assert fixed.json["state"] == "notifying" and len(fixed.json["notices"]) == 2
    assert officer.get(f"/api/v1/rounds/{rnd['id']}/publication-check").json == {
        "round_id": rnd["id"], "ready": True, "problems": []}

    done = officer.post(f"/api/v1/rounds/{rnd['id']}/publish")
    assert done.status_code == 200, done.json
    assert done.json["state"] == "announced" and done.json["published_at"] and done.json["announcement_sha256"]
    assert officer.put(f"/api/v1/rounds/{rnd['id']}/terms", json=terms_body(app)).status_code == 409


def test_notices_served_two_days_ago_are_too_recent_and_the_refusal_quotes_the_rule(app, session, as_user, world):
    officer = as_user(world["officer"])
    rnd = new_lot(as_user, world, app)["rounds"][0]
    notify_parties(officer, world, rnd["id"], app, days_back=2)
    r = officer.post(f"/api/v1/rounds/{rnd['id']}/publish")
    assert r.status_code == 409 and "A15" in r.json["error"]["message"]
    events = session.scalar(select(func.count(RoundEvent.id)).where(RoundEvent.round_id == rnd["id"]))
    assert events == 2  # the two notices; the refusal left nothing


def test_a_published_lot_is_public_without_a_token(app, session, as_user, world):
    officer = as_user(world["officer"])
    lot = new_lot(as_user, world, app)
    holder_number = resident_id()
    holder = officer.post(f"/api/v1/lots/{lot['id']}/priority-holders", json={
        "name": "承租人刘某", "kind": "person", "id_number": holder_number, "right": "承租人优先购买权", "rank": 1})
    assert holder.status_code == 201, holder.json
    assert holder.json["id_number_masked"].endswith(holder_number[-4:])
    assert holder_number not in holder.get_data(as_text=True)
    rnd_id = lot["rounds"][0]["id"]
    notify_parties(officer, world, rnd_id, app)
    assert "A15" in officer.post(f"/api/v1/rounds/{rnd_id}/publish").json["error"]["message"]  # the holder too
    waived = officer.post(f"/api/v1/rounds/{rnd_id}/notices", json={
        "holder_id": holder.json["id"], "method": "waived", "detail": "书面放弃优先购买权", "at": iso(platform_now(app))})
    assert waived.status_code == 201 and waived.json["recipient"] == "优先购买权人"
    assert officer.post(f"/api/v1/rounds/{rnd_id}/publish").status_code == 200

    for headers in ({}, {"Authorization": "Bearer jap_not-a-token"}):
        assert as_user.public.client.get(f"/api/v1/lots/{lot['id']}", headers=headers).status_code == 200
    page = as_user.public.get(f"/api/v1/lots/{lot['id']}").json
    assert (page["title"], page["state"], page["reference_price"]) == ("某小区3栋502室", "announced", "1000000.00")
    current = page["current_round"]
    assert current["terms"]["deposit"] == "70000.00" and current["terms"]["court_contact"]
    assert "panel_record" not in current["terms"]
    assert current["priority_holders"] == [{"right": "承租人优先购买权", "rank": 1}]
    assert sorted(n["recipient"] for n in current["notices"]) == ["优先购买权人", "申请执行人", "被执行人"]
    assert current["result"] is None
    assert [r["seq"] for r in page["rounds"]] == [1]
    assert [e["kind"] for e in page["events"]] == ["published"]
    [doc] = page["documents"]
    assert doc["kind"] == "announcement" and doc["sha256"] == current["announcement_sha256"]
    assert doc["url"] == f"/documents/{doc['sha256']}"
    listed = as_user.public.get("/api/v1/lots").json
    assert [x["id"] for x in listed["lots"]] == [lot["id"]] and listed["total"] == 1
    assert_none_of(identities(world) + [holder_number, holder_number[:-4], "承租人刘某", "EMS"], as_user.public_seen)


# --- after the close ----------------------------------------------------------------------------------


def test_after_a_no_sale_the_second_auction_may_cut_the_price_by_at_most_20_percent(app, session, as_user, world):
    lot, rnd = bidding(app, session, as_user, world)
    close_unsold(app, session, rnd)
    page = as_user.public.get(f"/api/v1/lots/{lot['id']}").json
    assert page["state"] == "unsold" and page["current_round"]["result"]["label"] == "流拍"
    assert {"unsold_record", "announcement"} == {d["kind"] for d in page["documents"]}

    officer = as_user(world["officer"])
    too_deep = officer.post(f"/api/v1/lots/{lot['id']}/rounds", json=terms_body(
        app, start_in=timedelta(days=20), starting_price="559000.00", deposit="55900.00"))
    assert too_deep.status_code == 409
    assert "A43" in too_deep.json["error"]["message"] and "560,000.00" in too_deep.json["error"]["message"]
    assert session.scalar(select(func.count(Round.id)).where(Round.lot_id == lot["id"])) == 1

    second = officer.post(f"/api/v1/lots/{lot['id']}/rounds", json=terms_body(
        app, start_in=timedelta(days=20), starting_price="560000.00", deposit="56000.00"))
    assert second.status_code == 201, second.json
    assert (second.json["seq"], second.json["kind"], second.json["state"]) == (2, "second", "draft")
    page = as_user.public.get(f"/api/v1/lots/{lot['id']}").json  # the draft is not public yet
    assert [r["seq"] for r in page["rounds"]] == [1] and page["current_round"]["terms"]["starting_price"] == "700000.00"


def test_unsold_twice_then_variation_at_the_second_starting_price(app, session, as_user, world):
    officer = as_user(world["officer"])
    lot, rnd = bidding(app, session, as_user, world)
    close_unsold(app, session, rnd)
    second = officer.post(f"/api/v1/lots/{lot['id']}/rounds", json=terms_body(
        app, start_in=timedelta(days=20), starting_price="600000.00", deposit="60000.00")).json
    early = officer.post(f"/api/v1/lots/{lot['id']}/variation", json={
        "deposit": "60000.00", "start_at": iso(platform_now(app) + timedelta(days=16)), "balance_days": 15,
        "taxes": [{"tax": "契税", "payer": "buyer"}], "court_contact": "执行局", "title_and_possession": "产权清晰",
        "defects_statement": "无已知瑕疵"})
    assert early.status_code == 409 and "A44" in early.json["error"]["message"]
    notify_parties(officer, world, second["id"], app)
    assert officer.post(f"/api/v1/rounds/{second['id']}/publish").status_code == 200
    r2 = session.get(Round, second["id"])
    advance_to(app, session, r2.start_at)
    close_unsold(app, session, r2)

    variation = officer.post(f"/api/v1/lots/{lot['id']}/variation", json={
        "deposit": "60000.00", "start_at": iso(platform_now(app) + timedelta(days=16)), "balance_days": 15,
        "taxes": [{"tax": "契税", "payer": "buyer"}], "court_contact": "执行局", "title_and_possession": "产权清晰",
        "defects_statement": "无已知瑕疵"})
    assert variation.status_code == 201, variation.json
    v = variation.json
    assert (v["kind"], v["state"], v["terms"]["starting_price"]) == ("variation", "variation_announced", "600000.00")
    assert datetime.fromisoformat(v["terms"]["end_at"]) - datetime.fromisoformat(v["terms"]["start_at"]) == \
        timedelta(days=60)
    decided = officer.post(f"/api/v1/rounds/{v['id']}/variation-decision", json={"decision": "裁定解除查封"})
    assert decided.status_code == 409  # only a failed 变卖 awaits the decision


def test_a_creditor_takes_the_unsold_property_in_payment(app, session, as_user, world):
    lot, rnd = bidding(app, session, as_user, world)
    close_unsold(app, session, rnd)
    officer = as_user(world["officer"])
    applicant = next(p for p in world["case"].parties if p.role == PartyRole.APPLICANT)
    debtor = next(p for p in world["case"].parties if p.role == PartyRole.DEBTOR)
    path = f"/api/v1/rounds/{rnd.id}/take-in-payment"
    assert officer.post(path, json={"party_id": debtor.id, "top_up": "0.00"}).status_code == 409
    wrong = officer.post(path, json={"party_id": applicant.id, "top_up": "1.00"})
    assert wrong.status_code == 409 and "B04" in wrong.json["error"]["message"]  # the claim exceeds the price
    taken = officer.post(path, json={"party_id": applicant.id, "top_up": "0.00"})
    assert taken.status_code == 200 and taken.json["state"] == "taken_in_payment"


def test_a_sale_is_paid_ruled_and_handed_over_through_the_api(app, session, as_user, world):
    lot, rnd = bidding(app, session, as_user, world)
    buyer_number = resident_id()
    buyer = make_bidder(session, real_name="李买受", id_number=buyer_number)
    close_sold(app, session, rnd, buyer)
    page = as_user.public.get(f"/api/v1/lots/{lot['id']}").json
    assert page["state"] == "awaiting_balance"
    assert page["current_round"]["result"] == {"outcome": "sold", "price": "805000.00", "buyer_code": "A1234",
                                               "closed_at": page["current_round"]["result"]["closed_at"]}
    assert "confirmation" in {d["kind"] for d in page["documents"]}

    officer = as_user(world["officer"])
    base = f"/api/v1/rounds/{rnd.id}"
    too_much = officer.post(f"{base}/balance", json={"amount": "805000.01"})
    assert too_much.status_code == 409
    paid = officer.post(f"{base}/balance", json={"amount": "735000.00"})
    assert paid.status_code == 200 and paid.json["state"] == "paid" and paid.json["paid_at"]
    assert officer.post(f"{base}/balance", json={"amount": "1.00"}).status_code == 409
    no_check = officer.post(f"{base}/ruling")
    assert no_check.status_code == 409 and "D01" in no_check.json["error"]["message"]  # housing
    checked = officer.post(f"{base}/qualification", json={"note": "购房资格持续符合"})
    assert checked.status_code == 200 and checked.json["qualification_checked_at"]
    ruled = officer.post(f"{base}/ruling")
    assert ruled.status_code == 200 and ruled.json["state"] == "ruled" and ruled.json["ruling_sha256"]
    handed = officer.post(f"{base}/handover", json={"note": "已交付钥匙"})
    assert handed.status_code == 200 and handed.json["state"] == "handed_over"
    assert officer.post(f"{base}/handover").status_code == 409

    page = as_user.public.get(f"/api/v1/lots/{lot['id']}").json
    assert page["state"] == "handed_over"
    assert [e["kind"] for e in page["events"]][-4:] == ["sold", "paid", "ruled", "handed_over"]
    assert "ruling" not in {d["kind"] for d in page["documents"]}  # served on the parties, not published
    for text in [json.dumps(ruled.json, ensure_ascii=False), *as_user.public_seen]:
        assert "李买受" not in text and buyer_number not in text and buyer_number[:-4] not in text
    assert_none_of(identities(world), as_user.public_seen)


def test_an_annulled_sale(app, session, as_user, world):
    lot, rnd = bidding(app, session, as_user, world)
    close_sold(app, session, rnd, make_bidder(session))
    officer = as_user(world["officer"])
    assert officer.post(f"/api/v1/rounds/{rnd.id}/annul", json={"ground": "whim", "reason": "x"}).status_code == 409
    annulled = officer.post(f"/api/v1/rounds/{rnd.id}/annul", json={"ground": "collusion", "reason": "竞买人恶意串通（A52）"})
    assert annulled.status_code == 200 and annulled.json["state"] == "annulled"


# --- 暂缓, 中止, 撤回 ----------------------------------------------------------------------------------


def test_the_administrator_suspends_for_an_emergency_and_the_officer_resumes(app, session, as_user, world):
    lot, rnd = bidding(app, session, as_user, world)
    admin, officer = as_user(make_user(session, Role.ADMIN)), as_user(world["officer"])
    base = f"/api/v1/rounds/{rnd.id}"
    assert admin.post(f"{base}/suspend", json={"reason": "系统故障", "halt": True}).status_code == 403
    suspended = admin.post(f"{base}/suspend", json={"reason": "系统故障"})
    assert suspended.status_code == 200 and suspended.json["state"] == "suspended" and suspended.json["emergency"]
    assert admin.post(f"{base}/resume").status_code == 403
    assert as_user.public.get(f"/api/v1/lots/{lot['id']}").json["events"][-1] == {
        "round_seq": 1, "kind": "suspended", "reason": "系统故障", "at": suspended.json["paused_at"]}
    ended = officer.post(f"{base}/cause-ended")
    assert ended.status_code == 200 and ended.json["resume_by"]
    officer.client.get("/lang/en")  # the refusal in English this time: the language is the session's
    too_soon = officer.post(f"{base}/resume", json={"end_at": iso(platform_now(app) + timedelta(hours=2))})
    assert too_soon.status_code == 409
    assert too_soon.json["error"]["message"] == "A resumed round must bid again for at least 24 hours (decision 8)."
    resumed = officer.post(f"{base}/resume")
    assert resumed.status_code == 200 and resumed.json["state"] == "bidding" and not resumed.json["emergency"]


def test_a_halt_by_ruling_then_a_withdrawal(app, session, as_user, world):
    lot, rnd = published(as_user, world, app)
    officer = as_user(world["officer"])
    base = f"/api/v1/rounds/{rnd['id']}"
    assert officer.post(f"{base}/suspend", json={"reason": " "}).status_code == 409
    halted = officer.post(f"{base}/suspend", json={"reason": "案外人异议（A57）", "halt": True})
    assert halted.status_code == 200 and halted.json["state"] == "halted" and not halted.json["emergency"]
    withdrawn = officer.post(f"{base}/withdraw", json={"ground": "debt_paid", "reason": "被执行人已全额履行"})
    assert withdrawn.status_code == 200 and withdrawn.json["state"] == "withdrawn"
    page = as_user.public.get(f"/api/v1/lots/{lot['id']}").json
    assert page["state"] == "withdrawn" and page["events"][-1]["reason"] == "被执行人已全额履行"


# --- lists and alerts ---------------------------------------------------------------------------------


def test_the_public_list_filters_and_paginates(app, session, as_user, world):
    ctx = replace(ctx_now(app, session), store=None)  # no announcement PDFs: this test is about the list
    ids = []
    for title in ("镜湖区住宅", "弋江区商铺", "鸠江区车位"):
        lot = services.create_lot(session, actor=world["officer"], asset_ids=[make_priced_asset(session, world["case"]).id],
                                  title=title, terms=services.Terms(
                                      starting_price=Decimal("700000"), deposit=Decimal("70000"),
                                      increment=Decimal("5000"), start_at=ctx.now + timedelta(days=35),
                                      end_at=ctx.now + timedelta(days=36), taxes=[{"tax": "契税", "payer": "buyer"}],
                                      court_contact="执行局", title_and_possession="产权清晰", defects_statement="无"),
                                  ctx=ctx)
        for p in world["case"].parties:
            services.record_notice(session, actor=world["officer"], round_id=lot.current.id, party_id=p.id,
                                   method=NoticeMethod.SERVED, detail="EMS", at=ctx.now - timedelta(days=4), ctx=ctx)
        services.publish(session, actor=world["officer"], round_id=lot.current.id, ctx=ctx)
        ids.append(lot.id)
    new_lot(as_user, world, app)  # a draft: never listed

    first = as_user.public.get("/api/v1/lots?per_page=2").json
    second = as_user.public.get("/api/v1/lots?per_page=2&page=2").json
    assert (first["total"], first["page"], first["per_page"]) == (3, 1, 2)
    assert sorted(x["id"] for x in first["lots"] + second["lots"]) == sorted(ids)
    assert as_user.public.get("/api/v1/lots?page=3&per_page=2").json["lots"] == []
    assert as_user.public.get("/api/v1/lots?state=announced").json["total"] == 3
    assert as_user.public.get("/api/v1/lots?state=bidding").json == {"lots": [], "page": 1, "per_page": 20,
                                                                      "total": 0}
    assert [x["title"] for x in as_user.public.get("/api/v1/lots?q=弋江").json["lots"]] == ["弋江区商铺"]
    assert as_user.public.get("/api/v1/lots", query_string={"q": "100%"}).json["total"] == 0  # a literal percent, not a wildcard
    number = world["case"].number
    assert as_user.public.get("/api/v1/lots", query_string={"q": number}).json["total"] == 3


def test_a_relist_not_announced_within_30_days_is_alerted(app, session, as_user, world):
    lot, rnd = bidding(app, session, as_user, world)
    close_unsold(app, session, rnd)
    officer = as_user(world["officer"])
    assert officer.get("/api/v1/auction/alerts").json == {"alerts": []}
    advance_clock(session, app.extensions["clock"], delta=timedelta(days=32), actor="test")
    [alert] = officer.get("/api/v1/auction/alerts").json["alerts"]
    assert (alert["round_id"], alert["lot_id"], alert["state"]) == (rnd.id, lot["id"], "unsold")
    assert "A43" in alert["what"] and alert["deadline"]
    assert len(as_user(make_user(session, Role.SUPERVISOR)).get("/api/v1/auction/alerts").json["alerts"]) == 1
    assert as_user(make_officer(session)).get("/api/v1/auction/alerts").json == {"alerts": []}
    assert as_user(make_bidder(session)).get("/api/v1/auction/alerts").status_code == 403


# --- tokens, roles, ids ---------------------------------------------------------------------------------


AUTHENTICATED = [
    ("post", "/api/v1/lots"), ("put", "/api/v1/rounds/1/terms"), ("post", "/api/v1/rounds/1/notices"),
    ("post", "/api/v1/lots/1/priority-holders"), ("get", "/api/v1/rounds/1/publication-check"),
    ("post", "/api/v1/rounds/1/publish"), ("post", "/api/v1/rounds/1/suspend"),
    ("post", "/api/v1/rounds/1/cause-ended"), ("post", "/api/v1/rounds/1/resume"),
    ("post", "/api/v1/rounds/1/withdraw"), ("post", "/api/v1/rounds/1/annul"), ("post", "/api/v1/rounds/1/balance"),
    ("post", "/api/v1/rounds/1/qualification"), ("post", "/api/v1/rounds/1/ruling"),
    ("post", "/api/v1/rounds/1/handover"), ("post", "/api/v1/lots/1/rounds"), ("post", "/api/v1/lots/1/variation"),
    ("post", "/api/v1/rounds/1/take-in-payment"), ("post", "/api/v1/rounds/1/variation-decision"),
    ("get", "/api/v1/auction/alerts"),
]


@pytest.mark.parametrize(("method", "path"), AUTHENTICATED)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer jap_not-a-token"}, {"Authorization": "Basic x"}])
def test_every_non_public_endpoint_needs_a_valid_bearer_token(api, method, path, headers):
    r = getattr(api, method)(path, json={}, headers=headers)
    assert r.status_code == 401 and r.json["error"]["code"] == 401


def test_a_session_cookie_is_not_enough(api, client, session, login):
    make_officer(session, username="cookie_officer")
    assert login("cookie_officer").status_code == 302
    assert client.get("/accounts/login").status_code in (200, 302)  # the cookie is this client's
    assert client.post("/api/v1/lots", json={}).status_code == 401


@pytest.fixture
def draft(as_user, world, app):
    """A draft lot with its round notified: something for every endpoint to aim at."""
    lot = new_lot(as_user, world, app)
    notify_parties(as_user(world["officer"]), world, lot["rounds"][0]["id"], app)
    return {"lot": lot["id"], "round": lot["rounds"][0]["id"], "asset": world["asset"].id}


@pytest.mark.parametrize(("role", "method", "path"), [
    (Role.BIDDER, "post", "/api/v1/lots"), (Role.SUPERVISOR, "post", "/api/v1/rounds/{round}/publish"),
    (Role.FINANCE, "put", "/api/v1/rounds/{round}/terms"), (Role.PARTY, "post", "/api/v1/rounds/{round}/notices"),
    (Role.ADMIN, "post", "/api/v1/rounds/{round}/withdraw"), (Role.AGENCY, "get", "/api/v1/rounds/{round}/publication-check"),
    (Role.BIDDER, "post", "/api/v1/rounds/{round}/suspend"), (Role.SUPERVISOR, "post", "/api/v1/lots/{lot}/rounds"),
    (Role.PARTY, "get", "/api/v1/auction/alerts"),
])
def test_the_wrong_role_is_a_403(as_user, session, draft, role, method, path):
    r = getattr(as_user(make_user(session, role)), method)(path.format(**draft), json={})
    assert r.status_code == 403 and r.json["error"]["code"] == 403


def test_an_officer_of_another_court_gets_404_as_for_an_unknown_round(as_user, session, draft, app):
    stranger = as_user(make_officer(session))
    assert stranger.get(f"/api/v1/rounds/{draft['round']}/publication-check").status_code == 404
    assert stranger.post(f"/api/v1/rounds/{draft['round']}/publish").status_code == 404
    assert stranger.post(f"/api/v1/lots/{draft['lot']}/rounds", json=terms_body(app)).status_code == 404
    r = stranger.post("/api/v1/lots", json={"asset_ids": [draft["asset"]], "title": "x", "terms": terms_body(app)})
    assert r.status_code == 404 and r.json["error"]["code"] == 404
    assert session.get(Round, draft["round"]).state == RoundState.NOTIFYING


def test_unknown_ids_are_a_404(as_user, world, app):
    officer = as_user(world["officer"])
    assert officer.post("/api/v1/rounds/999999/publish").status_code == 404
    assert officer.get("/api/v1/rounds/999999/publication-check").status_code == 404
    assert officer.post("/api/v1/rounds/999999/balance", json={"amount": "1.00"}).status_code == 404
    assert officer.post("/api/v1/lots/999999/rounds", json=terms_body(app)).status_code == 404
    assert officer.post("/api/v1/lots", json={"asset_ids": [999999], "title": "x",
                                              "terms": terms_body(app)}).status_code == 404
    assert as_user.public.get("/api/v1/lots/999999").status_code == 404


@pytest.mark.parametrize("path", [
    "/api/v1/lots/99999999999999999999", "/api/v1/lots/0", "/api/v1/lots/2147483648", "/api/v1/lots/-1",
    "/api/v1/lots/abc", "/api/v1/rounds/99999999999999999999/publication-check",
])
def test_absurd_ids_are_a_404_not_a_database_error(as_user, world, path):
    r = as_user(world["officer"]).get(path)
    assert r.status_code == 404 and r.json["error"]["code"] == 404


# --- malformed requests ----------------------------------------------------------------------------------

MALFORMED = [
    # (path, method, body change, field named in the message); lots bodies are complete otherwise.
    ("/api/v1/lots", "post", {"asset_ids": "1"}, "asset_ids"),
    ("/api/v1/lots", "post", {"asset_ids": []}, "asset_ids"),
    ("/api/v1/lots", "post", {"asset_ids": [True]}, "asset_ids"),
    ("/api/v1/lots", "post", {"terms": None}, "terms"),
    ("/api/v1/lots", "post", {"terms": "cheap"}, "terms"),
    ("/api/v1/lots", "post", {"title": "x" * 201}, "title"),
    ("/api/v1/lots", "post", {"colour": "red"}, "colour"),
    ("/api/v1/lots", "post", {"terms.starting_price": 700000}, "terms.starting_price"),
    ("/api/v1/lots", "post", {"terms.deposit": "7%"}, "terms.deposit"),
    ("/api/v1/lots", "post", {"terms.start_at": "2027-01-05T10:00:00"}, "terms.start_at"),
    ("/api/v1/lots", "post", {"terms.end_at": "9999-12-31T23:59:59-12:00"}, "terms.end_at"),
    ("/api/v1/lots", "post", {"terms.balance_days": "30"}, "terms.balance_days"),
    ("/api/v1/lots", "post", {"terms.taxes": [{"tax": "契税", "payer": "alien"}]}, "terms.taxes[0].payer"),
    ("/api/v1/lots", "post", {"terms.taxes": [{"tax": "契税", "payer": "buyer", "rate": 3}]}, "terms.taxes[0].rate"),
    ("/api/v1/lots", "post", {"terms.taxes": {"tax": "契税"}}, "terms.taxes"),
    ("/api/v1/lots", "post", {"terms.colour": "red"}, "terms.colour"),
    ("/api/v1/lots", "post", {"terms.inspection": "a\x00b"}, "terms.inspection"),
    ("/api/v1/rounds/{round}/terms", "put", {"increment": None}, "increment"),
    ("/api/v1/rounds/{round}/terms", "put", {"balance_days": 0}, "balance_days"),
    ("/api/v1/rounds/{round}/terms", "put", {"balance_days": 10**9}, "balance_days"),
    ("/api/v1/rounds/{round}/notices", "post", {"party_id": 1, "holder_id": 1, "method": "served", "detail": "x",
                                                "at": "2026-01-01T00:00:00Z"}, "party_id"),
    ("/api/v1/rounds/{round}/notices", "post", {"method": "served", "detail": "x", "at": "2026-01-01T00:00:00Z"},
     "party_id"),
    ("/api/v1/rounds/{round}/notices", "post", {"party_id": 1, "method": "pigeon", "detail": "x",
                                                "at": "2026-01-01T00:00:00Z"}, "method"),
    ("/api/v1/rounds/{round}/notices", "post", {"party_id": 1, "method": "served", "detail": "x" * 301,
                                                "at": "2026-01-01T00:00:00Z"}, "detail"),
    ("/api/v1/rounds/{round}/notices", "post", {"party_id": 1, "method": "served", "detail": "x", "at": "yesterday"},
     "at"),
    ("/api/v1/lots/{lot}/priority-holders", "post", {"name": "刘某", "kind": "alien", "id_number": "1", "right": "x",
                                                     "rank": 1}, "kind"),
    ("/api/v1/lots/{lot}/priority-holders", "post", {"name": "刘某", "kind": "person", "id_number": "1", "right": "x",
                                                     "rank": "1"}, "rank"),
    ("/api/v1/lots/{lot}/priority-holders", "post", {"name": "刘某", "kind": "person", "right": "x", "rank": 1},
     "id_number"),
    ("/api/v1/rounds/{round}/suspend", "post", {"reason": "x", "halt": "yes"}, "halt"),
    ("/api/v1/rounds/{round}/suspend", "post", {"halt": False}, "reason"),
    ("/api/v1/rounds/{round}/resume", "post", {"end_at": "tomorrow"}, "end_at"),
    ("/api/v1/rounds/{round}/resume", "post", {"until": "tomorrow"}, "until"),
    ("/api/v1/rounds/{round}/withdraw", "post", {"ground": "whim", "reason": "x"}, "ground"),
    ("/api/v1/rounds/{round}/annul", "post", {"ground": 1, "reason": "x"}, "ground"),
    ("/api/v1/rounds/{round}/balance", "post", {"amount": 735000.5}, "amount"),
    ("/api/v1/rounds/{round}/balance", "post", {"amount": "-1"}, "amount"),
    ("/api/v1/rounds/{round}/qualification", "post", {"note": ["ok"]}, "note"),
    ("/api/v1/rounds/{round}/handover", "post", {"note": 5}, "note"),
    ("/api/v1/lots/{lot}/rounds", "post", {"starting_price": "1.234"}, "starting_price"),
    ("/api/v1/lots/{lot}/variation", "post", {"deposit": "1"}, "start_at"),
    ("/api/v1/rounds/{round}/take-in-payment", "post", {"top_up": "0.00"}, "party_id"),
    ("/api/v1/rounds/{round}/take-in-payment", "post", {"party_id": 1, "top_up": "abc"}, "top_up"),
    ("/api/v1/rounds/{round}/variation-decision", "post", {"decision": {}}, "decision"),
]


def _changed(app, path: str, change: dict, draft) -> dict:
    """The body for ``path``: a complete one for lots and terms, with ``change`` applied
    (``terms.x`` changes a field of the nested terms)."""
    if path == "/api/v1/lots":
        body = {"asset_ids": [draft["asset"]], "title": "某小区", "terms": terms_body(app)}
    elif path.endswith(("/terms", "/rounds")):
        body = terms_body(app)
    else:
        body = {}
    for key, value in change.items():
        if key.startswith("terms."):
            body["terms"][key.removeprefix("terms.")] = value
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(("path", "method", "change", "field"), MALFORMED)
def test_a_malformed_body_is_a_400_naming_the_field_and_changes_nothing(app, session, as_user, world, draft, path,
                                                                         method, change, field):
    def counts():
        return [session.scalar(select(func.count(model.id))) for model in (Lot, Round, Notice, RoundEvent)]

    before = counts()
    r = getattr(as_user(world["officer"]), method)(path.format(**draft), json=_changed(app, path, change, draft))
    assert r.status_code == 400, r.json
    assert field in r.json["error"]["message"]
    assert counts() == before


@pytest.mark.parametrize(("data", "content_type"), [
    ("{not json", "application/json"), ("[1, 2]", "application/json"), ('"text"', "application/json"),
    ("[" * 100_000 + "]" * 100_000, "application/json"), ('{"asset_ids": [1]}', "text/plain"),
])
def test_an_unreadable_body_is_a_400(as_user, world, data, content_type):
    r = as_user(world["officer"]).post("/api/v1/lots", data=data, content_type=content_type)
    assert r.status_code == 400 and r.json["error"]["message"]


@pytest.mark.parametrize(("query", "field"), [
    ("per_page=101", "per_page"), ("per_page=0", "per_page"), ("page=0", "page"), ("page=-1", "page"),
    ("page=１", "page"), ("page=99999999999999999999", "page"), ("state=sleeping", "state"), ("q=%00", "q"),
    ("q=" + "x" * 201, "q"),
])
def test_an_unreadable_list_query_is_a_400(as_user, query, field):
    r = as_user.public.get(f"/api/v1/lots?{query}")
    assert r.status_code == 400 and field in r.json["error"]["message"]


WEIRD = [None, True, 0, -1, 10**30, 1.5, float("nan"), "", " ", "\x00", "\ud800", "9" * 40, "x" * 30_000,
         "2026-13-45T99:00:00+08:00", [], [[[]]], {}, {"a": {"b": {}}}]


def test_no_field_value_makes_any_endpoint_fail(app, session, as_user, world, draft):
    """Each field of a well-formed body of every endpoint, given each odd value in turn, gets a
    2xx or a 4xx with a message: never a server error."""
    officer = as_user(world["officer"])
    party_id = world["case"].parties[0].id
    now = platform_now(app)
    valid = {
        ("post", "/api/v1/lots"): {"asset_ids": [draft["asset"]], "title": "x", "terms": terms_body(app)},
        ("put", "/api/v1/rounds/{round}/terms"): terms_body(app),
        ("post", "/api/v1/rounds/{round}/notices"): {"party_id": party_id, "method": "served", "detail": "x",
                                                     "at": iso(now)},
        ("post", "/api/v1/lots/{lot}/priority-holders"): {"name": "刘某", "kind": "person",
                                                          "id_number": resident_id(), "right": "x", "rank": 1},
        ("post", "/api/v1/rounds/{round}/suspend"): {"reason": "x", "halt": False},
        ("post", "/api/v1/rounds/{round}/resume"): {"end_at": iso(now + timedelta(days=2))},
        ("post", "/api/v1/rounds/{round}/balance"): {"amount": "1.00"},
        ("post", "/api/v1/rounds/{round}/qualification"): {"note": "x"},
        ("post", "/api/v1/rounds/{round}/handover"): {"note": "x"},
        ("post", "/api/v1/lots/{lot}/rounds"): terms_body(app),
        ("post", "/api/v1/lots/{lot}/variation"): {
            "deposit": "1.00", "start_at": iso(now + timedelta(days=16)), "balance_days": 15,
            "taxes": [{"tax": "契税", "payer": "buyer"}], "court_contact": "x", "title_and_possession": "x",
            "defects_statement": "x"},
        ("post", "/api/v1/rounds/{round}/take-in-payment"): {"party_id": party_id, "top_up": "0.00"},
        ("post", "/api/v1/rounds/{round}/variation-decision"): {"decision": "x"},
        ("post", "/api/v1/rounds/{round}/annul"): {"ground": "collusion", "reason": "x"},
        ("post", "/api/v1/rounds/{round}/withdraw"): {"ground": "debt_paid", "reason": "x"},
    }
    for (method, path), body in valid.items():
        for field in body:
            for value in WEIRD:
                r = getattr(officer, method)(path.format(**draft), data=json.dumps({**body, field: value}),
                                             content_type="application/json")
                assert r.status_code < 500, (path, field, value)
                assert r.status_code in (200, 201) or r.json["error"]["message"], (path, field, value)
    for key in ("starting_price", "start_at", "balance_days", "taxes", "inspection"):
        for value in WEIRD:
            terms = {**terms_body(app), key: value}
            r = officer.post("/api/v1/lots", data=json.dumps({"asset_ids": [draft["asset"]], "title": "x",
                                                              "terms": terms}), content_type="application/json")
            assert r.status_code in (200, 201) or r.json["error"]["message"], (key, value)


# --- the OpenAPI document -----------------------------------------------------------------------------


def test_the_openapi_document_lists_every_auction_path(api):
    from auction.api import OPENAPI_PATHS

    paths = api.get("/api/v1/openapi.json").json["paths"]
    assert set(OPENAPI_PATHS) <= set(paths)
    routes = {(_openapi_form(r.rule), m.lower()) for r in api.application.url_map.iter_rules()
              if r.endpoint.startswith("auction_api.") for m in r.methods - {"HEAD", "OPTIONS"}}
    documented = {(p, m) for p, item in OPENAPI_PATHS.items() for m in item}
    assert routes == documented
    for item in OPENAPI_PATHS.values():
        for op in item.values():
            assert op["summary"] and {"200", "201"} & set(op["responses"])
    assert OPENAPI_PATHS["/api/v1/lots/{lot_id}"]["get"]["security"] == []
    assert OPENAPI_PATHS["/api/v1/lots"]["get"]["security"] == []
    assert "requestBody" in OPENAPI_PATHS["/api/v1/lots"]["post"]


def _openapi_form(rule: str) -> str:
    """``/api/v1/rounds/<int(min=1, max=…):round_id>/publish`` → ``/api/v1/rounds/{round_id}/publish``."""
    return re.sub(r"<[^>]*:([a-z_]+)>", r"{\1}", rule)


def test_the_vocabularies_match_the_service():
    from auction import api, documents

    assert set(api._PAYERS) == set(documents.PAYERS)
