"""The bidding pages, the gateway callback and the live book through the test client.

The app's clock is real time, so a round is prepared in the past (published 40 days ago, its
bidding opened) and its end moved to just after now, as tests/bidding/test_races.py does: the
same tests then run on SQLite (bid time: the process clock) and on PostgreSQL (bid time:
``clock_timestamp()``).
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accounts.models import Role
from auction import services as auction_services
from auction.models import Round
from auction.rules import RoundState
from auction.views import register_pages as register_auction_pages
from bidding import live, rules, services
from bidding.models import Bid, Deposit
from bidding.rules import DepositState
from bidding.views import register_pages
from core.audit import AuditEntry
from core.calendar import WorkCalendar
from core.context import Context
from core.files import FileStore
from core.rulebook import SPC
from tests.auction.test_services import notify_all, terms
from tests.conftest import csrf_from
from tests.factories import PASSWORD, VAULT, make_bidder, make_case, make_priced_asset, make_user


@pytest.fixture
def app(app_factory):
    app = app_factory(LIVE_KEEPALIVE_SECONDS=0.3, LIVE_RECONCILE_SECONDS=0.05)
    register_auction_pages(app)
    register_pages(app)  # what bidding/__init__.py is asked to call; idempotent
    yield app
    live.shutdown(app)


def real_now() -> datetime:
    return datetime.now(timezone.utc)


def past_ctx(tmp_path) -> Context:
    return Context(now=real_now() - timedelta(days=40), rulebook=SPC, calendar=WorkCalendar(), vault=VAULT,
                   store=FileStore(tmp_path / "files"), base_url="http://test")


def open_round(session, tmp_path, *, ends_in=timedelta(hours=2), court=None, title="镜湖区某小区3栋502室") -> Round:
    """A published round of a housing lot, bidding since 5 days ago, ending ``ends_in`` from now."""
    from tests.factories import make_officer

    past = past_ctx(tmp_path)
    officer = make_officer(session, court=court) if court is not None else None
    case = make_case(session, officer) if officer is not None else make_case(session)
    asset = make_priced_asset(session, case)
    world = {"case": case, "officer": case.officer, "asset": asset}
    session.commit()
    lot = auction_services.create_lot(session, actor=case.officer, asset_ids=[asset.id], title=title,
                                      terms=terms(past), ctx=past)
    rnd = lot.current
    notify_all(session, world, rnd, past, past.now - timedelta(days=4))
    auction_services.publish(session, actor=case.officer, round_id=rnd.id, ctx=past)
    auction_services.run_due(session, replace(past, now=rnd.start_at))
    session.execute(update(Round).where(Round.id == rnd.id).values(end_at=real_now() + ends_in))
    session.commit()
    session.refresh(rnd)
    assert rnd.state == RoundState.BIDDING
    return rnd


def now_ctx(tmp_path) -> Context:
    return replace(past_ctx(tmp_path), now=real_now())


def qualified(session, rnd, tmp_path, **kw):
    """A bidder signed up, its bank transfer confirmed by the court's finance officer."""
    ctx = now_ctx(tmp_path)
    bidder = make_bidder(session, **kw)
    reg = services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=ctx)
    dep = services.declare_bank_transfer(session, user=bidder, registration_id=reg.id,
                                         payer_name=bidder.identity.real_name, bank_reference="工行 6222 0001", ctx=ctx)
    finance = make_user(session, Role.FINANCE, court_id=rnd.lot.case.court_id)
    services.confirm_bank_transfer(session, finance=finance, deposit_id=dep.id, ctx=ctx)
    return bidder, reg


