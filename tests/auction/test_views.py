"""Officer and public auction pages through the test client.

The app's clock is real time: notices are dated in the past through the form's date field so
that publication is allowed now, and the close of a round (the bidding package's) is simulated
with ``services.run_due`` and ``services.record_sale`` at the round's own times.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from accounts.models import Role
from auction import services
from auction.models import Lot, Round
from auction.rules import NoticeMethod, RoundState
from auction.services import Terms
from auction.views import register_pages
from cases.models import AssetFile
from cases.rules import local_today
from core.context import context_for
from core.files import file_store
from core.i18n import SHANGHAI
from tests.conftest import csrf_from
from tests.factories import PASSWORD, make_bidder, make_case, make_officer, make_priced_asset, make_user, png_bytes


@pytest.fixture
def app(app_factory):
    app = app_factory()
    register_pages(app)  # what auction/__init__.py is asked to call; idempotent
    return app


@pytest.fixture
def world(app, session):
    case = make_case(session)
    asset = make_priced_asset(session, case, title="芜湖市镜湖区某小区3栋502室")
    photo = session.scalars(select(AssetFile).where(AssetFile.asset_id == asset.id)).one()
    photo.sha256 = file_store(app).put(png_bytes())  # a real file behind the factory's photo row
    session.flush()
    return {"case": case, "officer": case.officer, "asset": asset, "photo": photo.sha256}


def clock_now(app):
    return app.extensions["clock"].now()


def english(app):
    """A test client of its own showing the pages in English (the default is Chinese)."""
    c = app.test_client()
    c.get("/lang/en")
    return c


def signed_in(app, username: str):
    """A test client of its own (English), logged in through the real login form."""
    c = english(app)
    token = csrf_from(c.get("/accounts/login").get_data(as_text=True))
    r = c.post("/accounts/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, "login failed"
    return c


def post(c, url: str, data: dict, *, page: str, prefix: str | None = None, follow: bool = False):
    """POST ``data`` with the CSRF token read from ``page`` (under the form's prefix too)."""
    token = csrf_from(c.get(page).get_data(as_text=True))
    data = {**data, "csrf_token": token}
    if prefix:
        data[f"{prefix}-csrf_token"] = token
    return c.post(url, data=data, follow_redirects=follow)


def local_input(when) -> str:
    """How a ``datetime-local`` input sends a Beijing time."""
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def morning(app, days: int) -> datetime:
    day = local_today(clock_now(app)) + timedelta(days=days)
    return datetime.combine(day, time(10, 0), tzinfo=SHANGHAI).astimezone(timezone.utc)


def terms_data(app, prefix: str = "", **kw) -> dict:
    """A complete terms form (one tax row filled) for a first auction of real estate."""
    start = kw.pop("start", morning(app, 31))
    data = {"starting_price": "700,000", "deposit": "70000", "increment": "5000", "start_at": local_input(start),
            "end_at": local_input(start + timedelta(hours=24)), "balance_days": "30",
            "taxes-0-tax": "契税", "taxes-0-payer": "buyer", "taxes-1-tax": "增值税", "taxes-1-payer": "debtor",
            "taxes-2-tax": "", "taxes-2-payer": "buyer", "taxes-3-tax": "", "taxes-3-payer": "buyer",
            "inspection": "每周三上午看样", "panel_record": "合议庭评议：起拍价按参考价七成确定",
            "court_contact": "执行局 0553-0000000；监督电话 0553-1111111",
            "title_and_possession": "不动产权证号皖(2020)芜湖市不动产权第0000001号；被执行人居住",
            "defects_statement": "无已知瑕疵", "special_notes": ""}
    data.update(kw)
    return {f"{prefix}-{k}" if prefix else k: v for k, v in data.items()}


def create_through_form(app, c, world, **kw) -> Lot:
    page = f"/auction/assets/{world['asset'].id}/lot/new"
    r = post(c, page, {"title": "镜湖区某小区3栋502室", **terms_data(app, **kw)}, page=page)
    assert r.status_code == 302, r.get_data(as_text=True)
    return world_lot(world)


def world_lot(world) -> Lot:
    from sqlalchemy.orm import object_session

    session = object_session(world["asset"])
    session.expire_all()
    return session.scalars(select(Lot).order_by(Lot.id.desc())).first()


def notify_through_form(c, lot: Lot, world, when):
    manage = f"/auction/lots/{lot.id}/manage"
    for p in world["case"].parties:
        r = post(c, f"/auction/rounds/{lot.current.id}/notices",
                 {"notice-recipient": f"party:{p.id}", "notice-method": "served", "notice-detail": "EMS 1234567890 签收",
                  "notice-at": local_input(when)}, page=manage, prefix="notice")
        assert r.status_code == 302


def published_lot(app, session, world) -> Lot:
    """A lot published through the pages, its notices dated 4 days back."""
    c = signed_in(app, world["officer"].username)
    lot = create_through_form(app, c, world)
    notify_through_form(c, lot, world, clock_now(app) - timedelta(days=4))
    r = post(c, f"/auction/rounds/{lot.current.id}/publish", {}, page=f"/auction/lots/{lot.id}/manage")
    assert r.status_code == 302
    session.expire_all()
    assert lot.current.state == RoundState.ANNOUNCED
    return lot


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/auction/", "/auction/lots/1/manage", "/auction/assets/1/lot/new",
                                  "/auction/lots/1/documents/" + "a" * 64])
