"""JSON API v1 of the bidding package: the public book of a round, and a bidder's own steps
(sign up, declare the bank transfer of the deposit, bid).

Public, no token: ``GET /api/v1/rounds/<id>/book``
Bidders (bearer token): ``POST /api/v1/rounds/<id>/registration`` ·
``GET /api/v1/rounds/<id>/registration`` · ``POST /api/v1/rounds/<id>/bank-transfer`` ·
``POST /api/v1/rounds/<id>/bids``

Same contract as the web pages (decision 13): a bidder learns only its own registration, code
and receipts; the book shows codes, amounts and server times, never an identity nor how many
signed up. A bid is answered with the same receipt as on the bid page: 201 accepted (server
receipt time to the millisecond, the end time, whether it extended it), 200 for a repeat of the
same idempotency key (the first receipt, no second bid), 409 refused with the rule's words.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from accounts.api import api_auth
from accounts.models import Role
from auction.models import Round
from bidding import live, services
from bidding.models import Deposit, Registration
from core.api import (
    AMOUNT_SCHEMA, INT_SCHEMA, id_path, object_doc, operation_doc, read_json, refusals,
)
from core.context import context_for
from core.db import keeps_the_worker
from core.jsonbody import Unreadable, amount_field, instant_str, json_object, money_str, text_field
from core.text import N_
from core.web import db_session, now

bp = Blueprint("bidding_api", __name__, url_prefix="/api/v1")

_refusals = refusals([(Unreadable, 400), (services.NotFound, 404), (services.NotAllowed, 403)])
_KEY_LEN = 64


def _ctx():
    return context_for(current_app, db_session(), now())


def _published_round(round_id: int) -> Round:
    rnd = db_session().get(Round, round_id)
    if rnd is None or rnd.published_at is None:
        raise services.NotFound()
    return rnd


def _millis(value) -> str | None:
    return value.isoformat(timespec="milliseconds") if value is not None else None


def _registration(reg: Registration) -> dict:
    """A bidder's own registration: the code only once the deposit is confirmed (A23)."""
    dep: Deposit | None = reg.deposit
    qualified = reg.qualified_at is not None
    return {
        "round_id": reg.round_id, "qualified": qualified, "code": reg.code if qualified else None,
        "priority_rank": reg.priority_rank if qualified else None,
        "deposit_due": money_str(services.deposit_amount(db_session(), reg)),
        "deposit": None if dep is None else {
            "amount": money_str(dep.amount), "method": dep.method, "state": str(dep.state),
            "declared_at": instant_str(dep.declared_at), "confirmed_at": instant_str(dep.confirmed_at),
            "refund_due_at": instant_str(dep.refund_due_at), "refunded_at": instant_str(dep.refunded_at)},
    }


# --- public ---------------------------------------------------------------------------------------


@bp.get(f"/rounds/{id_path('round_id')}/book")
@_refusals
def book(round_id: int):
    """The public book: state, start and end, current price, leading code, the number of bids and
    the latest 50 (codes, amounts, server times to the millisecond), with the server's time so a
    client can show an honest countdown. A round past its end is closed first (decision 2).

    :raise 404: unknown or unpublished round.
    """
    rnd = services.close_if_due(db_session(), _published_round(round_id), _ctx(),
                                 clock=current_app.extensions["clock"])
    data = services.public_book(db_session(), rnd.id)
    closed = live.is_over(rnd.state, rnd.closed_at)
    response = jsonify({
        "round_id": rnd.id, "state": data["state"], "closed": closed, "start_at": _millis(data["start_at"]),
        "end_at": _millis(data["end_at"]), "server_time": _millis(now()),
        "current_price": money_str(data["current_price"]) if data["current_price"] is not None else None,
        "leader_code": data["leader_code"], "bid_count": data["bid_count"],
        "sale_price": money_str(rnd.sale_price) if closed and rnd.sale_price is not None else None,
        "buyer_code": rnd.buyer_code if closed else None,
        "bids": [{"seq": b["seq"], "code": b["code"], "amount": money_str(b["amount"]), "at": _millis(b["at"]),
                  "extended": b["extended"]} for b in data["bids"]]})
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the bidder's own steps -----------------------------------------------------------------------


@bp.post(f"/rounds/{id_path('round_id')}/registration")
@api_auth(Role.BIDDER)
@_refusals
def register(round_id: int):
    """Sign up for a published round; housing needs ``housing_promise: true`` (S4). Signing up
    twice returns the first registration.

    :raise 400: unreadable body; :raise 403: no verified real name; :raise 404: unknown round;
        :raise 409: closed for sign-up, barred (A41, A53, decision 19), no housing promise.
    """
    body = json_object(read_json() or {}, "", {"housing_promise"})
    promise = body.get("housing_promise", False)
    if not isinstance(promise, bool):
        raise Unreadable(N_("%(field)s must be true or false."), field="housing_promise")
    rnd = _published_round(round_id)
    reg = services.register(db_session(), user=g.api_user, round_id=rnd.id, housing_promise=promise, ctx=_ctx())
    return jsonify(_registration(reg)), 201


