"""An officer puts a priced house up for auction, in a real browser, and the public then sees it.

The live server (``seeded_live_server``, real time) already holds 芜湖中院 (皖02) and one
officer. The case, its parties, the house, its photo (in the app's file store), the basis
document and the final reference price of ¥1,000,000.00 (a negotiated one, valid 300 days) are
made through the services and committed in the live server's database. Then, in the browser:

1. the officer follows the asset page's link to the new-lot form; a starting price under 70 %
   of the reference price (A05) and then a deposit over 20 % of the starting price (A19) are
   refused with the rule's words and nothing is saved; the corrected form creates the lot;
2. on the manage page the checklist asks for the notices first (no publish button yet); the
   notices to both parties, dated 4 days back, are recorded in Beijing time; publishing is
   refused for what the publication set lacks (taxes first), then, once the terms are
   completed but bidding starts in 10 days, for the 30-day lead time (A08); with bidding 31
   days ahead the announcement is published;
3. a visitor who is not logged in finds the lot in the public listing and opens its page:
   title, starting price, deposit, the photo (really loaded), the announcement PDF, and nothing
   about bidders; the same page on a phone fits the screen.

Pages are driven through field ids, form actions and URLs; the expected refusals are the
app's own messages in the page's language (Chinese by default). Screenshots of every step land
in test-artifacts/e2e/<test name>/.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from accounts.models import User
from appraisal import services as appraisal_services
from appraisal.rules import Method
from auction.models import Lot, LotAsset
from auction.rules import NoticeMethod, RoundState
from cases import services as case_services
from cases.rules import AssetCategory, PartyKind, PartyRole, local_today
from core.context import context_for
from core.files import file_store
from core.i18n import SHANGHAI, translate_message
from tests.e2e.conftest import PHONE
from tests.e2e.test_officer_cases import LATIN_ALLOWED, expect_images_loaded, write_photos
from tests.factories import pdf_bytes, resident_id, uscc

pytestmark = pytest.mark.e2e

REFERENCE = Decimal("1000000.00")
TITLE = "芜湖市镜湖区春江花园5栋1201室"


@dataclass(frozen=True)
class World:
    case_number: str
    asset_id: int
    photo_sha256: str
    #: party id → its name, applicant first
    parties: dict[int, str]


@pytest.fixture
def world(seeded_live_server, tmp_path) -> World:
    """A case of 皖02 (an applicant bank, a debtor), its basis document, and a seized house
    with a photo and a final negotiated reference price of ¥1,000,000.00 valid 300 days: all
    through the services, committed in the live server's database and file store."""
    server = seeded_live_server
    app = server.app
    now = app.extensions["clock"].now()
    today = local_today(now)
    store = file_store(app)
    session = server.session()
    try:
        officer = session.scalar(select(User).where(User.username == server.officer_username))
        case = case_services.create_case(
            session, actor=officer, number=f"（2026）{server.court_code}执735号",
            basis="（2025）皖0202民初735号民事判决书", filed_on=date(2026, 3, 9),
            claim_amount=Decimal("1480000.00"), vault=app.extensions["identity_vault"], now=now, parties=[
                case_services.PartyInput(role=PartyRole.APPLICANT, kind=PartyKind.ENTERPRISE,
                                         name="芜湖江城农村商业银行股份有限公司", id_number=uscc(),
                                         legal_representative="陈国华"),
                case_services.PartyInput(role=PartyRole.DEBTOR, kind=PartyKind.PERSON, name="赵德明",
                                         id_number=resident_id(birth="19720315", serial=735)),
            ])
        case_services.set_basis_document(session, actor=officer, case_id=case.id, filename="判决书.pdf",
                                         data=pdf_bytes(), store=store, now=now)
        asset = case_services.add_asset(session, actor=officer, case_id=case.id, now=now, asset=case_services.AssetInput(
            category=AssetCategory.REAL_ESTATE, title=TITLE, region_code="340202",
            location="安徽省芜湖市镜湖区北京东路88号春江花园5栋1201室", seized_on=today - timedelta(days=40),
            description="住宅，建筑面积118.6平方米，2012年建成。"))
        photo_path = write_photos(tmp_path)[0]  # a PNG drawing of a house, 480×360
        photo = case_services.attach_asset_file(session, actor=officer, asset_id=asset.id, kind="photo",
                                                filename="正面.png", data=photo_path.read_bytes(), store=store, now=now)
        assert store.exists(photo.sha256)
        # The reference price: both parties agree on the same figure (议价, E04).
        ctx = context_for(app, session, now)
        proc = appraisal_services.open_procedure(session, actor=officer, asset_id=asset.id,
                                                 method=Method.NEGOTIATION, ctx=ctx)
        for party in case.parties:
            appraisal_services.submit_negotiated_price(session, actor=officer, procedure_id=proc.id,
                                                       party_id=party.id, amount=REFERENCE, ctx=ctx,
                                                       valid_until=today + timedelta(days=300))
        assert proc.state == "final" and proc.reference_price == REFERENCE
        parties = {p.id: p.name for p in sorted(case.parties, key=lambda p: p.role != PartyRole.APPLICANT)}
        return World(case_number=case.number, asset_id=asset.id, photo_sha256=photo.sha256, parties=parties)
    finally:
        session.close()


