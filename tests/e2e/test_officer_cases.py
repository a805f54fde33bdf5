"""An enforcement officer at work, in a real browser, in Chinese: registers a case, records a
seized house with two photos, and imports a series of cases from a CSV file.

The live server (``seeded_live_server``) already holds 芜湖中院 (皖02) and one officer.
Screenshots of every step land in test-artifacts/e2e/<test name>/.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from cases.models import Asset, Case
from cases.rules import local_today
from tests.cases.test_services import csv_bytes, row
from tests.e2e.conftest import PHONE
from tests.factories import resident_id, uscc

pytestmark = pytest.mark.e2e

#: Latin words that may appear on a Chinese page: formats and encodings named as such.
LATIN_ALLOWED = {"PDF", "JPEG", "PNG", "WebP", "CSV", "UTF", "GBK", "MB", "KB", "SHA"}


def with_wrong_check_digit(number: str) -> str:
    wrong = next(c for c in "0123456789X" if c != number[-1])
    return number[:-1] + wrong


def write_photos(folder) -> list:
    """Two small 'photos' of a house (a PNG and a JPEG) drawn with Pillow, as files on disk."""
    from PIL import Image, ImageDraw

    paths = []
    for name, fmt, wall in (("正面.png", "PNG", (230, 200, 160)), ("侧面.jpg", "JPEG", (200, 215, 230))):
        img = Image.new("RGB", (480, 360), (225, 232, 240))
        draw = ImageDraw.Draw(img)
        draw.rectangle([0, 280, 480, 360], fill=(150, 160, 150))
        draw.rectangle([120, 150, 360, 290], fill=wall)
        draw.polygon([(100, 160), (240, 60), (380, 160)], fill=(120, 60, 50))
        draw.rectangle([220, 220, 260, 290], fill=(90, 60, 40))
        path = folder / name
        img.save(path, format=fmt)
        paths.append(path)
    return paths


def log_in(page, seeded) -> None:
    page.goto(seeded.url + "/accounts/login")
    page.locator("#username").fill(seeded.officer_username)
    page.locator("#password").fill(seeded.officer_password)
    page.locator("main form.stacked button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text(seeded.officer_name)
    expect(page.locator(".nav .who")).to_contain_text("执行法官")


def expect_chinese(page) -> None:
    """The page's content (``main``) has no English left, except names of file formats."""
    text = page.locator("main").inner_text()
    english = sorted(set(re.findall(r"[A-Za-z]{2,}", text)) - LATIN_ALLOWED)
    assert not english, f"untranslated on {page.url}: {english}"


def expect_images_loaded(page, selector: str, count: int) -> None:
    """``count`` <img> match ``selector`` and every one has really loaded (naturalWidth > 0)."""
    images = page.locator(selector)
    expect(images).to_have_count(count)
    for i in range(count):
        images.nth(i).scroll_into_view_if_needed()
    page.wait_for_function(
        """([selector, count]) => {
             const imgs = [...document.querySelectorAll(selector)];
             return imgs.length === count && imgs.every(img => img.complete && img.naturalWidth > 0);
           }""", arg=[selector, count])