def client_for(app, username: str | None = None, *, lang: str = "en"):
    """A test client of its own (English unless asked), logged in through the real form."""
    c = app.test_client()
    c.get(f"/lang/{lang}")
    if username:
        token = csrf_from(c.get("/accounts/login").get_data(as_text=True))
        r = c.post("/accounts/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 302, "login failed"
    return c


def post(c, url: str, data: dict, *, page: str):
    token = csrf_from(c.get(page).get_data(as_text=True))
    return c.post(url, data={**data, "csrf_token": token})


def bid_form(c, rnd) -> tuple[str, str]:
    """The bid page's CSRF token and fresh idempotency key."""
    html = c.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', html)
    assert key, "the bid page has no bid form"
    return csrf_from(html), key.group(1)


def place(c, rnd, amount: str, *, key: str | None = None):
    token, fresh = bid_form(c, rnd)
    return c.post(f"/bidding/rounds/{rnd.id}/bids",
                  data={"amount": amount, "idempotency_key": key or fresh, "csrf_token": token})


# --- signing up and deposits ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/bidding/my", "/bidding/rounds/{id}", "/bidding/rounds/{id}/signup",
                                  "/bidding/finance"])
def test_pages_behind_a_login_send_anonymous_visitors_to_the_login(app, session, tmp_path, path):
    rnd = open_round(session, tmp_path)
    r = app.test_client().get(path.format(id=rnd.id))
    assert r.status_code == 302 and "/accounts/login" in r.headers["Location"]


