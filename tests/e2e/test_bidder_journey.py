"""A member of the public becomes a bidder, in a real browser, in Chinese first.

Screenshots of every step land in test-artifacts/e2e/<test name>/.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.rules import mask_identity_number, resident_id_check_digit
from tests.e2e.conftest import PHONE

pytestmark = pytest.mark.e2e

PASSWORD = "Jingmai-2026pass"


def resident_id(birth: str = "19880315", serial: str = "047", region: str = "340202") -> str:
    """A valid 18-character resident ID number (GB 11643 check digit)."""
    first17 = region + birth + serial
    return first17 + resident_id_check_digit(first17)


def with_wrong_check_digit(number: str) -> str:
    wrong = next(c for c in "0123456789X" if c != number[-1])
    return number[:-1] + wrong


def fill_registration(page, *, id_number: str) -> None:
    page.locator("#real_name").fill("王小明")
    page.locator("#id_number").fill(id_number)
    page.locator("#username").fill("wangxm")
    page.locator("#email").fill("wangxm@example.cn")
    page.locator("#phone").fill("13912345678")
    page.locator("#password").fill(PASSWORD)
    page.locator("#password2").fill(PASSWORD)
    page.locator("#accept").check()


def submit(page) -> None:
    page.locator("main form.stacked button[type=submit]").click()


def test_a_new_bidder_registers_in_chinese_logs_out_and_in_and_switches_language(page, new_page, shot):
    number = resident_id()

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator(".brand")).to_contain_text("司法拍卖")
    expect(page.locator("main h1")).to_contain_text("网络司法评估与拍卖")
    shot(page, "home-zh")

    page.locator(".nav").get_by_role("link", name="竞买人注册").click()
    expect(page.locator("main h1")).to_have_text("竞买人注册")
    expect(page.get_by_text("自然人", exact=True)).to_be_visible()
    shot(page, "register-form")

    # A mistyped ID: the check digit (GB 11643) is wrong; nothing is created.
    fill_registration(page, id_number=with_wrong_check_digit(number))
    submit(page)
    expect(page.locator(".flash-error")).to_contain_text("校验码")
    expect(page.locator(".flash-error")).to_contain_text("证件号码有误")
    expect(page).to_have_url(re.compile(r"/accounts/register$"))
    shot(page, "register-bad-check-digit")

    # Corrected: the account is created and the new bidder is logged in on the profile page.
    page.locator("#id_number").fill(number)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password2").fill(PASSWORD)
    page.locator("#accept").check()
    submit(page)
    expect(page).to_have_url(re.compile(r"/accounts/profile$"))
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("main h1")).to_have_text("个人资料")
    expect(page.locator(".facts")).to_contain_text("王小明")
    expect(page.locator(".facts code")).to_have_text(mask_identity_number(number[-4:]))
    assert number not in page.content()
    expect(page.locator(".nav .who")).to_contain_text("王小明")
    shot(page, "profile-masked-id")

    page.locator(".nav").get_by_role("button", name="退出登录").click()
    expect(page.locator(".flash-info")).to_contain_text("退出")
    expect(page.locator(".nav").get_by_role("link", name="登录")).to_be_visible()
    shot(page, "logged-out")

    page.locator(".nav").get_by_role("link", name="登录").click()
    page.locator("#username").fill("wangxm")
    page.locator("#password").fill(PASSWORD)
    submit(page)
    expect(page.locator(".flash-success")).to_contain_text("王小明")
    expect(page.locator(".nav .who")).to_contain_text("竞买人")
    shot(page, "logged-in-again")

    page.locator(".nav").get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".brand")).to_contain_text("Judicial Auction Platform")
    expect(page.locator(".nav")).to_contain_text("Log out")
    expect(page.locator(".nav .who")).to_contain_text("Bidder")
    shot(page, "english")

    page.locator(".nav").get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator(".brand")).to_contain_text("司法拍卖")
    expect(page.locator(".nav")).to_contain_text("退出登录")
    shot(page, "chinese-again")

    # The same pages on a phone (390×844): the menu folds behind the ☰ toggle.
    phone = new_page(viewport=PHONE)
    phone.goto("/")
    expect(phone.locator(".brand")).to_contain_text("司法拍卖")
    expect(phone.locator(".nav")).to_be_hidden()
    shot(phone, "phone-home")
    phone.locator(".nav-toggle-label").click()
    expect(phone.locator(".nav").get_by_role("link", name="竞买人注册")).to_be_visible()
    shot(phone, "phone-menu-open")
    phone.goto("/accounts/register")
    expect(phone.locator("main h1")).to_have_text("竞买人注册")
    shot(phone, "phone-register")