def test_court_pages_need_a_login(client, path):
    r = client.get(path)
    assert r.status_code == 302 and "/accounts/login" in r.headers["Location"]


def test_the_public_listing_and_an_unknown_lot_need_no_login(client):
    assert client.get("/auction/lots").status_code == 200
    assert client.get("/auction/lots/999999").status_code == 404
    assert client.get("/auction/lots/999999/photos/" + "a" * 64).status_code == 404


# --- the officer's flow ------------------------------------------------------------------------


def test_the_officer_creates_notifies_and_publishes_a_lot_that_the_public_then_sees(app, session, world):
    c = signed_in(app, world["officer"].username)
    new = f"/auction/assets/{world['asset'].id}/lot/new"
    html = c.get(new).get_data(as_text=True)
    assert "¥700,000.00" in html  # the floor: 70 % of the ¥1,000,000 reference price (A05)
    assert 'name="start_at"' in html and 'type="datetime-local"' in html
    assert local_input(morning(app, 31)) in html  # property: 31 days ahead at 10:00 (A08)

    r = post(c, new, {"title": "x", **terms_data(app, starting_price="699999")}, page=new)
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "The starting price must be at least 70 % of the reference price (A05): at least ¥700,000.00." in html
    assert session.scalars(select(Lot)).all() == []
    r = post(c, new, {"title": "x", **terms_data(app, deposit="200000")}, page=new)
    assert "between ¥35,000.00 and ¥140,000.00" in r.get_data(as_text=True)
    assert session.scalars(select(Lot)).all() == []

    lot = create_through_form(app, c, world, **{"taxes-0-tax": "", "taxes-1-tax": "", "court_contact": ""})
    rnd = lot.current
    assert rnd.state == RoundState.DRAFT and rnd.taxes == [] and rnd.starting_price == Decimal("700000.00")
    manage = f"/auction/lots/{lot.id}/manage"
    html = c.get(manage).get_data(as_text=True)
    assert "Only a round whose notices are served can be published." in html

    notified_at = clock_now(app) - timedelta(days=4)
    notify_through_form(c, lot, world, notified_at)
    session.expire_all()
    assert [n.method for n in rnd.notices] == [NoticeMethod.SERVED, NoticeMethod.SERVED]
    assert rnd.notices[0].at == notified_at.replace(second=0, microsecond=0)  # the form keeps minutes
    html = c.get(manage).get_data(as_text=True)
    assert "Missing for the announcement: who bears which taxes and fees (A12(9), decision 17)." in html
    assert "Missing for the announcement: the court&#39;s contact and supervision channel (A12(10))." in html

    r = post(c, f"/auction/rounds/{rnd.id}/publish", {}, page=manage, follow=True)
    assert "Missing for the announcement: who bears which taxes" in r.get_data(as_text=True)
    session.expire_all()
    assert rnd.state == RoundState.NOTIFYING and rnd.published_at is None

    r = post(c, f"/auction/rounds/{rnd.id}/terms", terms_data(app, prefix="terms"), page=manage, prefix="terms")
    assert r.status_code == 302
    html = c.get(manage).get_data(as_text=True)
    assert "Everything required is present" in html
    r = post(c, f"/auction/rounds/{rnd.id}/publish", {}, page=manage, follow=True)
    assert "The announcement is published." in r.get_data(as_text=True)
    session.expire_all()
    assert rnd.state == RoundState.ANNOUNCED and rnd.announcement_sha256

    public = english(app)
    listing = public.get("/auction/lots").get_data(as_text=True)
    assert "镜湖区某小区3栋502室" in listing and "¥700,000.00" in listing
    page = public.get(f"/auction/lots/{lot.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for text in ("¥1,000,000.00", "¥70,000.00", "¥5,000.00", "契税", "The buyer (买受人)", "每周三上午看样",
                 "执行局 0553-0000000", f"/documents/{rnd.announcement_sha256}", "Bidding starts in", 'id="countdown"',
                 f"/auction/lots/{lot.id}/photos/{world['photo']}", "Special notices (A13)"):
        assert text in html, text
    assert "王某" not in html  # the debtor's name is not in the publication set
    with public.get(f"/auction/lots/{lot.id}/photos/{world['photo']}") as photo:
        assert photo.status_code == 200 and photo.mimetype == "image/png"
    assert public.get(f"/cases/files/{world['photo']}").status_code == 302  # the staff route stays closed