def test_other_roles_may_not_use_the_bidders_pages_nor_bidders_the_finance_page(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    officer = rnd.lot.case.officer
    bidder = make_bidder(session)
    session.commit()
    assert client_for(app, officer.username).get(f"/bidding/rounds/{rnd.id}").status_code == 403
    assert client_for(app, bidder.username).get("/bidding/finance").status_code == 403


def test_a_bidder_signs_up_with_the_housing_promise(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder = make_bidder(session, real_name="孙报名")
    session.commit()
    c = client_for(app, bidder.username)
    page = f"/bidding/rounds/{rnd.id}/signup"
    html = c.get(page).get_data(as_text=True)
    assert 'name="housing_promise"' in html and "S4" in html

    r = post(c, page, {"accept": "y"}, page=page)  # no housing promise
    assert r.status_code == 200 and "purchase qualification (S4)" in r.get_data(as_text=True)
    assert services.my_registration(session, user=bidder, round_id=rnd.id) is None

    r = post(c, page, {"accept": "y", "housing_promise": "y"}, page=page)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/bidding/rounds/{rnd.id}")
    reg = services.my_registration(session, user=bidder, round_id=rnd.id)
    assert reg is not None and reg.housing_promise and reg.qualified_at is None
    page_html = c.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
    assert "芜湖中院执行局" in page_html  # the court's account details come from the round's contact
    assert "¥70,000.00" in page_html and 'id="pay-online"' in page_html
    assert c.get(page).status_code == 302  # signed up already: straight to the bid page


def test_a_declared_transfer_is_confirmed_by_the_finance_officer_of_the_court(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder = make_bidder(session, real_name="周转账")
    finance = make_user(session, Role.FINANCE, court_id=rnd.lot.case.court_id)
    session.commit()
    c = client_for(app, bidder.username)
    post(c, f"/bidding/rounds/{rnd.id}/signup", {"accept": "y", "housing_promise": "y"},
         page=f"/bidding/rounds/{rnd.id}/signup")
    r = post(c, f"/bidding/rounds/{rnd.id}/deposit", {"payer_name": "周转账", "bank_reference": "工行 8888"},
             page=f"/bidding/rounds/{rnd.id}")
    assert r.status_code == 302
    dep = session.scalars(select(Deposit)).one()
    assert dep.state == DepositState.PENDING and dep.bank_reference == "工行 8888"

    f = client_for(app, finance.username)
    html = f.get("/bidding/finance").get_data(as_text=True)
    assert "周转账" in html and "工行 8888" in html and "¥70,000.00" in html

    def payer_views():
        return session.scalars(select(AuditEntry).where(AuditEntry.action == "deposit.payer_viewed")).all()

    # Decision 21: each view of a sealed payer is in the ledger, in the bidder's own stream.
    assert [(e.stream, e.actor) for e in payer_views()] == [(f"user:{bidder.id}", finance.actor)]
    r = post(f, f"/bidding/finance/deposits/{dep.id}/confirm", {}, page="/bidding/finance")
    assert len(payer_views()) == 2  # the page was shown again to confirm
    assert r.status_code == 302
    session.expire_all()
    assert dep.state == DepositState.HELD and dep.confirmed_by_id == finance.id
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "deposit.confirmed")).one().actor == finance.actor
    assert "周转账" not in f.get("/bidding/finance").get_data(as_text=True)  # confirmed: no longer shown
    assert len(payer_views()) == 2  # nothing sealed shown, nothing recorded
    page_html = c.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
    assert dep.registration.code in page_html and 'id="bid-submit"' in page_html


def test_a_payer_other_than_the_bidder_is_refused_with_the_rule(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder = make_bidder(session, real_name="吴本人")
    finance = make_user(session, Role.FINANCE, court_id=rnd.lot.case.court_id)
    reg = services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=now_ctx(tmp_path))
    dep = services.declare_bank_transfer(session, user=bidder, registration_id=reg.id, payer_name="别人",
                                         bank_reference="R1", ctx=now_ctx(tmp_path))
    session.commit()
    f = client_for(app, finance.username)
    r = post(f, f"/bidding/finance/deposits/{dep.id}/confirm", {}, page="/bidding/finance")
    assert "decision 10" in f.get(r.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    assert dep.state == DepositState.PENDING


def test_a_finance_officer_of_another_court_sees_nothing_and_gets_403(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder = make_bidder(session, real_name="郑别院")
    reg = services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=now_ctx(tmp_path))
    dep = services.declare_bank_transfer(session, user=bidder, registration_id=reg.id, payer_name="郑别院",
                                         bank_reference="R2", ctx=now_ctx(tmp_path))
    other = make_user(session, Role.FINANCE)  # a finance officer of a court of its own
    session.commit()
    f = client_for(app, other.username)
    assert "郑别院" not in f.get("/bidding/finance").get_data(as_text=True)
    r = post(f, f"/bidding/finance/deposits/{dep.id}/confirm", {}, page="/bidding/finance")
    assert r.status_code == 403
    r = post(f, f"/bidding/finance/deposits/{dep.id}/refund", {}, page="/bidding/finance")
    assert r.status_code == 403
    session.expire_all()
    assert dep.state == DepositState.PENDING


# --- paying online ---------------------------------------------------------------------------------


def test_paying_online_through_the_simulator_qualifies_the_bidder(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder = make_bidder(session, real_name="钱在线")
    reg = services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=now_ctx(tmp_path))
    session.commit()
    c = client_for(app, bidder.username)
    page = f"/bidding/gateway/{reg.id}"
    assert "¥70,000.00" in c.get(page).get_data(as_text=True)
    r = post(c, page, {}, page=page)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/bidding/rounds/{rnd.id}")
    session.expire_all()
    assert reg.deposit.state == DepositState.HELD and reg.deposit.method == "gateway" and reg.qualified_at
    assert reg.code in c.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
    other = make_bidder(session)
    session.commit()
    assert client_for(app, other.username).get(page).status_code == 404  # not its registration


def test_the_gateway_callback_needs_no_csrf_but_a_valid_fresh_signature(app, session, tmp_path):
    app.config["GATEWAY_SECRET"] = "callback-secret"
    rnd = open_round(session, tmp_path)
    bidder = make_bidder(session, real_name="李网关")
    reg = services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=now_ctx(tmp_path))
    session.commit()
    body = json.dumps({"registration_id": reg.id, "tx": "GW-42", "amount": "70000.00", "payer": "李网关"}).encode()
    ts = str(real_now().timestamp())
    good = rules.gateway_signature("callback-secret", timestamp=ts, body=body)
    c = app.test_client()

    def send(signature, timestamp=ts):
        return c.post("/bidding/gateway/callback", data=body, content_type="application/json",
                      headers={"X-Timestamp": timestamp, "X-Signature": signature})

    assert send("0" * 64).status_code == 400
    stale = str(real_now().timestamp() - 3600)
    assert send(rules.gateway_signature("callback-secret", timestamp=stale, body=body), stale).status_code == 400
    r = send(good)
    assert r.status_code == 200 and r.get_json() == {"status": "ok", "deposit": "held"}
    assert send(good).status_code == 200  # a replay changes nothing
    assert len(session.scalars(select(Deposit)).all()) == 1


def test_the_simulator_does_not_exist_in_production(app_factory, session, tmp_path):
    prod = app_factory(ENV="production", GATEWAY_SECRET="s")
    rnd = open_round(session, tmp_path)
    bidder = make_bidder(session)
    reg = services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=now_ctx(tmp_path))
    session.commit()
    c = prod.test_client()
    with c.session_transaction(base_url="https://localhost") as cookie:
        cookie["_user_id"], cookie["_fresh"] = str(bidder.id), True  # logged in (the cookie is HTTPS-only here)
    assert c.get(f"/bidding/rounds/{rnd.id}", base_url="https://localhost").status_code == 200
    assert c.get(f"/bidding/gateway/{reg.id}", base_url="https://localhost").status_code == 404
    assert 'id="pay-online"' not in c.get(f"/bidding/rounds/{rnd.id}", base_url="https://localhost").get_data(as_text=True)


