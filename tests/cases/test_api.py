"""The cases JSON API v1 through the test client, against a real database."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from accounts.services import issue_api_token
from cases import services
from cases.models import Asset, Case
from cases.rules import FundMovement, local_today
from tests.factories import make_asset, make_case, make_court, make_officer, make_user, resident_id, uscc


@pytest.fixture
def api(app):
    """The test client, with the cases API registered if ``cases.init_app`` does not do it yet."""
    if "cases_api" not in app.blueprints:
        from cases import api as cases_api
        from core.api import register_paths

        app.register_blueprint(cases_api.bp)
        app.extensions["csrf"].exempt(cases_api.bp)
        register_paths(app, cases_api.OPENAPI_PATHS)
    return app.test_client()


@pytest.fixture
def today(app):
    return local_today(app.extensions["clock"].now())


def bearer(session, user, now) -> dict:
    return {"Authorization": f"Bearer {issue_api_token(session, user=user, name='test', now=now)}"}


def case_body(court_code: str, **overrides) -> dict:
    body = {
        "number": f"（2026）{court_code}执77号", "basis": "（2025）皖0202民初456号民事判决书",
        "filed_on": "2026-03-01", "claim_amount": "1200000.00",
        "parties": [
            {"role": "applicant", "kind": "enterprise", "name": "芜湖某银行股份有限公司", "id_number": uscc(),
             "legal_representative": "李某"},
            {"role": "debtor", "kind": "person", "name": "王某", "id_number": resident_id(),
             "phone": "13800000009", "address": "芜湖市镜湖区某路1号"},
        ],
    }
    body.update(overrides)
    return body


def asset_body(**overrides) -> dict:
    return {"category": "vehicle", "title": "皖B12345 小型轿车", "region_code": "340202",
            "location": "芜湖市镜湖区某停车场", "seized_on": "2026-03-05", **overrides}


def case_count(session) -> int:
    return session.scalar(select(func.count(Case.id)))


def test_an_officer_creates_a_case_and_reads_it_back(api, session, now):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    headers = bearer(session, officer, now)
    r = api.post("/api/v1/cases", json=case_body("皖02"), headers=headers)
    assert r.status_code == 201, r.json
    created = r.json
    assert r.headers["Location"].endswith(f"/api/v1/cases/{created['id']}")
    assert created["claim_amount"] == "1200000.00" and created["filed_on"] == "2026-03-01"
    assert created["officer"]["id"] == officer.id and created["court"]["code"] == "皖02"
    assert created["fund_balances"] == {"court": "0.00", "deposits": "0.00"}

    got = api.get(f"/api/v1/cases/{created['id']}", headers=headers).json
    assert got == created
    assert [(p["role"], p["kind"]) for p in got["parties"]] == [("applicant", "enterprise"), ("debtor", "person")]
    assert got["parties"][1]["phone"] == "13800000009"
    listed = api.get("/api/v1/cases", headers=headers).json["cases"]
    assert [c["id"] for c in listed] == [created["id"]]


def test_the_case_number_is_normalised(api, session, now):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    r = api.post("/api/v1/cases", json=case_body("皖02", number="(2026) 皖02执 88号"),
                 headers=bearer(session, officer, now))
    assert r.status_code == 201 and r.json["number"] == "（2026）皖02执88号"


def test_no_response_ever_contains_an_identity_number(api, session, now):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    headers = bearer(session, officer, now)
    body = case_body("皖02")
    numbers = [p["id_number"] for p in body["parties"]]
    created = api.post("/api/v1/cases", json=body, headers=headers)
    case_id = created.json["id"]
    responses = [created, api.get("/api/v1/cases", headers=headers),
                 api.get(f"/api/v1/cases/{case_id}", headers=headers),
                 api.post(f"/api/v1/cases/{case_id}/assets", json=asset_body(), headers=headers),
                 api.get(f"/api/v1/cases/{case_id}/funds", headers=headers)]
    for r in responses:
        assert r.status_code in (200, 201)
        text = r.get_data(as_text=True)
        assert not any(n in text or n[:-4] in text for n in numbers)
    masked = [p["id_number_masked"] for p in responses[2].json["parties"]]
    assert masked == ["*" * 14 + n[-4:] for n in numbers]


def test_an_officer_of_another_court_gets_404_as_for_an_unknown_case(api, session, now):
    case = make_case(session)
    stranger = make_officer(session)
    headers = bearer(session, stranger, now)
    for path in (f"/api/v1/cases/{case.id}", f"/api/v1/cases/{case.id}/funds", "/api/v1/cases/999999",
                 "/api/v1/cases/99999999999999999999", "/api/v1/cases/0/funds"):
        r = api.get(path, headers=headers)
        assert r.status_code == 404 and r.json["error"]["code"] == 404
    r = api.post(f"/api/v1/cases/{case.id}/assets", json=asset_body(), headers=headers)
    assert r.status_code == 404
    assert api.get("/api/v1/cases", headers=headers).json["cases"] == []


def test_a_supervisor_reads_any_case_but_cannot_add_an_asset(api, session, now):
    case = make_case(session)
    headers = bearer(session, make_user(session, Role.SUPERVISOR), now)
    r = api.get(f"/api/v1/cases/{case.id}", headers=headers)
    assert r.status_code == 200 and r.json["number"] == case.number
    assert "phone" not in r.json["parties"][0]
    r = api.post(f"/api/v1/cases/{case.id}/assets", json=asset_body(), headers=headers)
    assert r.status_code == 403
    assert api.post("/api/v1/cases", json=case_body(case.court.code), headers=headers).status_code == 403
    assert session.scalar(select(func.count(Asset.id)).where(Asset.case_id == case.id)) == 0


def test_a_party_sees_only_their_own_case(api, session, now):
    officer = make_officer(session)
    mine, other = make_case(session, officer), make_case(session, officer)
    party_user = make_user(session, Role.PARTY)
    mine.parties[1].user_id = party_user.id
    session.flush()
    headers = bearer(session, party_user, now)
    assert [c["id"] for c in api.get("/api/v1/cases", headers=headers).json["cases"]] == [mine.id]
    assert api.get(f"/api/v1/cases/{mine.id}", headers=headers).status_code == 200
    assert api.get(f"/api/v1/cases/{mine.id}/funds", headers=headers).status_code == 200
    assert api.get(f"/api/v1/cases/{other.id}", headers=headers).status_code == 404
    assert api.post(f"/api/v1/cases/{mine.id}/assets", json=asset_body(), headers=headers).status_code == 403
    assert api.get("/api/v1/cases/overdue-pricing", headers=headers).json == {"assets": []}


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/cases"), ("post", "/api/v1/cases"), ("get", "/api/v1/cases/1"),
    ("post", "/api/v1/cases/1/assets"), ("get", "/api/v1/cases/1/funds"), ("get", "/api/v1/cases/overdue-pricing"),
])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer jap_not-a-token"}, {"Authorization": "Basic x"}])
def test_every_endpoint_needs_a_valid_bearer_token(api, method, path, headers):
    r = getattr(api, method)(path, json={}, headers=headers)
    assert r.status_code == 401 and r.json["error"]["code"] == 401


def test_a_session_cookie_is_not_enough(client, session, login):
    officer = make_officer(session)
    assert login(officer.username).status_code == 302  # the browser session is logged in…
    assert client.get("/api/v1/cases").status_code == 401  # …but the API wants a bearer token


def test_malformed_json_is_a_400_and_creates_nothing(api, session, now):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    headers = bearer(session, officer, now)
    before = case_count(session)
    for data, content_type in (("{not json", "application/json"), ("[1, 2]", "application/json"),
                               ("[" * 100_000 + "]" * 100_000, "application/json"),
                               (json.dumps(case_body("皖02")), "text/plain")):
        r = api.post("/api/v1/cases", data=data, content_type=content_type, headers=headers)
        assert r.status_code == 400 and r.json["error"]["message"]
    assert case_count(session) == before


@pytest.mark.parametrize(("change", "field"), [
    ({"filed_on": "2026-02-30"}, "filed_on"),
    ({"filed_on": "01/03/2026"}, "filed_on"),
    ({"filed_on": 20260301}, "filed_on"),
    ({"claim_amount": 1200000.5}, "claim_amount"),
    ({"claim_amount": "1.2e6"}, "claim_amount"),
    ({"claim_amount": "-5"}, "claim_amount"),
    ({"number": None}, "number"),
    ({"basis": ["x"]}, "basis"),
    ({"basis": "x\x00y"}, "basis"),
    ({"basis": "x\ud800y"}, "basis"),
    ({"officer_id": "3"}, "officer_id"),
    ({"officer_id": 2**40}, "officer_id"),
    ({"parties": {"role": "debtor"}}, "parties"),
    ({"parties": ["王某"]}, "parties[0]"),
    ({"parties": [{"role": "judge", "kind": "person", "name": "x", "id_number": "x"}]}, "parties[0].role"),
    ({"parties": [{"role": "debtor", "kind": "person", "name": "x" * 121, "id_number": "x"}]}, "parties[0].name"),
    ({"parties": [{"role": "debtor", "kind": "person", "name": "x"}]}, "parties[0].id_number"),
    ({"claimAmount": "1.00"}, "claimAmount"),
])
def test_missing_or_mistyped_fields_are_a_400_naming_the_field(api, session, now, change, field):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    before = case_count(session)
    r = api.post("/api/v1/cases", json=case_body("皖02", **change), headers=bearer(session, officer, now))
    assert r.status_code == 400, r.json
    assert field in r.json["error"]["message"]
    assert case_count(session) == before


def test_a_rule_broken_by_well_formed_data_is_a_409_with_the_reason(api, session, now, today):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    headers = bearer(session, officer, now)
    before = case_count(session)
    future = (today + timedelta(days=1)).isoformat()
    for change in ({"filed_on": future}, {"parties": []}, {"number": "（2026）皖01执1号"}):
        r = api.post("/api/v1/cases", json=case_body("皖02", **change), headers=headers)
        assert r.status_code == 409 and r.json["error"]["message"]
    bad_id = case_body("皖02")
    bad_id["parties"][1]["id_number"] = "340202199001010000"
    r = api.post("/api/v1/cases", json=bad_id, headers=headers)
    assert r.status_code == 409 and "340202199001010000" not in r.get_data(as_text=True)
    assert case_count(session) == before


def test_a_duplicate_case_number_is_a_409(api, session, now):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    headers = bearer(session, officer, now)
    assert api.post("/api/v1/cases", json=case_body("皖02"), headers=headers).status_code == 201
    before = case_count(session)
    r = api.post("/api/v1/cases", json=case_body("皖02", number="(2026)皖02执77号"), headers=headers)
    assert r.status_code == 409 and "77" in r.json["error"]["message"]
    assert case_count(session) == before


def test_an_officer_adds_an_asset_with_its_specialty_and_stage(api, session, now):
    officer = make_officer(session)
    case = make_case(session, officer)
    headers = bearer(session, officer, now)
    r = api.post(f"/api/v1/cases/{case.id}/assets", json=asset_body(category="land_use_right", title="某地块"),
                 headers=headers)
    assert r.status_code == 201, r.json
    assert (r.json["category"], r.json["specialty"], r.json["stage"]) == ("land_use_right", "land", "seized")
    assert r.json["photos"] == [] and r.json["seized_on"] == "2026-03-05"
    assets = api.get(f"/api/v1/cases/{case.id}", headers=headers).json["assets"]
    assert [a["title"] for a in assets] == ["某地块"]


def test_asset_photos_are_listed_as_file_urls(api, session, now):
    from core.files import FileStore
    from tests.factories import png_bytes

    officer = make_officer(session)
    case = make_case(session, officer)
    asset = make_asset(session, case)
    store = FileStore(api.application.config["FILES_DIR"])
    f = services.attach_asset_file(session, actor=officer, asset_id=asset.id, kind="photo", filename="a.png",
                                   data=png_bytes(), store=store, now=now)
    r = api.get(f"/api/v1/cases/{case.id}", headers=bearer(session, officer, now))
    assert r.json["assets"][0]["photos"] == [f"/cases/files/{f.sha256}"]
    assert r.json["assets"][0]["specialty"] == "real_estate"


@pytest.mark.parametrize(("change", "status"), [
    ({"category": "spaceship"}, 400),
    ({"seized_on": "yesterday"}, 400),
    ({"title": 5}, 400),
    ({"colour": "red"}, 400),
    ({"region_code": "999999"}, 409),
    ({"title": "   "}, 409),
])
def test_a_refused_asset_changes_nothing(api, session, now, change, status):
    officer = make_officer(session)
    case = make_case(session, officer)
    r = api.post(f"/api/v1/cases/{case.id}/assets", json=asset_body(**change), headers=bearer(session, officer, now))
    assert r.status_code == status and r.json["error"]["message"]
    assert session.scalar(select(func.count(Asset.id)).where(Asset.case_id == case.id)) == 0


def test_the_funds_endpoint_shows_entries_balances_and_reconciles(api, session, now):
    officer = make_officer(session)
    case = make_case(session, officer)
    services.record_fund_movement(session, case_id=case.id, kind=FundMovement.DEPOSIT_HELD, amount=Decimal("50000"),
                                  source="deposit:1", actor="system", now=now)
    services.record_fund_movement(session, case_id=case.id, kind=FundMovement.DEPOSIT_APPLIED,
                                  amount=Decimal("50000"), source="lot:1", actor="system", now=now)
    services.record_fund_movement(session, case_id=case.id, kind=FundMovement.RECEIVED, amount=Decimal("950000.5"),
                                  source="payment:1", memo="尾款", actor="system", now=now)
    r = api.get(f"/api/v1/cases/{case.id}/funds", headers=bearer(session, officer, now))
    assert r.status_code == 200
    assert r.json["reconciled"] is True
    assert r.json["balances"] == {"court": "1000000.50", "deposits": "0.00"}
    entries = r.json["entries"]
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0] == {"seq": 1, "kind": "deposit_held", "amount": "50000.00", "from": "outside",
                          "to": "deposits", "court_balance_after": "0.00", "deposits_balance_after": "50000.00",
                          "source": "deposit:1", "memo": "", "at": now.isoformat()}
    assert entries[2]["memo"] == "尾款" and entries[2]["court_balance_after"] == "1000000.50"
    detail = api.get(f"/api/v1/cases/{case.id}", headers=bearer(session, officer, now)).json
    assert detail["fund_balances"] == r.json["balances"]


def test_the_overdue_endpoint_lists_an_asset_seized_31_days_ago(api, session, now, today):
    officer = make_officer(session)
    case = make_case(session, officer)
    late = make_asset(session, case, title="逾期房产", seized_on=today - timedelta(days=31))
    make_asset(session, case, title="按时房产", seized_on=today - timedelta(days=30))
    r = api.get("/api/v1/cases/overdue-pricing", headers=bearer(session, officer, now))
    assert r.status_code == 200
    assert r.json["assets"] == [{
        "asset_id": late.id, "case_id": case.id, "case_number": case.number, "title": "逾期房产",
        "category": "real_estate", "seized_on": (today - timedelta(days=31)).isoformat(),
        "deadline": (today - timedelta(days=1)).isoformat(), "days_late": 1,
    }]
    stranger = bearer(session, make_officer(session), now)
    assert api.get("/api/v1/cases/overdue-pricing", headers=stranger).json == {"assets": []}


def test_the_search_filters_by_case_number(api, session, now):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    a = make_case(session, officer, number="（2026）皖02执5号")
    make_case(session, officer, number="（2026）皖02执6号")
    headers = bearer(session, officer, now)
    assert [c["id"] for c in api.get("/api/v1/cases?q=执5", headers=headers).json["cases"]] == [a.id]
    assert api.get("/api/v1/cases?q=%00", headers=headers).status_code == 400


def test_the_openapi_document_lists_the_cases_paths(app):
    if "cases_api" not in app.blueprints:
        pytest.skip("cases.init_app does not register the cases API yet")
    paths = app.test_client().get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/cases", "/api/v1/cases/{case_id}", "/api/v1/cases/{case_id}/assets",
            "/api/v1/cases/{case_id}/funds", "/api/v1/cases/overdue-pricing"} <= set(paths)
    assert "post" in paths["/api/v1/cases"] and "requestBody" in paths["/api/v1/cases/{case_id}/assets"]["post"]
