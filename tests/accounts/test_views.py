"""Pages of the accounts package through the test client (CSRF on, real forms)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from accounts import rules
from accounts.models import User
from accounts.models import Role
from tests.factories import PASSWORD, make_bidder, make_user, resident_id


def form_data(**kw):
    data = dict(kind="person", real_name="王小明", id_number=resident_id(), legal_representative="",
                username="wangxm", email="wxm@example.org", phone="13900000009",
                password="Judicial-2026", password2="Judicial-2026", accept="y")
    data.update(kw)
    return data


def test_login_without_a_csrf_token_is_rejected(client, session):
    make_user(session, Role.BIDDER, username="lisi")
    r = client.post("/accounts/login", data={"username": "lisi", "password": PASSWORD})
    assert r.status_code == 400
    assert "表单已过期" in r.get_data(as_text=True)  # localised (zh_CN by default)
    with client.session_transaction() as s:
        assert "_user_id" not in s


def test_login_and_logout(client, session, login, post_form):
    make_user(session, Role.BIDDER, username="lisi", display_name="李四")
    r = login("lisi")
    assert r.status_code == 302
    assert "李四" in client.get("/").get_data(as_text=True)
    assert client.get("/accounts/logout").status_code == 405  # never by a GET link
    r = post_form("/accounts/logout", {}, form_page="/")
    assert r.status_code == 302
    assert client.get("/accounts/profile").status_code == 302


def test_a_wrong_password_shows_a_message_in_chinese(client, session, login):
    make_user(session, Role.BIDDER, username="lisi")
    r = login("lisi", "nope-nope-1")
    assert r.status_code == 200 and "用户名或密码错误" in r.get_data(as_text=True)


def test_repeated_failures_lock_the_account(client, session, login):
    make_user(session, Role.BIDDER, username="lisi")
    for _ in range(rules.MAX_FAILED_LOGINS):
        r = login("lisi", "nope-nope-1")
    assert "已被锁定" in r.get_data(as_text=True)
    assert "已被锁定" in login("lisi").get_data(as_text=True)  # right password, still locked


def test_many_failures_from_one_address_are_throttled(client, session, login):
    for i in range(rules.IP_MAX_FAILURES):
        login(f"nobody{i}", "nope-nope-1")
    assert login("nobody", "nope-nope-1").status_code == 429


@pytest.mark.parametrize("target, expected", [
    ("/accounts/profile", "/accounts/profile"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
])
def test_next_only_redirects_within_the_site(client, session, post_form, target, expected):
    make_user(session, Role.BIDDER, username="lisi")
    r = post_form(f"/accounts/login?next={target}", {"username": "lisi", "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"] == expected


def test_registration_through_the_form_logs_the_bidder_in(client, session, post_form):
    r = post_form("/accounts/register", form_data(), follow_redirects=True)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "王小明" in html and "**************" in html
    assert session.scalar(select(User).where(User.username == "wangxm")).role == Role.BIDDER


def test_a_bad_id_number_is_explained_in_chinese_and_nothing_is_saved(client, session, post_form):
    good = resident_id()
    bad = good[:17] + ("1" if good[17] == "0" else "0")
    r = post_form("/accounts/register", form_data(id_number=bad))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "校验码" in html
    assert session.scalar(select(User).where(User.username == "wangxm")) is None


def test_mismatched_passwords_are_refused(client, session, post_form):
    r = post_form("/accounts/register", form_data(password2="Different-2026"))
    assert "两次输入的密码不一致" in r.get_data(as_text=True)


def test_the_profile_masks_the_identity_number_until_the_owner_asks(client, session, login):
    number = resident_id()
    make_bidder(session, username="zs", real_name="张三", id_number=number)
    login("zs")
    html = client.get("/accounts/profile").get_data(as_text=True)
    assert number not in html and number[-4:] in html
    assert number in client.get("/accounts/profile?reveal=1").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/accounts/profile", "/accounts/admin/courts", "/accounts/admin/users"])
def test_login_required(client, path):
    r = client.get(path)
    assert r.status_code == 302 and r.headers["Location"].startswith("/accounts/login?next=")


@pytest.mark.parametrize("role", [Role.OFFICER, Role.BIDDER, Role.SUPERVISOR, Role.AGENCY])
@pytest.mark.parametrize("path", ["/accounts/admin/courts", "/accounts/admin/users"])
def test_admin_pages_are_for_administrators_only(client, session, login, role, path):
    make_user(session, role, username=f"u_{role}")
    login(f"u_{role}")
    assert client.get(path).status_code == 403


def test_the_administrator_creates_a_court_and_an_officer(client, session, login, post_form):
    make_user(session, Role.ADMIN, username="root")
    login("root")
    r = post_form("/accounts/admin/courts", {"name": "安徽省安庆市中级人民法院", "code": "皖08",
                                              "region_code": "340800"}, follow_redirects=True)
    assert "安徽省安庆市中级人民法院" in r.get_data(as_text=True)
    from accounts.models import Court
    court = session.scalar(select(Court).where(Court.code == "皖08"))
    r = post_form("/accounts/admin/users", {"role": "officer", "court_id": str(court.id),
                                             "display_name": "执行法官 吴", "username": "wu_aq",
                                             "email": "", "phone": "", "password": "Judicial-2026"},
                  follow_redirects=True)
    assert "wu_aq" in r.get_data(as_text=True)
    assert session.scalar(select(User).where(User.username == "wu_aq")).court_id == court.id


def test_the_language_can_be_switched_from_any_page(client):
    assert "登录" in client.get("/accounts/login").get_data(as_text=True)
    r = client.get("/lang/en?next=/accounts/login")
    assert r.headers["Location"] == "/accounts/login"
    assert "Log in" in client.get("/accounts/login").get_data(as_text=True)
    client.get("/lang/zh_CN")
    assert "登录" in client.get("/").get_data(as_text=True)
    assert client.get("/lang/fr").status_code == 404


def test_error_pages_are_localised(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404 and "页面不存在" in r.get_data(as_text=True)
    client.get("/lang/en")
    assert "Page not found" in client.get("/no-such-page").get_data(as_text=True)


def test_unexpected_errors_give_a_localised_500_page(app, client):
    @app.get("/explode-for-test")
    def explode():
        raise RuntimeError("secret internals")

    r = client.get("/explode-for-test")
    html = r.get_data(as_text=True)
    assert r.status_code == 500 and "secret internals" not in html and "Traceback" not in html
    assert "服务器出错" in html


def test_the_administrator_maintains_the_holiday_calendar(client, session, login, post_form):
    from datetime import date

    from core.holidays import load_calendar

    make_user(session, Role.ADMIN, username="root")
    login("root")
    r = post_form("/accounts/admin/calendar", {"day": "2027-01-01", "kind": "holiday", "name": "元旦"},
                  follow_redirects=True)
    assert "元旦" in r.get_data(as_text=True)
    assert date(2027, 1, 1) in load_calendar(session).holidays
    r = post_form("/accounts/admin/calendar", {"day": "2027-01-04", "kind": "workday", "name": "调休"},
                  follow_redirects=True)
    assert date(2027, 1, 4) not in load_calendar(session).workdays  # a Monday cannot be "made" a working day
    r = post_form("/accounts/admin/calendar?year=2027", {"remove": "2027-01-01"}, follow_redirects=True)
    assert date(2027, 1, 1) not in load_calendar(session).holidays