@bp.get(f"/rounds/{id_path('round_id')}/registration")
@api_auth(Role.BIDDER)
@_refusals
def my_registration(round_id: int):
    """My registration on a round: deposit due and its state, and my code once qualified.

    :raise 404: unknown round, or not signed up.
    """
    rnd = _published_round(round_id)
    reg = services.my_registration(db_session(), user=g.api_user, round_id=rnd.id)
    if reg is None:
        raise services.NotFound()
    return jsonify(_registration(reg))


@bp.post(f"/rounds/{id_path('round_id')}/bank-transfer")
@api_auth(Role.BIDDER)
@_refusals
def bank_transfer(round_id: int):
    """Declare the bank transfer of my deposit (payer name and bank reference); the court's
    finance officer confirms it (decision 10: the payer must be the bidder).

    :raise 400: unreadable body; :raise 404: unknown round, or not signed up; :raise 409:
        confirmed already, or a field is empty.
    """
    body = json_object(read_json(), "", {"payer_name", "bank_reference"})
    payer = text_field(body, "payer_name", max_len=120)
    reference = text_field(body, "bank_reference", max_len=80)
    rnd = _published_round(round_id)
    reg = services.my_registration(db_session(), user=g.api_user, round_id=rnd.id)
    if reg is None:
        raise services.NotFound()
    services.declare_bank_transfer(db_session(), user=g.api_user, registration_id=reg.id, payer_name=payer,
                                   bank_reference=reference, ctx=_ctx())
    return jsonify(_registration(reg))


@bp.post(f"/rounds/{id_path('round_id')}/bids")
@keeps_the_worker  # decision 0012: no yielding on database waits but for the round's lock
@api_auth(Role.BIDDER)
@_refusals
def bid(round_id: int):
    """Bid ``amount`` (a decimal string in yuan) with an ``idempotency_key`` of your choosing
    (at most 64 characters): a retry with the same key returns the first receipt.

    :raise 400: unreadable body; :raise 403: not signed up for this round; :raise 404: unknown
        round; :raise 409: refused (not open, not qualified, too low, after the end…).
    """
    body = json_object(read_json(), "", {"amount", "idempotency_key"})
    amount = amount_field(body, "amount")
    key = text_field(body, "idempotency_key", max_len=_KEY_LEN)
    got = services.place_bid(db_session(), user=g.api_user, round_id=round_id, amount=amount,
                             idempotency_key=key, ctx=_ctx(), clock=current_app.extensions["clock"])
    return jsonify({"accepted": True, "duplicate": got.duplicate, "seq": got.seq, "amount": money_str(got.amount),
                    "received_at": _millis(got.received_at), "end_at": _millis(got.end_at),
                    "extended": got.extended}), 200 if got.duplicate else 201


# --- OpenAPI --------------------------------------------------------------------------------------

_ROUND_ID = [{"name": "round_id", "in": "path", "required": True, "schema": INT_SCHEMA}]
_BAD = "Unreadable body, missing, mistyped or unknown field"

OPENAPI_PATHS = {
    "/api/v1/rounds/{round_id}/book": {"get": operation_doc(
        "The public book of a round: state, end, price, leading code, latest bids, server time (decision 13)",
        ("200", "The book"), params=_ROUND_ID, public=True, e404="No such published round")},
    "/api/v1/rounds/{round_id}/registration": {
        "post": operation_doc(
            "Sign up for a round (bidders; S4 housing promise; A41, A53, decision 19 bars)",
            ("201", "My registration and the deposit due"), params=_ROUND_ID,
            body={"required": False, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "properties": {"housing_promise": {"type": "boolean", "default": False}}}}}},
            e400=_BAD, e403="Not a bidder with a verified real name", e404="No such published round",
            e409="Closed for sign-up, barred, or no housing promise"),
        "get": operation_doc(
            "My registration: deposit due and state, my bidder code once qualified (bidders; A23)",
            ("200", "My registration"), params=_ROUND_ID, e403="Not a bidder",
            e404="No such round, or not signed up")},
    "/api/v1/rounds/{round_id}/bank-transfer": {"post": operation_doc(
        "Declare the bank transfer of my deposit; the court's finance officer confirms it (bidders; decision 10)",
        ("200", "My registration"), params=_ROUND_ID,
        body=object_doc(["payer_name", "bank_reference"], payer_name={"type": "string", "maxLength": 120},
                        bank_reference={"type": "string", "maxLength": 80}),
        e400=_BAD, e403="Not a bidder", e404="No such round, or not signed up",
        e409="Confirmed already, or a field is empty")},
    "/api/v1/rounds/{round_id}/bids": {"post": operation_doc(
        "Bid under the round's lock; the server's receipt time is the bid's time (bidders; A28, A29, decision 2)",
        ("201", "Accepted: seq, amount, received_at, end_at, extended (200: a repeat of the key, first receipt)"),
        params=_ROUND_ID,
        body=object_doc(["amount", "idempotency_key"], amount=AMOUNT_SCHEMA,
                        idempotency_key={"type": "string", "minLength": 1, "maxLength": _KEY_LEN}),
        e400=_BAD, e403="Not a bidder, or not signed up for this round", e404="No such published round",
        e409="Refused by a rule (not open, deposit not confirmed, amount too low, after the end)")},
}