def test_unreadable_input_is_a_field_error_never_a_500(app, session, world):
    c = signed_in(app, world["officer"].username)
    new = f"/auction/assets/{world['asset'].id}/lot/new"
    r = post(c, new, {"title": "x", **terms_data(app, starting_price="七十万", start_at="tomorrow", end_at=" ",
                                                       deposit=" ", balance_days="0"),
                      "bundle": "abc"}, page=new)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Please correct the marked fields." in html
    assert "Enter an amount in yuan" in html and "YYYY-MM-DD HH:MM" in html
    assert html.count("This field is required.") == 2  # the blank end and the blank deposit
    assert session.scalars(select(Lot)).all() == []


def test_priced_assets_of_the_case_are_bundled_into_one_lot(app, session, world):
    car = make_priced_asset(session, world["case"], title="奥迪A6L", category="vehicle", price=Decimal("200000"))
    c = signed_in(app, world["officer"].username)
    new = f"/auction/assets/{world['asset'].id}/lot/new"
    html = c.get(new).get_data(as_text=True)
    assert 'name="bundle"' in html and "奥迪A6L" in html
    r = post(c, new, {"title": "房产及车辆", "bundle": str(car.id), **terms_data(app)}, page=new)
    assert "at least ¥840,000.00" in r.get_data(as_text=True)  # 70 % of ¥1,200,000
    lot = create_through_form(app, c, world, bundle=str(car.id), starting_price="840000", deposit="84000")
    assert {la.asset_id for la in lot.assets} == {world["asset"].id, car.id}
    assert lot.reference_price == Decimal("1200000.00")
    assert "奥迪A6L" not in c.get(f"/auction/assets/{world['asset'].id}/lot/new").get_data(as_text=True).split(
        "Lots of this asset")[0]


def test_publication_is_refused_when_the_notices_are_too_recent(app, session, world):
    c = signed_in(app, world["officer"].username)
    lot = create_through_form(app, c, world)
    notify_through_form(c, lot, world, clock_now(app) - timedelta(days=2))
    manage = f"/auction/lots/{lot.id}/manage"
    r = post(c, f"/auction/rounds/{lot.current.id}/publish", {}, page=manage, follow=True)
    assert "Notices must be served at least 3 days before the announcement" in r.get_data(as_text=True)
    session.expire_all()
    assert lot.current.published_at is None


