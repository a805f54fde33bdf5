"""Case pages through the test client: access per court and per party, forms, uploads, import."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from cases import rules
from cases.models import Asset, AssetFile, Case
from cases.rules import PartyRole
from tests.cases.test_services import csv_bytes, row
from tests.conftest import csrf_from
from tests.factories import jpeg_bytes, make_asset, make_case, make_court, make_officer, make_user, png_bytes, resident_id, uscc


@pytest.fixture
def court_a(session):
    return make_court(session, code="皖02", name="芜湖中院")


@pytest.fixture
def officer_a(session, court_a):
    return make_officer(session, court=court_a, username="officer_a")


def upload(client, url, data, *, form_page):
    token = csrf_from(client.get(form_page).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, content_type="multipart/form-data")


@pytest.mark.parametrize("path", ["/cases/", "/cases/new", "/cases/import", "/cases/1"])
def test_case_pages_need_a_login(client, path):
    r = client.get(path)
    assert r.status_code == 302 and "/accounts/login" in r.headers["Location"]


def test_an_officer_of_another_court_cannot_open_the_case(client, session, login, officer_a):
    case = make_case(session, officer=officer_a)
    asset = make_asset(session, case)
    make_officer(session, username="officer_b")
    login("officer_b")
    assert client.get(f"/cases/{case.id}").status_code == 404
    assert client.get(f"/cases/assets/{asset.id}").status_code == 404
    assert case.number not in client.get("/cases/").get_data(as_text=True)


def test_bidders_and_agencies_have_no_case_pages(client, session, login, officer_a):
    case = make_case(session, officer=officer_a)
    make_user(session, Role.BIDDER, username="bidder_x")
    login("bidder_x")
    assert client.get(f"/cases/{case.id}").status_code == 403
    assert client.get("/cases/").status_code == 403


def test_a_supervisor_reads_any_court_but_cannot_change(client, session, login, post_form, officer_a):
    case = make_case(session, officer=officer_a)
    make_user(session, Role.SUPERVISOR, username="sup")
    login("sup")
    assert client.get(f"/cases/{case.id}").status_code == 200
    assert client.get(f"/cases/{case.id}/assets/new").status_code == 403


def test_a_party_sees_only_their_own_case(client, session, login, officer_a):
    mine, other = make_case(session, officer=officer_a), make_case(session, officer=officer_a)
    user = make_user(session, Role.PARTY, username="wang")
    debtor = next(p for p in mine.parties if p.role == PartyRole.DEBTOR)
    debtor.user_id = user.id
    session.flush()
    login("wang")
    assert client.get(f"/cases/{mine.id}").status_code == 200
    assert client.get(f"/cases/{other.id}").status_code == 404
    listing = client.get("/cases/").get_data(as_text=True)
    assert mine.number in listing and other.number not in listing


def test_the_officer_registers_a_case_through_the_form(client, session, login, post_form, officer_a):
    login("officer_a")
    debtor_id = resident_id()
    r = post_form("/cases/new", {
        "number": "(2026)皖02执321号", "basis": "（2025）皖0202民初9号民事判决书", "filed_on": "2026-03-01",
        "claim_amount": "1,200,000.50", "officer_id": str(officer_a.id), "series_id": "0",
        "applicant_kind": "enterprise", "applicant_name": "某银行", "applicant_id": uscc(),
        "debtor_kind": "person", "debtor_name": "王某", "debtor_id": debtor_id, "debtor_phone": "13800000008",
    }, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "（2026）皖02执321号" in html
    assert debtor_id not in html and debtor_id[-4:] in html  # masked on the page
    case = session.scalar(select(Case).where(Case.number == "（2026）皖02执321号"))
    assert str(case.claim_amount) == "1200000.50"


def test_a_bad_case_number_is_explained_and_nothing_saved(client, session, login, post_form, officer_a):
    login("officer_a")
    r = post_form("/cases/new", {
        "number": "（2026）皖01执1号", "basis": "x", "filed_on": "2026-03-01", "claim_amount": "1",
        "officer_id": str(officer_a.id), "series_id": "0",
        "applicant_kind": "enterprise", "applicant_name": "某银行", "applicant_id": uscc(),
        "debtor_kind": "person", "debtor_name": "王某", "debtor_id": resident_id(),
    })
    assert r.status_code == 200 and "皖02" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_an_asset_with_two_photos_and_a_fake_one_refused(client, session, login, officer_a):
    case = make_case(session, officer=officer_a)
    login("officer_a")
    form_page = f"/cases/{case.id}/assets/new"
    r = upload(client, form_page, {
        "category": "real_estate", "title": "某小区1栋101室", "region_code": "340202",
        "location": "芜湖市镜湖区", "seized_on": "2026-03-05",
        "photos": [(io.BytesIO(png_bytes()), "front.png"), (io.BytesIO(jpeg_bytes()), "side.jpg"),
                   (io.BytesIO(b"not an image at all"), "virus.jpg")],
    }, form_page=form_page)
    assert r.status_code == 302
    asset = session.scalar(select(Asset).where(Asset.case_id == case.id))
    assert len(asset.photos) == 2
    page = client.get(f"/cases/assets/{asset.id}").get_data(as_text=True)
    assert "virus.jpg" in page and "JPEG" in page  # the refusal is explained
    photo = asset.photos[0]
    with client.get(f"/cases/files/{photo.sha256}") as r:
        assert r.status_code == 200 and r.mimetype == photo.media_type
        assert r.data[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0")


def test_asset_files_are_not_served_to_other_courts(client, session, login, officer_a, tmp_path):
    case = make_case(session, officer=officer_a)
    asset = make_asset(session, case)
    session.add(AssetFile(asset_id=asset.id, kind="photo", sha256="a" * 64, media_type="image/png", filename="x.png",
                          size=1, uploaded_at=case.created_at, uploaded_by_id=officer_a.id))
    session.flush()
    make_officer(session, username="officer_b")
    login("officer_b")
    assert client.get("/cases/files/" + "a" * 64).status_code == 404
    assert client.get("/cases/files/not-a-hash").status_code == 404


def test_csv_import_shows_every_problem_then_imports_the_fixed_file(client, session, login, officer_a):
    login("officer_a")
    bad_rows = [row(1, "皖02"), row(2, "皖02", **{"财产类别": "飞机"}), row(3, "皖02", **{"案号": "（2026）皖01执3号"})]
    r = upload(client, "/cases/import", {"step": "check", "series_name": "测试系列",
                                         "file": (io.BytesIO(csv_bytes(bad_rows, encoding="gbk")), "s.csv")},
               form_page="/cases/import")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "GBK" in html and "飞机" in html and "皖02" in html
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    good = [row(1, "皖02"), row(2, "皖02"), row(3, "皖02")]
    r = upload(client, "/cases/import", {"step": "check", "series_name": "测试系列",
                                         "file": (io.BytesIO(csv_bytes(good)), "s.csv")}, form_page="/cases/import")
    html = r.get_data(as_text=True)
    sha = html.split('name="file_sha256"')[1].split('value="')[1].split('"')[0]
    token = csrf_from(html)
    r = client.post("/cases/import", data={"step": "confirm", "file_sha256": sha, "series_name": "测试系列",
                                           "csrf_token": token})
    assert r.status_code == 302
    assert session.scalar(select(func.count()).select_from(Case)) == 3


def test_the_dashboard_flags_overdue_pricing(client, session, login, officer_a, now):
    from datetime import timedelta

    case = make_case(session, officer=officer_a)
    make_asset(session, case, title="逾期的车", seized_on=rules.local_today(now) - timedelta(days=45))
    login("officer_a")
    html = client.get("/cases/").get_data(as_text=True)
    assert "逾期的车" in html


def test_template_download(client, session, login, officer_a):
    login("officer_a")
    r = client.get("/cases/import/template.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv" and "案号".encode() in r.data