# --- bidding ---------------------------------------------------------------------------------------------


def test_an_accepted_bid_shows_its_receipt_to_the_millisecond(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder, reg = qualified(session, rnd, tmp_path)
    session.commit()
    c = client_for(app, bidder.username)
    html = c.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
    assert all(a in html for a in ('data-next-amount="700000.00"', 'data-next-amount="705000.00"'))
    r = place(c, rnd, "700,000")
    assert r.status_code == 302 and r.headers["Location"].endswith("#receipt")
    page = c.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
    bid = session.scalars(select(Bid)).one()
    assert bid.amount == Decimal("700000.00") and bid.code == reg.code
    receipt = page.split('id="receipt"')[1].split("</section>")[0]
    assert "Your bid is accepted" in receipt and "¥700,000.00" in receipt
    assert re.search(r'id="receipt-time"><time[^>]*>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}</time>', receipt)
    assert bid.received_at.astimezone().strftime("%S") in receipt
    assert 'data-next-amount="705000.00"' in page  # the next valid amount moved up
    assert 'id="receipt"' not in c.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)  # shown once


def test_sending_the_same_form_twice_makes_one_bid_and_the_same_receipt(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder, _reg = qualified(session, rnd, tmp_path)
    session.commit()
    c = client_for(app, bidder.username)
    token, key = bid_form(c, rnd)
    receipts = []
    for _ in range(2):
        r = c.post(f"/bidding/rounds/{rnd.id}/bids", data={"amount": "700000", "idempotency_key": key,
                                                          "csrf_token": token})
        assert r.status_code == 302
        page = c.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
        receipts.append(re.search(r'id="receipt-time"><time datetime="([^"]+)"', page).group(1))
    assert receipts[0] == receipts[1]
    assert "No second bid was made" in page
    assert len(session.scalars(select(Bid)).all()) == 1


def test_a_refused_bid_shows_the_rules_words_in_the_users_language(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder, _reg = qualified(session, rnd, tmp_path)
    session.commit()
    c = client_for(app, bidder.username)
    place(c, rnd, "701000")
    page = c.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
    assert "Your bid of ¥701,000.00 was refused" in page
    assert "A bid must be the starting price plus whole increments (decision 11)." in page
    zh = client_for(app, bidder.username, lang="zh_CN")
    place(zh, rnd, "600000")
    assert "低于起拍价的出价无效（A26）" in zh.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
    assert session.scalars(select(Bid)).all() == []


def test_an_unqualified_bidder_sees_no_bid_form_and_cannot_bid(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder = make_bidder(session)
    services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=now_ctx(tmp_path))
    session.commit()
    c = client_for(app, bidder.username)
    html = c.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
    assert "data-bid-form novalidate" not in html and 'id="my-code"' not in html
    token = csrf_from(html)
    c.post(f"/bidding/rounds/{rnd.id}/bids", data={"amount": "700000", "idempotency_key": "k" * 32,
                                                   "csrf_token": token})
    assert "(A20)" in c.get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
    assert session.scalars(select(Bid)).all() == []


def test_my_page_lists_my_registrations_only(app, session, tmp_path):
    rnd = open_round(session, tmp_path, title="我的第一件拍品")
    other = open_round(session, tmp_path, title="别人的拍品")
    bidder, reg = qualified(session, rnd, tmp_path)
    qualified(session, other, tmp_path)
    session.commit()
    html = client_for(app, bidder.username).get("/bidding/my").get_data(as_text=True)
    assert "我的第一件拍品" in html and reg.code in html and "别人的拍品" not in html


# --- reads close an ended round ---------------------------------------------------------------------


def end_now(session, rnd) -> None:
    session.execute(update(Round).where(Round.id == rnd.id).values(end_at=real_now() - timedelta(seconds=1)))
    session.commit()


def test_the_book_closes_a_round_whose_end_has_passed(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder, reg = qualified(session, rnd, tmp_path)
    session.commit()
    place(client_for(app, bidder.username), rnd, "700000")
    end_now(session, rnd)
    book = app.test_client().get(f"/bidding/rounds/{rnd.id}/book.json")
    assert book.status_code == 200 and book.headers["Cache-Control"] == "no-store"
    data = book.get_json()
    assert data["state"] == "awaiting_balance" and data["closed"] is True
    assert data["sale_price"] == "700000.00" and data["buyer_code"] == reg.code
    assert data["bids"][0]["code"] == reg.code and isinstance(data["now_ms"], int)
    session.expire_all()
    assert session.get(Round, rnd.id).closed_at is not None


def test_the_bid_page_closes_a_round_whose_end_has_passed(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder, reg = qualified(session, rnd, tmp_path)
    session.commit()
    end_now(session, rnd)
    html = client_for(app, bidder.username).get(f"/bidding/rounds/{rnd.id}").get_data(as_text=True)
    assert "No bid: no sale" in html and "data-bid-form novalidate" not in html
    session.expire_all()
    assert session.get(Round, rnd.id).state == RoundState.UNSOLD


def test_the_finance_officer_records_a_bank_refund_after_the_close(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    a, reg_a = qualified(session, rnd, tmp_path, real_name="甲退款")
    b, _reg_b = qualified(session, rnd, tmp_path)
    session.commit()
    place(client_for(app, b.username), rnd, "700000")
    end_now(session, rnd)
    app.test_client().get(f"/bidding/rounds/{rnd.id}/book.json")  # closes it
    finance = make_user(session, Role.FINANCE, court_id=rnd.lot.case.court_id)
    session.commit()
    f = client_for(app, finance.username)
    html = f.get("/bidding/finance").get_data(as_text=True)
    session.expire_all()
    dep = reg_a.deposit
    assert f'id="refund-{dep.id}"' in html and "工行 6222 0001" in html and "甲退款" not in html
    r = post(f, f"/bidding/finance/deposits/{dep.id}/refund", {}, page="/bidding/finance")
    assert r.status_code == 302
    session.expire_all()
    assert dep.state == DepositState.REFUNDED


# --- the live stream ----------------------------------------------------------------------------------


def read_events(response, *, until, timeout: float = 5.0) -> list[tuple[str, str, dict]]:
    """``(id, event, data)`` of the stream's messages until ``until(messages)`` holds."""
    found: list[tuple[str, str, dict]] = []
    buffer = ""
    deadline = time.monotonic() + timeout
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            message, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in message.split("\n") if ": " in line and not line.startswith(":"))
            if "event" in fields:
                found.append((fields.get("id", ""), fields["event"], json.loads(fields["data"])))
        if until(found) or time.monotonic() > deadline:
            break
    return found


def bids_of(messages) -> list[int]:
    return [d["seq"] for _i, kind, d in messages if kind == "bid"]


def test_the_stream_sends_a_new_bid_and_resyncs_from_last_event_id(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    a, reg_a = qualified(session, rnd, tmp_path)
    b, reg_b = qualified(session, rnd, tmp_path)
    session.commit()
    ca, cb = client_for(app, a.username), client_for(app, b.username)
    place(ca, rnd, "700000")
    watcher = app.test_client()

    stream = watcher.get(f"/bidding/rounds/{rnd.id}/events?after=0", buffered=False)
    assert stream.status_code == 200 and stream.mimetype == "text/event-stream"
    assert stream.headers["Cache-Control"] == "no-cache"
    first = read_events(stream, until=lambda m: any(k == "state" for _i, k, _d in m))
    assert [(i, k) for i, k, _d in first] == [("1", "bid"), ("1.1", "state")]
    assert first[0][2]["code"] == reg_a.code and first[0][2]["amount"] == "700000.00"
    assert first[1][2]["seq"] == 1 and first[1][2]["leader"] == reg_a.code

    place(cb, rnd, "705000")  # while the stream is open
    more = read_events(stream, until=lambda m: bids_of(m) == [2])
    stream.close()
    ident, _kind, data = next(m for m in more if m[1] == "bid")
    assert ident == "2" and data["code"] == reg_b.code and data["amount"] == "705000.00"
    assert {"at", "at_ms", "end_ms", "now_ms"} <= set(data) and data["round_id"] == rnd.id

    again = watcher.get(f"/bidding/rounds/{rnd.id}/events", headers={"Last-Event-ID": "1"}, buffered=False)
    resent = read_events(again, until=lambda m: any(k == "state" for _i, k, _d in m))
    again.close()
    assert bids_of(resent) == [2]  # only what the client missed, from the database
    latest = watcher.get(f"/bidding/rounds/{rnd.id}/events", headers={"Last-Event-ID": "2.7"}, buffered=False)
    assert bids_of(read_events(latest, until=lambda m: any(k == "state" for _i, k, _d in m))) == []
    latest.close()
    assert live.hub_for(app).watching() == 0  # closed streams leave the hub


def test_the_stream_of_a_closed_round_sends_the_result_and_ends(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    end_now(session, rnd)
    stream = app.test_client().get(f"/bidding/rounds/{rnd.id}/events", buffered=False)
    messages = read_events(stream, until=lambda m: False, timeout=3)  # the stream ends by itself
    assert [k for _i, k, _d in messages] == ["close"] and messages[0][2]["state"] == "unsold"
    ident = messages[0][0]
    again = app.test_client().get(f"/bidding/rounds/{rnd.id}/events", headers={"Last-Event-ID": ident})
    assert again.status_code == 204  # a browser coming back after the close stops reconnecting


def test_unpublished_or_unknown_rounds_have_no_public_book(app, session, tmp_path):
    c = app.test_client()
    assert c.get("/bidding/rounds/999999/book.json").status_code == 404
    assert c.get("/bidding/rounds/999999/events").status_code == 404


# --- the hub --------------------------------------------------------------------------------------------


def test_published_events_reach_the_hub_only_after_the_commit(app, session, tmp_path, dialect):
    if dialect != "sqlite":
        pytest.skip("SQLite's in-process path; PostgreSQL's NOTIFY is tested below")
    hub = live.hub_for(app)
    sub = hub.subscribe(4242)
    try:
        live.publish(session, 4242, "state", {"state": "bidding"})
        assert sub.queue.empty()
        session.rollback()
        session.commit()
        assert sub.queue.empty()  # rolled back: never announced
        live.publish(session, 4242, "end", {"end_ms": 1})
        session.commit()
        ev = sub.queue.get(timeout=1)
        assert (ev.round_id, ev.kind, ev.data) == (4242, "end", {"end_ms": 1})
    finally:
        hub.unsubscribe(sub)
    with pytest.raises(ValueError):
        live.publish(session, 1, "anything", {})


def test_postgres_notify_reaches_the_listener_after_commit_and_it_reconnects(app_factory, tmp_path, dialect):
    if dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY needs PostgreSQL")
    from sqlalchemy import text

    from core.db import make_engine
    from tests.conftest import app_config, new_database

    url, drop = new_database(tmp_path)
    from core import create_app

    app = create_app(app_config(url, tmp_path / "instance", LIVE_RECONCILE_SECONDS=0.05))
    engine = make_engine(url)
    hub = live.hub_for(app)
    sub = hub.subscribe(77)
    try:
        assert hub.listening.wait(10)
        with Session(engine) as s:
            live.publish(s, 77, "state", {"state": "suspended"})
            time.sleep(0.3)
            assert sub.queue.empty()  # not before the commit
            s.rollback()
        with Session(engine) as s:
            live.publish(s, 77, "state", {"state": "bidding"})
            s.commit()
        assert sub.queue.get(timeout=5).data == {"state": "bidding"}
        assert sub.queue.empty()

        # The listener's connection dies: it reconnects and delivers again.
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE query ILIKE 'LISTEN%' AND pid <> pg_backend_pid() AND datname = current_database()"))
            conn.commit()
        deadline = time.monotonic() + 10
        got = None
        while got is None and time.monotonic() < deadline:
            with Session(engine) as s:
                live.publish(s, 77, "end", {"end_ms": 5})
                s.commit()
            try:
                got = sub.queue.get(timeout=0.5)
            except Exception:  # noqa: BLE001 - not listening again yet
                got = None
        assert got is not None and got.kind == "end"
    finally:
        hub.unsubscribe(sub)
        live.shutdown(app)
        app.extensions["database"].dispose()
        engine.dispose()
        drop()


def test_the_lot_page_panel_shows_the_live_book(app, session, tmp_path):
    """What the public lot page shows once it includes ``bidding/_panel.html``."""
    from flask import render_template_string

    from auction import labels

    rnd = open_round(session, tmp_path)
    a, reg = qualified(session, rnd, tmp_path)
    session.commit()
    place(client_for(app, a.username), rnd, "700000")
    with app.test_request_context("/"):
        html = render_template_string('{% include "bidding/_panel.html" %}', rnd=session.get(Round, rnd.id),
                                      labels=labels)
    assert f'data-live-round="{rnd.id}"' in html and reg.code in html and "¥700,000.00" in html
    assert f"/bidding/rounds/{rnd.id}/events" in html and "EventSource" in html
    lot_page = app.test_client().get(f"/auction/lots/{rnd.lot_id}").get_data(as_text=True)
    assert f"/bidding/rounds/{rnd.id}/signup" in lot_page  # the "sign up" link, through lot_links


def test_a_thread_safe_fan_out_to_many_subscribers(app):
    hub = live.hub_for(app)
    subs = [hub.subscribe(9) for _ in range(50)]
    threads = [threading.Thread(target=hub.deliver, args=(live.Event(9, "end", {"end_ms": i}),)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s.queue.qsize() == 20 for s in subs)
    for s in subs:
        hub.unsubscribe(s)
    assert hub.watching() == 0