def test_a_notice_dated_in_the_future_is_refused(app, session, world):
    c = signed_in(app, world["officer"].username)
    lot = create_through_form(app, c, world)
    party = world["case"].parties[0]
    r = post(c, f"/auction/rounds/{lot.current.id}/notices",
             {"notice-recipient": f"party:{party.id}", "notice-method": "served", "notice-detail": "EMS",
              "notice-at": local_input(clock_now(app) + timedelta(days=1))},
             page=f"/auction/lots/{lot.id}/manage", prefix="notice", follow=True)
    assert "A notice cannot be dated in the future." in r.get_data(as_text=True)
    session.expire_all()
    assert lot.current.notices == [] and lot.current.state == RoundState.DRAFT


def test_a_priority_holder_is_confirmed_and_published_without_its_name(app, session, world):
    from tests.factories import resident_id

    c = signed_in(app, world["officer"].username)
    lot = create_through_form(app, c, world)
    manage = f"/auction/lots/{lot.id}/manage"
    r = post(c, f"/auction/lots/{lot.id}/holders",
             {"holder-name": "承租人刘某", "holder-kind": "person", "holder-id_number": resident_id(),
              "holder-right": "承租人优先购买权", "holder-rank": "1"}, page=manage, prefix="holder")
    assert r.status_code == 302
    html = c.get(manage).get_data(as_text=True)
    assert "承租人刘某" in html and "承租人优先购买权" in html
    holder = lot.priority_holders[0]
    notify_through_form(c, lot, world, clock_now(app) - timedelta(days=4))
    post(c, f"/auction/rounds/{lot.current.id}/notices",
         {"notice-recipient": f"holder:{holder.id}", "notice-method": "waived", "notice-detail": "书面放弃",
          "notice-at": local_input(clock_now(app) - timedelta(hours=1))}, page=manage, prefix="notice")
    post(c, f"/auction/rounds/{lot.current.id}/publish", {}, page=manage)
    html = english(app).get(f"/auction/lots/{lot.id}").get_data(as_text=True)
    assert "承租人优先购买权" in html and "承租人刘某" not in html


# --- who may see and do what -------------------------------------------------------------------


def test_an_officer_of_another_court_finds_nothing(app, session, world):
    c = signed_in(app, world["officer"].username)
    lot = create_through_form(app, c, world)
    make_officer(session, username="officer_elsewhere")
    other = signed_in(app, "officer_elsewhere")
    assert other.get(f"/auction/lots/{lot.id}/manage").status_code == 404
    assert other.get(f"/auction/assets/{world['asset'].id}/lot/new").status_code == 404
    r = post(other, f"/auction/rounds/{lot.current.id}/publish", {}, page="/auction/")
    assert r.status_code == 404
    assert other.get(f"/auction/lots/{lot.id}").status_code == 404  # not published: not visible
    assert lot.title not in other.get("/auction/").get_data(as_text=True)


def test_a_supervisor_reads_the_manage_page_but_may_not_act(app, session, world):
    lot = published_lot(app, session, world)
    make_user(session, Role.SUPERVISOR, username="supervisor_x")
    c = signed_in(app, "supervisor_x")
    manage = f"/auction/lots/{lot.id}/manage"
    html = c.get(manage).get_data(as_text=True)
    assert lot.title in html and "Read only" in html
    assert f"/auction/rounds/{lot.current.id}/pause" not in html
    assert lot.title in c.get("/auction/").get_data(as_text=True)
    r = post(c, f"/auction/rounds/{lot.current.id}/pause", {"pause-kind": "suspend", "pause-reason": "x"},
             page=manage, prefix="pause")
    assert r.status_code == 403
    assert post(c, f"/auction/lots/{lot.id}/relist", terms_data(app, prefix="relist"), page=manage,
                prefix="relist").status_code == 403
    session.expire_all()
    assert lot.current.state == RoundState.ANNOUNCED