# --- helpers ---------------------------------------------------------------------------------


def said(app, msgid: str, **params) -> str:
    """``msgid`` as the app says it to a visitor who chose no language (Chinese by default)."""
    with app.test_request_context("/"):
        return translate_message(msgid, params)


def local_input(when: datetime) -> str:
    """What a ``datetime-local`` input holds for ``when``, in Beijing time."""
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def morning(now: datetime, days: int) -> datetime:
    """10:00 Beijing time ``days`` calendar days after ``now``."""
    day = local_today(now) + timedelta(days=days)
    return datetime.combine(day, time(10, 0), tzinfo=SHANGHAI).astimezone(timezone.utc)


def log_in(page, server) -> None:
    page.goto(server.url + "/accounts/login")
    page.locator("#username").fill(server.officer_username)
    page.locator("#password").fill(server.officer_password)
    page.locator("main form.stacked button[type=submit]").click()
    expect(page.locator(".flash-success")).to_have_count(1)
    expect(page.locator(".nav .who")).to_be_visible()


def expect_refused(page, message: str) -> None:
    """Exactly one error flash, saying ``message``; no success flash."""
    expect(page.locator(".flash-error")).to_have_text([message])
    expect(page.locator(".flash-success")).to_have_count(0)


def expect_flash_success(page) -> None:
    expect(page.locator(".flash-success").first).to_be_visible()
    expect(page.locator(".flash-error")).to_have_count(0)


def open_details(page, section: str) -> None:
    """Open the ``<details>`` of a manage-page section (``#notices``, ``#terms``) if closed."""
    details = page.locator(f"{section} details").first
    if not details.evaluate("d => d.open"):
        details.locator("summary").click()


def expect_chinese_in(page, selector: str = "main") -> None:
    """No English words left in the sections ``selector`` (names of file formats, and the hex
    of a document's SHA-256, excepted)."""
    text = re.sub(r"\b[0-9a-f]{16,}\b", " ", "\n".join(page.locator(selector).all_inner_texts()))
    english = sorted(set(re.findall(r"[A-Za-z]{2,}", text)) - LATIN_ALLOWED - {"JSON"})
    assert not english, f"untranslated in {selector} on {page.url}: {english}"


def lots_of(server, asset_id: int) -> int:
    session = server.session()
    try:
        return session.scalar(select(func.count()).select_from(LotAsset).where(LotAsset.asset_id == asset_id))
    finally:
        session.close()


# --- the test --------------------------------------------------------------------------------


