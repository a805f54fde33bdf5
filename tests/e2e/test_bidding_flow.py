"""Two bidders bid against each other on the live page, in two browsers, on a simulated clock
with the platform's scheduler running in the server's process (``clocked_live_server``).

The round is published with the officer's services; the clock jumps to its start and the
scheduler opens bidding. Bidder A signs up and pays online through the (development) gateway
simulator; bidder B was qualified through a confirmed bank transfer. Each sees the other's bid
appear without reloading (Server-Sent Events). The clock jumps to 3 minutes before the end; A's
bid there extends the end by the 5-minute rule (A28), visibly on B's page; the clock jumps past
the new end, the scheduler closes the round by itself and both pages show the result.

Pages are driven through ids, ``data-live`` parts and form field names, not visible text.
Screenshots of every step land in test-artifacts/e2e/<test name>/.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from accounts.models import Role, User
from auction import services as auction_services
from auction.models import Round
from auction.rules import RoundState
from auction.views import register_pages as register_auction_pages
from bidding import services
from bidding.views import register_pages
from core.context import context_for
from tests.auction.test_services import notify_all, terms
from tests.factories import PASSWORD, make_bidder, make_case, make_priced_asset, make_user

pytestmark = pytest.mark.e2e

LIVE = 15_000  # ms: a live update arrives within the hub's reconcile interval (2 s) at worst


@dataclass(frozen=True)
class Scene:
    round_id: int
    lot_id: int
    a_username: str
    b_username: str
    b_code: str


def set_clock(page, server, at) -> None:
    """Move the platform's simulated clock through the administrators' API (bearer token)."""
    response = page.request.post(server.url + "/api/v1/admin/clock", data={"set": at.isoformat()},
                                 headers={"Authorization": f"Bearer {server.admin_token}"})
    assert response.ok, f"{response.status} {response.text()}"


def wait_for(check, *, seconds: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def round_state(server, round_id: int) -> Round:
    session = server.session()
    try:
        return session.get(Round, round_id)
    finally:
        session.close()


@pytest.fixture
def scene(clocked_live_server) -> Scene:
    """A published first auction of a house of 皖02, bidding opening 35 days from now; bidder
    A (no registration yet) and bidder B (qualified through a confirmed bank transfer)."""
    server = clocked_live_server
    app = server.app
    register_auction_pages(app)
    register_pages(app)  # what bidding/__init__.py is asked to call
    session = server.session()
    try:
        ctx = context_for(app, session, server.now())
        officer = session.scalar(select(User).where(User.username == server.officer_username))
        case = make_case(session, officer)
        asset = make_priced_asset(session, case, title="芜湖市镜湖区某小区3栋502室")
        session.commit()
        lot = auction_services.create_lot(session, actor=officer, asset_ids=[asset.id], title="镜湖区某小区3栋502室",
                                          terms=terms(ctx), ctx=ctx)
        rnd = lot.current
        notify_all(session, {"case": case, "officer": officer, "asset": asset}, rnd, ctx, ctx.now - timedelta(days=4))
        auction_services.publish(session, actor=officer, round_id=rnd.id, ctx=ctx)
        make_bidder(session, real_name="王竞买", username="bidder_wang")
        b = make_bidder(session, real_name="李竞买", username="bidder_li")
        finance = make_user(session, Role.FINANCE, court_id=case.court_id)
        session.commit()
        at_start = replace(ctx, now=rnd.start_at)
        reg = services.register(session, user=b, round_id=rnd.id, housing_promise=True, ctx=at_start)
        dep = services.declare_bank_transfer(session, user=b, registration_id=reg.id, payer_name="李竞买",
                                             bank_reference="建行 6217 0001", ctx=at_start)
        services.confirm_bank_transfer(session, finance=finance, deposit_id=dep.id, ctx=at_start)
        return Scene(round_id=rnd.id, lot_id=lot.id, a_username="bidder_wang", b_username="bidder_li",
                     b_code=reg.code)
    finally:
        session.close()


def log_in(page, server, username: str) -> None:
    page.goto(server.url + "/accounts/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form.stacked button[type=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()


def live_part(page, name: str):
    return page.locator(f"[data-live={name}]")


def bid_next(page) -> None:
    """Take the first next valid amount and bid it."""
    page.locator("[data-next-amount]").first.click()
    page.locator("#bid-submit").click()
    expect(page.locator("#receipt")).to_be_visible()


def test_two_bidders_bid_live_the_end_extends_and_the_round_closes_by_itself(new_page, clocked_live_server, scene, shot):
    server = clocked_live_server
    rid = scene.round_id
    a, b = new_page(), new_page()
    rnd = round_state(server, rid)

    # Bidding opens by itself when the clock reaches the start.
    set_clock(a, server, rnd.start_at + timedelta(minutes=1))
    wait_for(lambda: round_state(server, rid).state == RoundState.BIDDING, what="bidding to open")

    # A signs up (housing promise) and pays online through the simulated gateway.
    log_in(a, server, scene.a_username)
    a.goto(f"{server.url}/auction/lots/{scene.lot_id}")
    a.locator(f"a[href='/bidding/rounds/{rid}/signup']").first.click()
    a.locator("input[name=housing_promise]").check()
    a.locator("input[name=accept]").check()
    a.locator("main form button[type=submit]").click()
    expect(a).to_have_url(re.compile(rf"/bidding/rounds/{rid}$"))
    shot(a, "a-signed-up-deposit-due")
    a.locator("#pay-online").click()
    shot(a, "a-gateway-simulator")
    a.locator("#pay").click()
    expect(a.locator("#my-code")).to_be_visible()
    a_code = a.locator("#my-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{4}", a_code) and a_code != scene.b_code

    log_in(b, server, scene.b_username)
    b.goto(f"{server.url}/bidding/rounds/{rid}")
    expect(b.locator("#my-code")).to_have_text(scene.b_code)
    expect(live_part(b, "count")).to_have_text("0")
    for page in (a, b):  # the countdown runs on the server's clock
        expect(live_part(page, "countdown")).to_have_text(re.compile(r"\d\d:\d\d:\d\d$"))
    shot(b, "b-qualified-no-bid-yet")

    # A bids; B sees it without reloading.
    bid_next(a)
    expect(a.locator("#receipt-time")).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"))
    expect(a.locator("#receipt-amount")).to_have_text("¥700,000.00")
    shot(a, "a-receipt")
    expect(b.locator("[data-live=bids] li[data-seq='1']")).to_contain_text(a_code, timeout=LIVE)
    expect(live_part(b, "price")).to_have_text("¥700,000.00")
    expect(live_part(b, "leader")).to_have_text(a_code)
    expect(b.locator("[data-next-amount]").first).to_have_attribute("data-next-amount", "705000.00")
    shot(b, "b-sees-a-bid-live")

    # B outbids; A sees it without reloading.
    bid_next(b)
    expect(b.locator("#receipt-amount")).to_have_text("¥705,000.00")
    expect(a.locator("[data-live=bids] li[data-seq='2']")).to_contain_text(scene.b_code, timeout=LIVE)
    expect(live_part(a, "price")).to_have_text("¥705,000.00")
    shot(a, "a-sees-b-bid-live")

    # Three minutes before the end: A's bid extends the end to 5 minutes after it (A28).
    end = round_state(server, rid).end_at
    set_clock(a, server, end - timedelta(minutes=3))
    expect(live_part(b, "countdown")).to_have_text(re.compile(r"^00:0[23]:\d\d$"), timeout=LIVE)
    shown_end = live_part(b, "end").inner_text()
    expect(live_part(b, "extended")).to_be_hidden()
    a.reload()
    bid_next(a)
    expect(a.locator("#receipt-end .badge")).to_be_visible()  # "extended by your bid"
    extended = round_state(server, rid).end_at
    assert extended > end
    expect(live_part(b, "price")).to_have_text("¥710,000.00", timeout=LIVE)
    expect(live_part(b, "end")).not_to_have_text(shown_end)
    expect(live_part(b, "extended")).to_be_visible()
    expect(live_part(b, "countdown")).to_have_text(re.compile(r"^00:0[45]:\d\d$"))
    expect(b.locator("[data-live=bids] li[data-seq='3'] .badge")).to_be_visible()
    shot(b, "b-sees-the-end-extend")

    # Past the new end: the scheduler closes the round by itself; both pages show the result.
    set_clock(a, server, extended + timedelta(minutes=1))
    for page in (a, b):
        expect(live_part(page, "result")).to_be_visible(timeout=LIVE)
        expect(live_part(page, "result")).to_contain_text("¥710,000.00")
        expect(live_part(page, "result")).to_contain_text(a_code)
        expect(page.locator("#bid-submit")).to_be_hidden()
    closed = round_state(server, rid)
    assert closed.state == RoundState.AWAITING_BALANCE and closed.buyer_code == a_code
    assert closed.sale_price == 710000
    shot(a, "a-won")
    shot(b, "b-result")

    # The public lot page shows the result too.
    visitor = new_page()
    visitor.goto(f"{server.url}/auction/lots/{scene.lot_id}")
    expect(visitor.locator("#result")).to_contain_text(a_code)
    shot(visitor, "public-lot-result")