def test_bidders_and_parties_do_not_reach_the_court_pages(app, session, world):
    c = signed_in(app, world["officer"].username)
    lot = create_through_form(app, c, world)
    make_bidder(session, username="bidder_v")
    bidder = signed_in(app, "bidder_v")
    assert bidder.get("/auction/").status_code == 403
    assert bidder.get(f"/auction/lots/{lot.id}/manage").status_code == 404
    assert bidder.get(f"/auction/assets/{world['asset'].id}/lot/new").status_code == 403


def test_an_unpublished_lot_is_404_for_the_public_and_a_preview_for_its_court(app, session, world):
    c = signed_in(app, world["officer"].username)
    lot = create_through_form(app, c, world)
    public = english(app)
    assert public.get(f"/auction/lots/{lot.id}").status_code == 404
    assert public.get(f"/auction/lots/{lot.id}/photos/{world['photo']}").status_code == 404
    assert lot.title not in public.get("/auction/lots").get_data(as_text=True)
    make_bidder(session, username="bidder_w")
    assert signed_in(app, "bidder_w").get(f"/auction/lots/{lot.id}").status_code == 404
    html = c.get(f"/auction/lots/{lot.id}").get_data(as_text=True)
    assert "Preview: this lot is not published." in html


# --- after the close ----------------------------------------------------------------------------


def test_after_the_close_the_public_page_shows_the_price_and_the_confirmation_never_the_bidders(app, session, world):
    lot = published_lot(app, session, world)
    rnd = lot.current
    buyer = make_bidder(session, real_name="李买受", username="buyer_li")
    public = english(app)
    before = public.get(f"/auction/lots/{lot.id}").get_data(as_text=True)
    assert "李买受" not in before and "buyer_li" not in before
    assert "registered" not in before.lower() and "registrant" not in before.lower()
    services.run_due(session, context_for(app, session, rnd.start_at))
    assert rnd.state == RoundState.BIDDING
    services.record_sale(session, round_id=rnd.id, buyer_id=buyer.id, buyer_code="A1234", price=Decimal("805000"),
                         ctx=context_for(app, session, rnd.end_at), commit=True)
    assert rnd.confirmation_sha256
    html = public.get(f"/auction/lots/{lot.id}").get_data(as_text=True)
    assert "¥805,000.00" in html and "Sold at" in html
    assert f"/documents/{rnd.confirmation_sha256}" in html and "Confirmation of sale" in html
    assert "李买受" not in html and "buyer_li" not in html
    assert "¥805,000.00" in public.get("/auction/lots?state=sold").get_data(as_text=True)
    assert lot.title not in public.get("/auction/lots?state=upcoming").get_data(as_text=True)
    assert public.get(f"/documents/{rnd.confirmation_sha256}").status_code == 200

    c = signed_in(app, world["officer"].username)
    manage = f"/auction/lots/{lot.id}/manage"
    html = c.get(manage).get_data(as_text=True)
    assert "Record the balance payment" in html and "A1234" in html
    r = post(c, f"/auction/rounds/{rnd.id}/balance", {"balance-amount": "735,000"}, page=manage, prefix="balance")
    assert r.status_code == 302
    r = post(c, f"/auction/rounds/{rnd.id}/ruling", {}, page=manage, follow=True)
    assert "D01" in r.get_data(as_text=True)  # housing: the qualification check comes first
    post(c, f"/auction/rounds/{rnd.id}/qualification", {"qualification-note": "购房资格持续符合"}, page=manage,
         prefix="qualification")
    post(c, f"/auction/rounds/{rnd.id}/ruling", {}, page=manage)
    session.expire_all()
    assert rnd.state == RoundState.RULED and rnd.ruling_sha256
    with c.get(f"/auction/lots/{lot.id}/documents/{rnd.ruling_sha256}") as ruling:
        assert ruling.status_code == 200 and ruling.mimetype == "application/pdf"
    assert public.get(f"/documents/{rnd.ruling_sha256}").status_code == 404  # the ruling is not public