def test_an_officer_lists_a_house_is_refused_twice_publishes_it_and_the_public_sees_it(
        page, new_page, shot, seeded_live_server, world):
    server = seeded_live_server
    app = server.app
    now = app.extensions["clock"].now()
    floor, low, high = "¥700,000.00", "¥35,000.00", "¥140,000.00"

    # --- 1. From the asset page to the new-lot form.
    log_in(page, server)
    page.goto(f"{server.url}/cases/assets/{world.asset_id}")
    new_lot = f"/auction/assets/{world.asset_id}/lot/new"
    page.locator(f"main a[href='{new_lot}']").click()
    expect(page).to_have_url(server.url + new_lot)
    form = page.locator("form#lot-form")
    expect(form.locator("#title")).to_have_value(TITLE)
    expect(page.locator("#lot-reference")).to_have_text("¥1,000,000.00")
    expect(page.locator("#lot-floor")).to_have_text(floor)  # 70 % of the reference price (A05)
    expect(form.locator("#starting_price")).to_have_value("700000.00")  # prefilled with the floor
    default_start = morning(now, 31)  # real estate: 30 days' lead time (A08), one more to be safe
    expect(form.locator("#start_at")).to_have_value(local_input(default_start))
    expect(form.locator("#end_at")).to_have_value(local_input(default_start + timedelta(hours=24)))
    expect(form.locator("input[name^='taxes-'][name$='-tax']")).to_have_count(4)
    for i in range(4):  # the tax rows start empty: an empty row is no row
        expect(form.locator(f"#taxes-{i}-tax")).to_have_value("")
    expect_chinese_in(page)
    shot(page, "new-lot-form")

    # A starting price under 70 % of the reference price: refused with the rule, nothing saved.
    form.locator("#starting_price").fill("690000")
    form.locator("#deposit").fill("69000")
    form.locator("#increment").fill("5000")
    form.locator("#title_and_possession").fill("不动产权证号皖（2012）芜湖市不动产权第0012345号；被执行人居住，法院负责腾退。")
    form.locator("#defects_statement").fill("已设定抵押，拍卖后抵押权消灭；无其他已知瑕疵。")
    form.locator("#inspection").fill("每周三上午九时至十一时看样，请提前预约。")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(server.url + new_lot)
    a05 = said(app, "The starting price must be at least 70 %% of the reference price (A05): at least %(floor)s.",
               floor=floor)
    expect_refused(page, a05)
    assert "A05" in a05 and floor in a05
    expect(form.locator("#starting_price")).to_have_value("690000")  # what was typed is kept
    assert lots_of(server, world.asset_id) == 0
    shot(page, "refused-starting-price-A05")

    # The floor, with a deposit of 200,000 (over 20 % of 700,000): refused (A19), nothing saved.
    form.locator("#starting_price").fill("700000")
    form.locator("#deposit").fill("200000")
    # The live hint under the deposit follows the typed starting price (A19 bounds).
    expect(form.locator("#deposit").locator("xpath=..").locator(".hint")).to_contain_text(f"{low} – {high}")
    shot(page, "deposit-live-hint")
    form.locator("button[type=submit]").click()
    a19 = said(app, "The deposit must be 5 %% to 20 %% of the starting price (A19): between %(low)s and %(high)s.",
               low=low, high=high)
    expect_refused(page, a19)
    assert "A19" in a19 and low in a19 and high in a19
    expect(form.locator("#deposit")).to_have_value("200000")
    assert lots_of(server, world.asset_id) == 0
    shot(page, "refused-deposit-A19")

    # A deposit of 10 %: the lot is created as a draft (the tax rows left empty).
    form.locator("#deposit").fill("70000")
    for i in range(4):
        form.locator(f"#taxes-{i}-tax").fill("")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/auction/lots/\d+/manage$"))
    expect_flash_success(page)
    lot_id = int(page.url.rsplit("/", 2)[1])
    assert lots_of(server, world.asset_id) == 1

    # --- 2. The manage page: a draft, notices first; no publish button yet.
    expect(page.locator(".page-head .badge.lot-state")).to_have_class(re.compile(r"\bstate-draft\b"))
    expect(page.locator("#lot")).to_contain_text(world.case_number)
    checklist = page.locator("#checklist li.missing")
    expect(checklist).to_have_text([said(app, "Only a round whose notices are served can be published.")])
    expect(page.locator("form[action$='/publish']")).to_have_count(0)
    terms = page.locator("#terms .facts")
    expect(terms).to_contain_text("¥700,000.00")
    expect(terms).to_contain_text("¥70,000.00")
    expect(terms).to_contain_text("¥5,000.00")
    expect_chinese_in(page)
    shot(page, "manage-draft-notices-first")

    # A notice for each party, served 4 days ago (typed in Beijing time).
    served_at = (now - timedelta(days=4)).replace(second=0, microsecond=0)
    recipients = page.locator("#notice-recipient option")
    expect(recipients).to_have_count(2)
    for party_id in world.parties:
        open_details(page, "#notices")
        notice = page.locator("form[action$='/notices']")
        notice.locator("#notice-recipient").select_option(f"party:{party_id}")
        notice.locator("input[name=notice-method][value=served]").check()
        notice.locator("#notice-at").fill(local_input(served_at))
        notice.locator("#notice-detail").fill("邮政特快专递送达，本人签收")
        notice.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(rf"/auction/lots/{lot_id}/manage#notices$"))
        expect_flash_success(page)
    rows = page.locator("#notices tbody tr")
    expect(rows).to_have_count(2)
    for i, name in enumerate(world.parties.values()):
        expect(rows.nth(i)).to_contain_text(name)
        expect(rows.nth(i)).to_contain_text(served_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"))
        expect(rows.nth(i).locator(".badge.ok")).to_have_count(1)  # 3 days old: allows publishing
    expect(page.locator(".page-head .badge.lot-state")).to_have_class(re.compile(r"\bstate-notifying\b"))

    # Publishing is refused for what the publication set lacks: the taxes first, then the contact.
    taxes_item = "who bears which taxes and fees (A12(9), decision 17)"
    contact_item = "the court's contact and supervision channel (A12(10))"
    missing = "Missing for the announcement: %(item)s."
    expect(checklist).to_have_text([said(app, missing, item=taxes_item), said(app, missing, item=contact_item)])
    shot(page, "manage-notified-missing-items")
    page.locator("form[action$='/publish'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/auction/lots/{lot_id}/manage(#checklist)?$"))  # the anchor may go on a refusal
    expect_refused(page, said(app, missing, item=taxes_item))
    shot(page, "publish-refused-missing-taxes")

    # The terms completed, but bidding in 10 days: saved, then publishing is refused (A08).
    def save_terms(start: datetime) -> None:
        open_details(page, "#terms")
        edit = page.locator("form[action$='/terms']")
        expect(edit.locator("#terms-starting_price")).to_have_value("700000.00")
        expect(edit.locator("#terms-deposit")).to_have_value("70000.00")
        edit.locator("#terms-start_at").fill(local_input(start))
        edit.locator("#terms-end_at").fill(local_input(start + timedelta(hours=24)))
        edit.locator("#terms-taxes-0-tax").fill("契税")
        edit.locator("#terms-taxes-0-payer").select_option("buyer")
        edit.locator("#terms-taxes-1-tax").fill("增值税及附加")
        edit.locator("#terms-taxes-1-payer").select_option("debtor")
        edit.locator("#terms-court_contact").fill("芜湖中院执行局 0553-3800000；监督电话 0553-3800123")
        edit.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(rf"/auction/lots/{lot_id}/manage#terms$"))
        expect_flash_success(page)

    save_terms(morning(now, 10))
    a08 = said(app, "The announcement must be published at least %(days)s days before bidding starts (A08/A09).",
               days=30)
    assert "A08" in a08
    expect(checklist).to_have_text([a08])
    page.locator("form[action$='/publish'] button[type=submit]").click()
    expect_refused(page, a08)
    session = server.session()
    try:
        rnd = session.get(Lot, lot_id).current
        assert rnd.state == RoundState.NOTIFYING and rnd.published_at is None
        assert rnd.taxes == [{"tax": "契税", "payer": "buyer"}, {"tax": "增值税及附加", "payer": "debtor"}]
    finally:
        session.close()
    shot(page, "publish-refused-lead-time-A08")

    # Bidding 31 days ahead: everything is present, and the announcement is published.
    start = morning(now, 31)
    save_terms(start)
    expect(page.locator("#checklist li.missing")).to_have_count(0)
    expect(page.locator("#checklist .badge.ok")).to_have_count(1)
    page.locator("form[action$='/publish'] button[type=submit]").click()
    expect_flash_success(page)
    expect(page.locator(".page-head .badge.lot-state")).to_have_class(re.compile(r"\bstate-announced\b"))
    expect(page.locator("#checklist")).to_have_count(0)
    expect(page.locator("form[action$='/notices']")).to_have_count(0)
    expect(page.locator("form[action$='/terms']")).to_have_count(0)
    session = server.session()
    try:
        lot = session.get(Lot, lot_id)
        rnd = lot.current
        assert rnd.state == RoundState.ANNOUNCED and rnd.published_at is not None
        assert rnd.start_at == start and rnd.end_at == start + timedelta(hours=24)
        assert (rnd.starting_price, rnd.deposit, rnd.increment) == (Decimal("700000.00"), Decimal("70000.00"),
                                                                     Decimal("5000.00"))
        assert [n.method for n in rnd.notices] == [NoticeMethod.SERVED, NoticeMethod.SERVED]
        assert all(n.at == served_at for n in rnd.notices)
        announcement = rnd.announcement_sha256
        assert announcement
    finally:
        session.close()
    expect(page.locator(f"#documents a[href='/documents/{announcement}/file']")).to_have_count(1)
    expect_chinese_in(page)
    shot(page, "manage-published")

    # --- 3. A visitor, not logged in, finds the lot in the public listing.
    public = new_page()
    public.goto(server.url + "/auction/lots")
    expect(public.locator(".nav .who")).to_have_count(0)
    public.locator("#q").fill("春江花园5栋")
    public.locator("form.lot-filter button[type=submit]").click()
    item = public.locator(".lot-item", has=public.locator(f"a[href='/auction/lots/{lot_id}']"))
    expect(item).to_have_count(1)
    expect(item).to_contain_text("¥700,000.00")
    expect(item.locator(".lot-state")).to_have_class(re.compile(r"\bstate-announced\b"))
    expect_images_loaded(public, ".lot-item img", 1)
    expect_chinese_in(public)
    shot(public, "public-listing")
    item.locator(f"a[href='/auction/lots/{lot_id}']").click()
    expect(public).to_have_url(f"{server.url}/auction/lots/{lot_id}")

    # The lot page: the publication set, the photo, the announcement; nothing about bidders.
    expect(public.locator("main h1")).to_have_text(TITLE)
    expect(public.locator(".flash-warning")).to_have_count(0)  # not a preview
    summary = public.locator("#summary")
    expect(summary.locator(".amount")).to_have_text("¥700,000.00")
    expect(summary.locator(".facts").first).to_contain_text("¥1,000,000.00")
    expect(summary.locator(".facts").first).to_contain_text("¥70,000.00")
    expect(summary.locator(".facts").first).to_contain_text("¥5,000.00")
    expect(summary).to_contain_text(start.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"))
    expect(public.locator("#countdown")).to_be_visible()
    photo_url = f"/auction/lots/{lot_id}/photos/{world.photo_sha256}"
    expect(public.locator(f"#assets .gallery img[src='{photo_url}']")).to_have_count(1)
    expect_images_loaded(public, "#assets .gallery img", 1)
    publication = public.locator("#publication")
    expect(publication).to_contain_text("契税")
    expect(publication).to_contain_text("增值税及附加")
    expect(publication).to_contain_text("0553-3800123")
    expect(public.locator("#notices tbody tr")).to_have_count(2)
    doc = public.locator(f"#documents a[href='/documents/{announcement}/file']")
    expect(doc).to_have_count(1)
    pdf = public.request.get(server.url + f"/documents/{announcement}/file")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body()[:5] == b"%PDF-"
    expect(public.locator(f"#documents a[href='/documents/{announcement}']")).to_have_count(1)  # verify
    # Nothing identifies a bidder or counts registrants (decision 13); no court-only links.
    expect(public.locator("#result")).to_have_count(0)
    text = public.locator("main").inner_text()
    for name in world.parties.values():
        assert name not in text  # notices are listed by the recipient's role only
    # Bidder codes and bids are public (A30); who they are, and how many registered, are not.
    assert not re.search(r"\d+\s*人(报名|竞买)|报名人数|竞买人数", text), "bidder information shown"
    expect(public.locator(f"a[href='/auction/lots/{lot_id}/manage']")).to_have_count(0)
    expect(public.locator("#emergency")).to_have_count(0)
    expect_chinese_in(public)
    shot(public, "public-lot-page")

    # The same page on a phone: the photo loads and nothing is wider than the screen.
    phone = new_page(viewport=PHONE)
    phone.goto(f"{server.url}/auction/lots/{lot_id}")
    expect(phone.locator("main h1")).to_have_text(TITLE)
    expect_images_loaded(phone, "#assets .gallery img", 1)
    shot(phone, "phone-public-lot-page")
    overflow = phone.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the lot page is {overflow}px wider than the phone's screen"