def test_an_officer_registers_a_case_and_records_a_house_with_two_photos(
        page, new_page, shot, seeded_live_server, tmp_path):
    seeded = seeded_live_server
    number = f"（2026）{seeded.court_code}执321号"
    debtor_id = resident_id(birth="19750608")
    photos = write_photos(tmp_path)

    log_in(page, seeded)
    page.locator(".nav").get_by_role("link", name="执行案件").click()
    expect(page.locator("main h1")).to_have_text("执行案件")
    page.get_by_role("link", name="登记案件").click()
    expect(page.locator("main h1")).to_have_text("登记案件")
    expect(page.locator("label[for=applicant_id]")).to_have_text("申请执行人身份证号码或统一社会信用代码")
    expect_chinese(page)

    page.locator("#number").fill(number)
    page.locator("#filed_on").fill("2026-03-01")
    page.locator("#basis").fill("（2025）皖0202民初456号民事判决书")
    page.locator("#claim_amount").fill("1860000.00")
    page.locator("#applicant_kind").select_option("enterprise")
    page.locator("#applicant_name").fill("芜湖江城农村商业银行股份有限公司")
    page.locator("#applicant_id").fill(uscc())
    page.locator("#applicant_legal_rep").fill("陈国华")
    page.locator("#applicant_address").fill("安徽省芜湖市镜湖区中山路1号")
    page.locator("#debtor_kind").select_option("person")
    page.locator("#debtor_name").fill("王建国")
    page.locator("#debtor_id").fill(debtor_id)
    page.locator("#debtor_phone").fill("13900000002")
    page.locator("#debtor_address").fill("安徽省芜湖市镜湖区北京东路88号")
    shot(page, "new-case-filled")
    page.get_by_role("button", name="登记案件").click()

    # The case page: number, parties (the debtor's ID number masked), nothing recorded yet.
    expect(page).to_have_url(re.compile(r"/cases/\d+$"))
    case_url = page.url
    expect(page.locator(".flash-success")).to_have_text(f"案件{number}已登记。")
    expect(page.locator("main h1")).to_have_text(number)
    parties = page.locator("#parties tbody tr")
    expect(parties).to_have_count(2)
    expect(parties.nth(0)).to_contain_text("申请执行人")
    expect(parties.nth(0)).to_contain_text(re.compile(r"法定代表人[:：]\s*陈国华"))
    expect(parties.nth(1)).to_contain_text("被执行人")
    expect(parties.nth(1).locator("code")).to_have_text("*" * 14 + debtor_id[-4:])
    assert debtor_id not in page.content()
    expect(page.locator("#assets")).to_contain_text("尚未登记财产")
    expect_chinese(page)
    shot(page, "case-registered")

    # A seized house with two photos, chosen through the file input.
    page.get_by_role("link", name="登记查封财产").click()
    expect(page.locator("main h1")).to_have_text("登记查封财产")
    expect_chinese(page)
    seized_on = local_today(seeded.app.extensions["clock"].now()) - timedelta(days=3)
    page.locator("#category").select_option("real_estate")
    page.locator("#title").fill("芜湖市镜湖区春江花园3栋502室")
    page.locator("#region_code").fill("340202")
    page.locator("#location").fill("安徽省芜湖市镜湖区北京东路88号春江花园3栋502室")
    page.locator("#seized_on").fill(seized_on.isoformat())
    page.locator("#description").fill("住宅，建筑面积89.5平方米，2010年建成。")
    page.locator("#encumbrances").fill("已设定抵押（芜湖江城农村商业银行），拍卖后抵押权消灭。")
    page.locator("#occupancy").fill("被执行人居住，法院负责腾退。")
    page.locator("#photos").set_input_files(photos)
    shot(page, "asset-form-filled")
    page.get_by_role("button", name="保存").click()

    # The asset page shows both photos, and both really load from the server.
    expect(page).to_have_url(re.compile(r"/cases/assets/\d+$"))
    expect(page.locator(".flash-success")).to_have_text("财产已登记，上传照片2张、文件0份。")
    expect(page.locator("main h1")).to_have_text("芜湖市镜湖区春江花园3栋502室")
    facts = page.locator(".facts")
    expect(facts).to_contain_text("不动产")
    expect(facts).to_contain_text("已查封")
    expect(facts).to_contain_text("30日")
    expect(page.locator(".flash-warning")).to_have_count(0)  # seized 3 days ago: not overdue
    expect(page.locator(".gallery img[alt='正面.png']")).to_have_count(1)
    expect(page.locator(".gallery img[alt='侧面.jpg']")).to_have_count(1)
    expect_images_loaded(page, ".gallery img", 2)
    expect_chinese(page)
    shot(page, "asset-with-photos")

    # Back on the case page: the asset is listed with its first photo as a thumbnail.
    page.get_by_role("link", name=f"← {number}").click()
    expect(page).to_have_url(case_url)
    item = page.locator("#assets .asset-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("照片2张")
    expect_images_loaded(page, "#assets .asset-item img", 1)
    shot(page, "case-with-asset")

    session = seeded.session()
    try:
        case = session.scalar(select(Case).where(Case.number == number))
        assert [len(a.photos) for a in case.assets] == [2]
        assert {p.media_type for p in case.assets[0].photos} == {"image/png", "image/jpeg"}
    finally:
        session.close()

    # The same case page on a phone (390×844), in its own browser (own login).
    phone = new_page(viewport=PHONE)
    log_in(phone, seeded)
    phone.goto(case_url)
    expect(phone.locator("main h1")).to_have_text(number)
    expect_images_loaded(phone, "#assets .asset-item img", 1)
    shot(phone, "phone-case")
    overflow = phone.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the case page is {overflow}px wider than the phone's screen"


def test_an_officer_imports_a_series_from_csv_after_fixing_the_reported_problems(
        page, shot, seeded_live_server, tmp_path):
    seeded = seeded_live_server
    code = seeded.court_code
    numbers = [f"（2026）{code}执{n}号" for n in (501, 502, 503, 504)]
    bad_id = with_wrong_check_digit(resident_id(serial=502))
    bad = tmp_path / "系列案件-有误.csv"
    # As Excel on Chinese Windows saves it: GBK.
    bad.write_bytes(csv_bytes([
        row(501, code),
        row(502, code, **{"被执行人证件号码": bad_id}),
        row(503, code, **{"财产类别": "飞机"}),
        row(504, "皖01"),  # another court's case number
    ], encoding="gbk"))
    good = tmp_path / "系列案件.csv"
    good.write_bytes(csv_bytes([
        row(501, code),
        row(501, code, **{"财产名称": "某小区501号地下车位", "财产所在地址": "芜湖市镜湖区某路501号地下一层"}),
        row(502, code),
        row(503, code),
        row(504, code),
    ]))

    log_in(page, seeded)
    page.goto(seeded.url + "/cases/")
    page.get_by_role("link", name="导入系列案件（CSV）").click()
    expect(page.locator("main h1")).to_have_text("导入系列案件（CSV）")
    expect_chinese(page)
    shot(page, "import-form")

    # The file with mistakes: every problem is listed against its line, and nothing is imported.
    page.locator("#file").set_input_files(bad)
    page.locator("#series_name").fill("江城农商行信用卡系列案")
    page.get_by_role("button", name="检查文件").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text(re.compile(r"文件编码[:：]\s*GBK"))
    expect(preview.locator(".flash-error")).to_have_text("3行存在问题，未导入任何数据。请修改文件后重新检查。")
    problems = preview.locator("table.problems tbody tr")
    expect(problems).to_have_count(3)
    expected = {
        "3": "被执行人证件号码有误：校验码（最后一位）不正确。",
        "4": "无法识别的财产类别“飞机”，请填写以下类别之一：不动产、",
        "5": f"案号中的法院代字不是本院的，本院代字为{code}。",
    }
    for i, (line, message) in enumerate(expected.items()):
        expect(problems.nth(i).locator("td").first).to_have_text(line)
        expect(problems.nth(i)).to_contain_text(message)
    expect(page.get_by_role("button", name="确认导入")).to_have_count(0)
    expect_chinese(page)
    shot(page, "import-problems")
    session = seeded.session()
    try:
        assert session.scalar(select(func.count()).select_from(Case).where(Case.number.in_(numbers))) == 0
    finally:
        session.close()

    # The corrected file (UTF-8): confirmation first, then everything in one go.
    page.locator("#file").set_input_files(good)
    page.locator("#series_name").fill("江城农商行信用卡系列案")
    page.get_by_role("button", name="检查文件").click()
    expect(preview).to_contain_text(re.compile(r"文件编码[:：]\s*UTF-8"))
    expect(preview.locator(".flash-success")).to_have_text("文件检查无误。是否导入4件案件、5项财产？")
    expect(preview.locator("table.problems")).to_have_count(0)
    expect_chinese(page)
    shot(page, "import-confirm")
    page.get_by_role("button", name="确认导入").click()

    # The dashboard lists the four cases of the series.
    expect(page).to_have_url(re.compile(r"/cases/$"))
    expect(page.locator(".flash-success")).to_have_text("已导入4件案件、5项财产。")
    for number in numbers:
        listed = page.locator("main section.card:not(.alert) table tbody tr", has=page.get_by_role("link", name=number, exact=True))
        expect(listed).to_have_count(1)
        expect(listed).to_contain_text("江城农商行信用卡系列案")
    expect_chinese(page)
    shot(page, "dashboard-imported")

    session = seeded.session()
    try:
        cases = session.scalars(select(Case).where(Case.number.in_(numbers))).all()
        assert sorted(len(c.assets) for c in cases) == [1, 1, 1, 2]
        assert {c.series.name for c in cases} == {"江城农商行信用卡系列案"}
        assert session.scalar(select(func.count()).select_from(Asset)
                              .where(Asset.case_id.in_([c.id for c in cases]))) == 5
    finally:
        session.close()