def test_a_postponement_is_published_with_its_reason_and_the_round_resumes(app, session, world):
    lot = published_lot(app, session, world)
    c = signed_in(app, world["officer"].username)
    manage = f"/auction/lots/{lot.id}/manage"
    r = post(c, f"/auction/rounds/{lot.current.id}/pause", {"pause-kind": "suspend", "pause-reason": "案外人提出异议"},
             page=manage, prefix="pause")
    assert r.status_code == 302
    html = english(app).get(f"/auction/lots/{lot.id}").get_data(as_text=True)
    assert "案外人提出异议" in html and "Postponed (暂缓)" in html
    r = post(c, f"/auction/rounds/{lot.current.id}/cause-ended", {}, page=manage, follow=True)
    assert "Resume the round by" in r.get_data(as_text=True)
    post(c, f"/auction/rounds/{lot.current.id}/resume", {"resume-end_at": ""}, page=manage, prefix="resume")
    session.expire_all()
    assert lot.current.state == RoundState.ANNOUNCED


def test_after_a_no_sale_the_second_auction_form_is_prefilled_with_its_floor_and_checked(app, session, world):
    lot = published_lot(app, session, world)
    rnd = lot.current
    services.run_due(session, context_for(app, session, rnd.start_at))
    services.record_no_sale(session, round_id=rnd.id, ctx=context_for(app, session, rnd.end_at), commit=True)
    c = signed_in(app, world["officer"].username)
    manage = f"/auction/lots/{lot.id}/manage"
    html = c.get(manage).get_data(as_text=True)
    assert "¥560,000.00" in html and 'value="560000.00"' in html  # 80 % of ¥700,000 (A43)
    assert "No-sale record" in html
    r = post(c, f"/auction/lots/{lot.id}/relist",
             terms_data(app, prefix="relist", starting_price="559999", deposit="56000", start=morning(app, 40)),
             page=manage, prefix="relist")
    assert r.status_code == 200
    assert "may be cut by at most 20 % of the first (A43): at least ¥560,000.00" in r.get_data(as_text=True)
    assert len(world_lot(world).rounds) == 1


def test_the_admin_may_postpone_a_published_round_for_an_emergency(app, session, world):
    lot = published_lot(app, session, world)
    make_user(session, Role.ADMIN, username="admin_x")
    c = signed_in(app, "admin_x")
    page = f"/auction/lots/{lot.id}"
    assert "Platform emergency (A47)" in c.get(page).get_data(as_text=True)
    assert c.get(f"/auction/lots/{lot.id}/manage").status_code == 404
    r = post(c, f"/auction/rounds/{lot.current.id}/emergency", {"emergency-reason": "数据库故障"}, page=page,
             prefix="emergency")
    assert r.status_code == 302
    session.expire_all()
    assert lot.current.state == RoundState.SUSPENDED and lot.current.emergency


# --- listing and dashboard ----------------------------------------------------------------------


def test_the_listing_filters_searches_and_paginates(app, session, world):
    officer = world["officer"]
    ctx = context_for(app, session, clock_now(app))
    for i in range(21):
        asset = make_priced_asset(session, world["case"], title=f"车辆{i:02d}", category="vehicle")
        start = morning(app, 20)
        lot = services.create_lot(session, actor=officer, asset_ids=[asset.id], title=f"车辆{i:02d}号", ctx=ctx,
                                  terms=Terms(starting_price=Decimal("700000"), deposit=Decimal("70000"),
                                              increment=Decimal("1000"), start_at=start,
                                              end_at=start + timedelta(days=1), taxes=[{"tax": "车船税", "payer": "buyer"}],
                                              court_contact="x", title_and_possession="x", defects_statement="x"))
        for p in world["case"].parties:
            services.record_notice(session, actor=officer, round_id=lot.current.id, party_id=p.id,
                                   method=NoticeMethod.SERVED, detail="x", at=ctx.now - timedelta(days=4), ctx=ctx)
        services.publish(session, actor=officer, round_id=lot.current.id, ctx=ctx)
    public = english(app)
    first = public.get("/auction/lots").get_data(as_text=True)
    assert "21 lots" in first and "Page 1 of 2" in first and first.count('class="asset-item lot-item"') == 20
    second = public.get("/auction/lots?page=2").get_data(as_text=True)
    assert second.count('class="asset-item lot-item"') == 1
    found = public.get("/auction/lots?q=车辆07").get_data(as_text=True)
    assert "车辆07号" in found and "车辆08号" not in found
    assert "车辆07号" in public.get("/auction/lots?state=upcoming&q=07").get_data(as_text=True)
    assert "No lot matches." in public.get("/auction/lots?state=sold").get_data(as_text=True)
    assert public.get("/auction/lots?page=abc&state=<x>").status_code == 200


