"""The bidding JSON API v1 through the test client: sign-up, the bank transfer, bids with
receipts and idempotency, the public book, refusals, and no identity in any answer.

Same arrangement as tests/bidding/test_views.py: a round prepared in the past and ending just
after now, so the tests run on SQLite and on PostgreSQL (the bid time is then
``clock_timestamp()``).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from accounts.services import issue_api_token
from auction.models import Round
from auction.rules import RoundState
from bidding import live, services
from bidding.models import Bid, Registration
from tests.bidding.test_views import now_ctx, open_round, qualified, real_now
from tests.factories import make_bidder, make_user


@pytest.fixture
def app(app_factory):
    app = app_factory()
    yield app
    live.shutdown(app)


@pytest.fixture
def client(app):
    return app.test_client()


def bearer(session, user) -> dict:
    token = issue_api_token(session, user=user, name="test", now=real_now())
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def post(client, path, headers, body):
    return client.post(path, headers=headers, data=json.dumps(body), content_type="application/json")


def test_a_bidder_signs_up_declares_the_transfer_and_sees_its_code_once_confirmed(client, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder = make_bidder(session, real_name="钱竞买")
    h = bearer(session, bidder)
    got = post(client, f"/api/v1/rounds/{rnd.id}/registration", h, {"housing_promise": True})
    assert got.status_code == 201, got.json
    assert got.json["qualified"] is False and got.json["code"] is None
    assert Decimal(got.json["deposit_due"]) == rnd.deposit
    again = post(client, f"/api/v1/rounds/{rnd.id}/registration", h, {"housing_promise": True})
    assert again.status_code == 201
    assert session.scalar(select(func.count()).select_from(Registration).where(Registration.round_id == rnd.id)) == 1

    got = post(client, f"/api/v1/rounds/{rnd.id}/bank-transfer", h,
               {"payer_name": "钱竞买", "bank_reference": "工行 6222 0009"})
    assert got.status_code == 200, got.json
    assert got.json["deposit"]["state"] == "pending"

    reg = session.scalar(select(Registration).where(Registration.user_id == bidder.id))
    finance = make_user(session, "finance", court_id=rnd.lot.case.court_id)
    services.confirm_bank_transfer(session, finance=finance, deposit_id=reg.deposit.id, ctx=now_ctx(tmp_path))
    mine = client.get(f"/api/v1/rounds/{rnd.id}/registration", headers=h)
    assert mine.status_code == 200
    assert mine.json["qualified"] is True and mine.json["code"] == reg.code
    assert mine.json["deposit"]["state"] == "held"


def test_housing_needs_the_promise_and_bad_bodies_are_400_in_the_callers_language(client, session, tmp_path):
    rnd = open_round(session, tmp_path)
    h = bearer(session, make_bidder(session))
    refused = post(client, f"/api/v1/rounds/{rnd.id}/registration", h, {})
    assert refused.status_code == 409
    assert "S4" in refused.json["error"]["message"]
    bad = post(client, f"/api/v1/rounds/{rnd.id}/registration", h, {"housing_promise": "yes"})
    assert bad.status_code == 400 and "housing_promise" in bad.json["error"]["message"]
    zh = client.post(f"/api/v1/rounds/{rnd.id}/registration", headers={**h, "Accept-Language": "zh-CN"},
                     data=json.dumps({"surprise": 1}), content_type="application/json")
    assert zh.status_code == 400 and "surprise" in zh.json["error"]["message"]
    assert "字段" in zh.json["error"]["message"]
    assert session.scalar(select(func.count()).select_from(Registration)) == 0


def test_a_bid_gets_a_receipt_a_retry_gets_the_same_receipt_and_no_second_bid(client, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder, reg = qualified(session, rnd, tmp_path)
    h = bearer(session, bidder)
    body = {"amount": str(rnd.starting_price), "idempotency_key": "k-1"}
    first = post(client, f"/api/v1/rounds/{rnd.id}/bids", h, body)
    assert first.status_code == 201, first.json
    assert first.json["accepted"] is True and first.json["seq"] == 1 and first.json["duplicate"] is False
    assert first.json["amount"] == f"{rnd.starting_price:.2f}"
    received = datetime.fromisoformat(first.json["received_at"])
    assert abs(received - real_now()) < timedelta(seconds=30)
    again = post(client, f"/api/v1/rounds/{rnd.id}/bids", h, body)
    assert again.status_code == 200
    assert again.json["duplicate"] is True and again.json["received_at"] == first.json["received_at"]
    assert session.scalar(select(func.count()).select_from(Bid).where(Bid.round_id == rnd.id)) == 1

    low = post(client, f"/api/v1/rounds/{rnd.id}/bids", h, {"amount": str(rnd.starting_price), "idempotency_key": "k-2"})
    assert low.status_code == 409
    assert low.json["error"]["message"]
    assert session.scalar(select(func.count()).select_from(Bid).where(Bid.round_id == rnd.id)) == 1

    book = client.get(f"/api/v1/rounds/{rnd.id}/book")
    assert book.status_code == 200
    assert book.json["bid_count"] == 1 and book.json["leader_code"] == reg.code
    assert book.json["current_price"] == f"{rnd.starting_price:.2f}"
    assert book.json["bids"][0]["at"] == first.json["received_at"]
    assert book.json["buyer_code"] is None and book.json["closed"] is False


def test_a_bid_in_the_last_minutes_extends_the_end(client, session, tmp_path):
    rnd = open_round(session, tmp_path, ends_in=timedelta(minutes=2))
    bidder, _ = qualified(session, rnd, tmp_path)
    got = post(client, f"/api/v1/rounds/{rnd.id}/bids", bearer(session, bidder),
               {"amount": str(rnd.starting_price), "idempotency_key": "late"})
    assert got.status_code == 201
    assert got.json["extended"] is True
    received, end = (datetime.fromisoformat(got.json[k]) for k in ("received_at", "end_at"))
    assert end - received == timedelta(minutes=5)


def test_refusals_strangers_unknown_rounds_and_malformed_bids(client, session, tmp_path):
    rnd = open_round(session, tmp_path)
    stranger = bearer(session, make_bidder(session))
    ok_body = {"amount": str(rnd.starting_price), "idempotency_key": "x"}
    assert post(client, f"/api/v1/rounds/{rnd.id}/bids", {}, ok_body).status_code == 401
    assert post(client, f"/api/v1/rounds/{rnd.id}/bids", stranger, ok_body).status_code == 403
    assert post(client, "/api/v1/rounds/99999/bids", stranger, ok_body).status_code == 404
    assert post(client, f"/api/v1/rounds/{2**40}/bids", stranger, ok_body).status_code == 404
    officer = bearer(session, rnd.lot.case.officer)
    assert post(client, f"/api/v1/rounds/{rnd.id}/bids", officer, ok_body).status_code == 403
    bidder, _ = qualified(session, rnd, tmp_path)
    h = bearer(session, bidder)
    for body in ({"amount": 1000, "idempotency_key": "a"}, {"amount": "1e6", "idempotency_key": "a"},
                 {"amount": "100.00"}, {"amount": "100.00", "idempotency_key": "a" * 65}, [], "x"):
        got = post(client, f"/api/v1/rounds/{rnd.id}/bids", h, body)
        assert got.status_code == 400, (body, got.json)
    assert session.scalar(select(func.count()).select_from(Bid)) == 0


def test_a_bid_after_the_end_is_refused_and_the_book_shows_the_round_closed(client, session, tmp_path):
    rnd = open_round(session, tmp_path)
    bidder, reg = qualified(session, rnd, tmp_path)
    h = bearer(session, bidder)
    assert post(client, f"/api/v1/rounds/{rnd.id}/bids", h,
                {"amount": str(rnd.starting_price), "idempotency_key": "1"}).status_code == 201
    session.execute(update(Round).where(Round.id == rnd.id).values(end_at=real_now() - timedelta(seconds=1)))
    session.commit()
    late = post(client, f"/api/v1/rounds/{rnd.id}/bids", h,
                {"amount": str(rnd.starting_price + rnd.increment), "idempotency_key": "2"})
    assert late.status_code == 409
    book = client.get(f"/api/v1/rounds/{rnd.id}/book").json
    assert book["closed"] is True and book["state"] == str(RoundState.AWAITING_BALANCE)
    assert book["buyer_code"] == reg.code and book["sale_price"] == f"{rnd.starting_price:.2f}"
    assert session.scalar(select(func.count()).select_from(Bid)) == 1


def test_no_api_answer_names_a_bidder_while_the_round_is_open(client, session, tmp_path):
    rnd = open_round(session, tmp_path)
    a, _ = qualified(session, rnd, tmp_path, real_name="孙甲某")
    b, _ = qualified(session, rnd, tmp_path, real_name="李乙某")
    seen = []
    for user, amount in ((a, rnd.starting_price), (b, rnd.starting_price + rnd.increment)):
        seen.append(post(client, f"/api/v1/rounds/{rnd.id}/bids", bearer(session, user),
                         {"amount": str(amount), "idempotency_key": "k"}).get_data(as_text=True))
    seen.append(client.get(f"/api/v1/rounds/{rnd.id}/book").get_data(as_text=True))
    seen.append(client.get(f"/api/v1/rounds/{rnd.id}/registration", headers=bearer(session, a)).get_data(as_text=True))
    for user in (a, b):
        for secret in (user.identity.real_name, user.username, user.display_name):
            assert not any(secret in text for text in seen), secret
    book = json.loads(seen[2])
    assert set(book) == {"round_id", "state", "closed", "start_at", "end_at", "server_time", "current_price",
                         "leader_code", "bid_count", "sale_price", "buyer_code", "bids"}


def test_the_openapi_document_lists_the_bidding_paths(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/rounds/{round_id}/bids", "/api/v1/rounds/{round_id}/book",
            "/api/v1/rounds/{round_id}/registration", "/api/v1/rounds/{round_id}/bank-transfer"} <= set(paths)
    assert paths["/api/v1/rounds/{round_id}/book"]["get"]["security"] == []


def test_an_unknown_round_book_is_404(client):
    assert client.get("/api/v1/rounds/123456/book").status_code == 404


def test_utc_times_are_iso_with_milliseconds(client, session, tmp_path):
    rnd = open_round(session, tmp_path)
    book = client.get(f"/api/v1/rounds/{rnd.id}/book").json
    end = datetime.fromisoformat(book["end_at"])
    assert end.utcoffset() == timedelta(0) and end.tzinfo is not None
    assert abs(end - rnd.end_at.astimezone(timezone.utc)) < timedelta(milliseconds=1)