def test_the_dashboard_shows_the_courts_lots_by_state_and_late_steps_first(app, session, world):
    lot = published_lot(app, session, world)
    rnd = lot.current
    services.run_due(session, context_for(app, session, rnd.start_at))
    # 流拍 40 days ago: the second auction is late (A43, decision 25).
    services.record_no_sale(session, round_id=rnd.id, ctx=context_for(app, session, clock_now(app) - timedelta(days=40)),
                            commit=True)
    c = signed_in(app, world["officer"].username)
    html = c.get("/auction/").get_data(as_text=True)
    assert "Second auction not announced within 30 days of the 流拍 (A43)" in html
    assert "Waiting for the court&#39;s next step" in html and lot.title in html
    assert lot.title in c.get(f"/auction/?case={world['case'].id}").get_data(as_text=True)
    manage = c.get(f"/auction/lots/{lot.id}/manage").get_data(as_text=True)
    assert "Late steps" in manage


def test_the_case_and_asset_pages_link_to_the_auction(app, session, world):
    c = signed_in(app, world["officer"].username)
    html = c.get(f"/cases/assets/{world['asset'].id}").get_data(as_text=True)
    assert f"/auction/assets/{world['asset'].id}/lot/new" in html and "Put up for auction" in html
    assert "Auction lots of this case" in c.get(f"/cases/{world['case'].id}").get_data(as_text=True)
    assert "Auctions" in english(app).get("/").get_data(as_text=True)
    lot = create_through_form(app, c, world)
    assert f"/auction/lots/{lot.id}/manage" in c.get(f"/cases/assets/{world['asset'].id}").get_data(as_text=True)


def test_rounds_unknown_to_everyone_are_404(app, session, world):
    c = signed_in(app, world["officer"].username)
    r = post(c, "/auction/rounds/987654/publish", {}, page="/auction/")
    assert r.status_code == 404
    assert c.get("/auction/lots/987654/manage").status_code == 404
    assert c.get("/auction/assets/987654/lot/new").status_code == 404
    assert session.get(Round, 987654) is None


def test_the_evidence_record_of_a_round_downloads_for_the_court_only(app, session):
    import json

    from core.context import context_for
    from tests.auction.test_services import published_lot
    from tests.conftest import csrf_from
    from tests.factories import make_case, make_priced_asset

    case = make_case(session)
    world = {"case": case, "officer": case.officer, "asset": make_priced_asset(session, case)}
    lot, rnd = published_lot(session, world, context_for(app, session, app.extensions["clock"].now()))
    client = app.test_client()
    assert client.get(f"/auction/rounds/{rnd.id}/evidence.json").status_code == 302  # login first
    page = client.get("/accounts/login")
    client.post("/accounts/login", data={"username": case.officer.username, "password": "Passw0rd-Demo",
                                         "csrf_token": csrf_from(page.get_data(as_text=True))})
    r = client.get(f"/auction/rounds/{rnd.id}/evidence.json")
    assert r.status_code == 200
    data = json.loads(r.data)
    assert data["round"]["id"] == rnd.id and any(e["kind"] == "published" for e in data["events"])
    assert any(d["kind"] == "announcement" for d in data["documents"]) and data["ledger"]
