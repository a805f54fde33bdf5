"""JSON API v1 of the auction package: the public lot pages, and the court's steps on a lot and
its rounds (terms, notices, priority holders, publication, 暂缓/中止, 撤回/撤销, the outcome of a
sale, 二拍, 变卖, 以物抵债) and its late-step alerts.

Public, no token: ``GET /api/v1/lots`` · ``GET /api/v1/lots/<id>``
Officers of the case's court: ``POST /api/v1/lots`` · ``PUT /api/v1/rounds/<id>/terms`` ·
``POST /api/v1/rounds/<id>/notices`` · ``POST /api/v1/lots/<id>/priority-holders`` ·
``GET /api/v1/rounds/<id>/publication-check`` · ``POST /api/v1/rounds/<id>/publish`` ·
``POST /api/v1/rounds/<id>/cause-ended`` · ``POST /api/v1/rounds/<id>/resume`` ·
``POST /api/v1/rounds/<id>/withdraw`` · ``POST /api/v1/rounds/<id>/annul`` ·
``POST /api/v1/rounds/<id>/balance`` · ``POST /api/v1/rounds/<id>/qualification`` ·
``POST /api/v1/rounds/<id>/ruling`` · ``POST /api/v1/rounds/<id>/handover`` ·
``POST /api/v1/lots/<id>/rounds`` · ``POST /api/v1/lots/<id>/variation`` ·
``POST /api/v1/rounds/<id>/take-in-payment`` · ``POST /api/v1/rounds/<id>/variation-decision``
Officers and administrators (the emergency 暂缓 of A47): ``POST /api/v1/rounds/<id>/suspend``
Court staff and supervisors: ``GET /api/v1/auction/alerts``

Views read JSON into typed values, call one use case of :mod:`auction.services` and map its
refusals: a malformed request is 400 (naming the field), no or a bad token 401, a step the user
may not take 403, an unknown lot or round (or another court's) 404, any other refusal of a rule
409 with the rule's words. A lot is public once a round of it is published, and then only its
published rounds are; no bidder's identity ever leaves here (after the close, the buyer's
bidder code only, as on the 成交确认书), nor a priority holder's identity number.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone

from flask import Blueprint, current_app, g, jsonify, request, url_for
from sqlalchemy import func, or_, select

from accounts.api import api_auth
from accounts.models import Role
from accounts.rules import mask_identity_number
from auction import rules, services
from auction.models import Lot, Notice, PriorityHolder, Round
from auction.rules import NoticeMethod, RoundKind, RoundState
from cases.models import Case
from cases.rules import PartyKind, local_today
from cases.services import CaseNotFound, get_case_for
from cases.services import NotAllowed as CaseNotAllowed
from core.api import (
    AMOUNT_SCHEMA, INT_SCHEMA, MAX_ID, body_doc, error_doc, id_path, object_doc, operation_doc, read_json,
    refusals,
)
from core.context import context_for
from core.i18n import translate_message
from core.jsonbody import (
    LONG_TEXT, Unreadable, amount_field, choice_field, instant_str, integer_field, is_utf8, json_object, money_str,
    required_field, text_field,
)
from core.models import Document
from core.text import N_, DomainError
from core.web import db_session, now, rulebook

bp = Blueprint("auction_api", __name__, url_prefix="/api/v1")
_MAX_ID = MAX_ID
_id = id_path


_STATUS: list[tuple[type[DomainError], int]] = [
    (Unreadable, 400), (services.NotFound, 404), (CaseNotFound, 404), (services.NotAllowed, 403),
    (CaseNotAllowed, 403),
]


_refusals = refusals(_STATUS)


def _ctx():
    """What the use cases need besides the session, at this request's platform time."""
    return context_for(current_app, db_session(), now())


def _created(payload: dict):
    return jsonify(payload), 201


# --- the public lot pages ----------------------------------------------------------------------


@bp.get("/lots")
@_refusals
def list_lots():
    """Published lots, the latest announcement first. ``?state=`` filters on the state of the
    lot's latest published round, ``?q=`` on the lot's title or case number; ``?page=`` and
    ``?per_page=`` (at most 100) paginate.

    :raise 400: unknown state, unreadable query or page.
    """
    state = _query_choice("state", [s.value for s in RoundState])
    q = _query_text("q")
    page = _query_int("page", 1, _MAX_PAGE)
    per_page = _query_int("per_page", 20, _MAX_PER_PAGE)
    latest = (select(Round.lot_id, func.max(Round.seq).label("seq"))
              .where(Round.published_at.is_not(None)).group_by(Round.lot_id).subquery())
    conditions = []
    if state is not None:
        conditions.append(Round.state == state)
    if q:
        conditions.append(or_(Lot.title.contains(q, autoescape=True), Case.number.contains(q, autoescape=True)))

    def published(stmt):
        return (stmt.join(latest, latest.c.lot_id == Lot.id)
                .join(Round, (Round.lot_id == Lot.id) & (Round.seq == latest.c.seq))
                .join(Case, Case.id == Lot.case_id).where(*conditions))

    total = db_session().scalar(published(select(func.count(Lot.id)).select_from(Lot)))
    rows = db_session().execute(published(select(Lot, Round))
                                .order_by(Round.published_at.desc(), Lot.id.desc())
                                .limit(per_page).offset((page - 1) * per_page)).all()
    return jsonify({"lots": [_public_lot_summary(lot, rnd) for lot, rnd in rows],
                    "page": page, "per_page": per_page, "total": total})


@bp.get(f"/lots/{_id('lot_id')}")
@_refusals
def get_lot(lot_id: int):
    """The public page of a lot: the publication set of its current round (A12, A13), every
    published round in short, the public decisions with their reasons (A48), the public
    documents with their SHA-256, and each closed round's result (price and buyer code, or 流拍).

    :raise 404: unknown, or no round of it published yet.
    """
    lot = db_session().get(Lot, lot_id)
    if lot is None or not _published_rounds(lot):
        raise services.NotFound()
    return jsonify(_public_lot(lot))


# --- lots and terms ------------------------------------------------------------------------------


@bp.post("/lots")
@api_auth(Role.OFFICER)
@_refusals
def create_lot():
    """A lot of one asset, or a bundle of one case or series (B03), each with a valid final
    reference price; its first round is a draft with the checked terms (A05, A19, A26, A27).

    :raise 400: unreadable body; :raise 403: not an officer, or visible but not yours;
        :raise 404: unknown asset, or another court's; :raise 409: a rule refuses the lot or terms.
    """
    body = json_object(read_json(), "", {"asset_ids", "title", "terms"})
    asset_ids = _id_list(body, "asset_ids")
    title = text_field(body, "title", max_len=_len(Lot, "title"))
    lot = services.create_lot(db_session(), actor=g.api_user, asset_ids=asset_ids, title=title,
                              terms=_terms(required_field(body, "terms", "terms"), "terms"), ctx=_ctx())
    return _created(_lot(lot))


@bp.put(f"/rounds/{_id('round_id')}/terms")
@api_auth(Role.OFFICER)
@_refusals
def update_terms(round_id: int):
    """Replace a round's terms before its announcement is published (A05/A43, A19, A26, A27).

    :raise 400: unreadable body; :raise 404: unknown round, or another court's;
        :raise 409: published already, or a rule refuses the terms.
    """
    terms = _terms(read_json(), "")
    return jsonify(_round(services.update_terms(db_session(), actor=g.api_user, round_id=round_id, terms=terms,
                                                ctx=_ctx())))


# --- notices and priority holders --------------------------------------------------------------


@bp.post(f"/rounds/{_id('round_id')}/notices")
@api_auth(Role.OFFICER)
@_refusals
def record_notice(round_id: int):
    """How and when a party or a priority holder was notified (A15), that it could not be
    reached and the notice was published (A17), or its written waiver (A16). The first notice
    moves a draft round to notifying.

    :raise 400: unreadable body, or not exactly one of ``party_id`` and ``holder_id``;
        :raise 404: unknown round, party or holder (or another court's); :raise 409: published
        already, dated in the future, or no detail.
    """
    body = json_object(read_json(), "", {"party_id", "holder_id", "method", "detail", "at"})
    party_id, holder_id = integer_field(body, "party_id"), integer_field(body, "holder_id")
    if (party_id is None) == (holder_id is None):
        raise Unreadable(N_("Give exactly one of %(field)s and holder_id."), field="party_id")
    n = services.record_notice(db_session(), actor=g.api_user, round_id=round_id, party_id=party_id,
                               holder_id=holder_id, method=choice_field(body, "method", NoticeMethod, "method"),
                               detail=text_field(body, "detail", max_len=_len(Notice, "detail")),
                               at=_instant(body, "at"), ctx=_ctx())
    return _created({**_notice(n), "round_state": str(n.round.state)})


@bp.post(f"/lots/{_id('lot_id')}/priority-holders")
@api_auth(Role.OFFICER)
@_refusals
def add_priority_holder(lot_id: int):
    """Confirm a holder of a pre-emption right and its rank, 1 the highest (A25, A45). The
    identity number is stored encrypted and never returned.

    :raise 400: unreadable body; :raise 404: unknown lot, or another court's; :raise 409: the
        announcement is out, no name or right, a rank outside 1–9, or an invalid identity number.
    """
    body = json_object(read_json(), "", {"name", "kind", "id_number", "right", "rank"})
    kind = choice_field(body, "kind", PartyKind, "kind")
    rank = integer_field(body, "rank")
    if rank is None:
        raise Unreadable(N_("%(field)s is required."), field="rank")
    h = services.add_priority_holder(
        db_session(), actor=g.api_user, lot_id=lot_id, name=text_field(body, "name", max_len=_len(PriorityHolder, "name")),
        kind=kind, id_number=text_field(body, "id_number", max_len=_ID_NUMBER_LEN),
        right=text_field(body, "right", max_len=_len(PriorityHolder, "right")), rank=rank, ctx=_ctx())
    return _created(_holder(h))


# --- publication -----------------------------------------------------------------------------------


@bp.get(f"/rounds/{_id('round_id')}/publication-check")
@api_auth(Role.OFFICER)
@_refusals
def publication_check(round_id: int):
    """Every reason the round cannot be published now (notices, lead time, the price's
    validity, each missing item of the publication set); ``ready`` when there is none.

    :raise 404: unknown round, or another court's.
    """
    rnd = _officer_round(round_id)
    days = rules.lead_days(kind=RoundKind(rnd.kind), movable=rnd.lot.movable, rulebook=rulebook())
    problems = [_problem(p, days) for p in services.publication_check(db_session(), rnd, _ctx())]
    return jsonify({"round_id": rnd.id, "ready": not problems, "problems": problems})


@bp.post(f"/rounds/{_id('round_id')}/publish")
@api_auth(Role.OFFICER)
@_refusals
def publish(round_id: int):
    """Publish the announcement (A10–A13): the 拍卖公告 goes to the case file and the lot page.
    No body.

    :raise 404: unknown round, or another court's; :raise 409: the first reason it cannot be
        published (see the publication check for all of them).
    """
    return jsonify(_round(services.publish(db_session(), actor=g.api_user, round_id=round_id, ctx=_ctx())))


# --- 暂缓 / 中止 / resume / 撤回 / 撤销 ---------------------------------------------------------------


@bp.post(f"/rounds/{_id('round_id')}/suspend")
@api_auth(Role.OFFICER, Role.ADMIN)
@_refusals
def suspend(round_id: int):
    """暂缓 (A46) or, with ``halt``, 中止 by ruling; the reason is published at once (A48). An
    administrator may only suspend, for a platform emergency, and the officer is told (A47).

    :raise 400: unreadable body; :raise 403: an administrator halting; :raise 404: unknown
        round, or another court's; :raise 409: not announced or bidding, or no reason.
    """
    body = json_object(read_json(), "", {"reason", "halt"})
    halt = _flag(body, "halt", default=False)
    return jsonify(_round(services.suspend(db_session(), actor=g.api_user, round_id=round_id, halt=halt,
                                           reason=text_field(body, "reason", max_len=LONG_TEXT), ctx=_ctx())))


@bp.post(f"/rounds/{_id('round_id')}/cause-ended")
@api_auth(Role.OFFICER)
@_refusals
def record_cause_ended(round_id: int):
    """The cause of the 暂缓/中止 has ended: the round is to resume within 5 days (A49). No body.

    :raise 404: unknown round, or another court's; :raise 409: not suspended.
    """
    return jsonify(_round(services.record_cause_ended(db_session(), actor=g.api_user, round_id=round_id,
                                                      ctx=_ctx())))


@bp.post(f"/rounds/{_id('round_id')}/resume")
@api_auth(Role.OFFICER)
@_refusals
def resume(round_id: int):
    """Resume a suspended round; one that was bidding bids again for at least 24 hours
    (decision 8), until ``end_at`` when given. The body is optional.

    :raise 400: unreadable body; :raise 403: not an officer; :raise 404: unknown round, or
        another court's; :raise 409: not suspended, or ``end_at`` too soon.
    """
    body = _optional_body({"end_at"})
    end_at = _instant(body, "end_at") if body.get("end_at") is not None else None
    return jsonify(_round(services.resume(db_session(), actor=g.api_user, round_id=round_id, new_end_at=end_at,
                                          ctx=_ctx())))


@bp.post(f"/rounds/{_id('round_id')}/withdraw")
@api_auth(Role.OFFICER)
@_refusals
def withdraw(round_id: int):
    """撤回 before a sale, on a ground of B05/B06 explained in ``reason``; deposits are refunded.

    :raise 400: unreadable body or unknown ground; :raise 404: unknown round, or another
        court's; :raise 409: no reason, or no longer possible (sold, closed).
    """
    body = json_object(read_json(), "", {"ground", "reason"})
    ground = _one_of(body, "ground", services.WITHDRAW_GROUNDS)
    return jsonify(_round(services.withdraw(db_session(), actor=g.api_user, round_id=round_id, ground=ground,
                                            reason=text_field(body, "reason", max_len=LONG_TEXT), ctx=_ctx())))


@bp.post(f"/rounds/{_id('round_id')}/annul")
@api_auth(Role.OFFICER)
@_refusals
def annul(round_id: int):
    """撤销 a sale on an upheld objection, on a ground of A52 explained in ``reason``.

    :raise 400: unreadable body; :raise 404: unknown round, or another court's; :raise 409:
        not an A52 ground, no reason, or nothing sold to annul.
    """
    body = json_object(read_json(), "", {"ground", "reason"})
    # The A52 vocabulary is the service's (not exported): an unknown ground is its 409.
    return jsonify(_round(services.annul(db_session(), actor=g.api_user, round_id=round_id,
                                         ground=text_field(body, "ground", max_len=40),
                                         reason=text_field(body, "reason", max_len=LONG_TEXT), ctx=_ctx())))


# --- the outcome of a sale ---------------------------------------------------------------------------


@bp.post(f"/rounds/{_id('round_id')}/balance")
@api_auth(Role.OFFICER)
@_refusals
def record_balance_paid(round_id: int):
    """The buyer paid the balance within the announced period (A39); the case funds receive it.

    :raise 400: unreadable body; :raise 404: unknown round, or another court's; :raise 409: no
        balance awaited, the period has passed, or not a positive amount up to the price.
    """
    body = json_object(read_json(), "", {"amount"})
    return jsonify(_round(services.record_balance_paid(db_session(), actor=g.api_user, round_id=round_id,
                                                       amount=amount_field(body, "amount"), ctx=_ctx())))


@bp.post(f"/rounds/{_id('round_id')}/qualification")
@api_auth(Role.OFFICER)
@_refusals
def record_qualification(round_id: int):
    """Housing: the buyer's purchase qualification held from application to ruling (D01).

    :raise 400: unreadable body; :raise 404: unknown round, or another court's; :raise 409: not
        between the sale and the ruling, or no note.
    """
    body = json_object(read_json(), "", {"note"})
    return jsonify(_round(services.record_qualification_check(
        db_session(), actor=g.api_user, round_id=round_id, note=text_field(body, "note", max_len=LONG_TEXT),
        ctx=_ctx())))


@bp.post(f"/rounds/{_id('round_id')}/ruling")
@api_auth(Role.OFFICER)
@_refusals
def issue_ruling(round_id: int):
    """Issue and serve the 拍卖成交裁定 (A35, B07); ownership passes. No body.

    :raise 404: unknown round, or another court's; :raise 409: not paid in full, or housing
        without the qualification check (D01).
    """
    return jsonify(_round(services.issue_ruling(db_session(), actor=g.api_user, round_id=round_id, ctx=_ctx())))


@bp.post(f"/rounds/{_id('round_id')}/handover")
@api_auth(Role.OFFICER)
@_refusals
def record_handover(round_id: int):
    """The property is handed over (B08); the body ``{"note": …}`` is optional.

    :raise 400: unreadable body; :raise 404: unknown round, or another court's; :raise 409:
        no ruling served yet.
    """
    body = _optional_body({"note"})
    note = text_field(body, "note", max_len=LONG_TEXT, required=False) or ""
    return jsonify(_round(services.record_handover(db_session(), actor=g.api_user, round_id=round_id, note=note,
                                                   ctx=_ctx())))


# --- next rounds -----------------------------------------------------------------------------------


@bp.post(f"/lots/{_id('lot_id')}/rounds")
@api_auth(Role.OFFICER)
@_refusals
def relist(lot_id: int):
    """The next auction with new terms: the second after a 流拍 of the first, its starting
    price cut by at most 20 % (A43), or a resale after a buyer's default (decision 6).

    :raise 400: unreadable body; :raise 404: unknown lot, or another court's; :raise 409: the
        last round is neither unsold nor defaulted, or a rule refuses the terms.
    """
    terms = _terms(read_json(), "")
    return _created(_round(services.relist(db_session(), actor=g.api_user, lot_id=lot_id, terms=terms, ctx=_ctx())))


@bp.post(f"/lots/{_id('lot_id')}/variation")
@api_auth(Role.OFFICER)
@_refusals
def start_variation(lot_id: int):
    """变卖 after the second 流拍, at the second auction's starting price (C04) for 60 days
    (C02); ``deposit`` is the portion forfeited on default (decision 7).

    :raise 400: unreadable body; :raise 404: unknown lot, or another court's; :raise 409: not
        after the second 流拍, a deposit above the price, or a start in the past.
    """
    body = json_object(read_json(), "", {"deposit", "start_at", "balance_days", "taxes", "court_contact",
                                         "title_and_possession", "defects_statement"})
    rnd = services.start_variation(
        db_session(), actor=g.api_user, lot_id=lot_id, deposit=amount_field(body, "deposit"),
        start_at=_instant(body, "start_at"), balance_days=_days(body, "balance_days"), taxes=_taxes(body, "taxes"),
        **{k: text_field(body, k, max_len=LONG_TEXT) for k in ("court_contact", "title_and_possession",
                                                               "defects_statement")}, ctx=_ctx())
    return _created(_round(rnd))


@bp.post(f"/rounds/{_id('round_id')}/take-in-payment")
@api_auth(Role.OFFICER)
@_refusals
def take_in_payment(round_id: int):
    """以物抵债 at a 流拍 (B04): an applicant takes the property at the round's starting price,
    topping up the surplus over its claim (``"0.00"`` when there is none).

    :raise 400: unreadable body; :raise 404: unknown round, or another court's; :raise 409:
        not an applicant of the case, the wrong top-up, or the round is not unsold.
    """
    body = json_object(read_json(), "", {"party_id", "top_up"})
    party_id = integer_field(body, "party_id")
    if party_id is None:
        raise Unreadable(N_("%(field)s is required."), field="party_id")
    return jsonify(_round(services.take_in_payment(db_session(), actor=g.api_user, round_id=round_id,
                                                   party_id=party_id, top_up=amount_field(body, "top_up"),
                                                   ctx=_ctx())))


@bp.post(f"/rounds/{_id('round_id')}/variation-decision")
@api_auth(Role.OFFICER)
@_refusals
def record_variation_decision(round_id: int):
    """After a failed 变卖, the court's decision (抵债, release of the seizure …; decision 7).

    :raise 400: unreadable body; :raise 404: unknown round, or another court's; :raise 409:
        not a failed 变卖, or no decision.
    """
    body = json_object(read_json(), "", {"decision"})
    return jsonify(_round(services.record_variation_decision(
        db_session(), actor=g.api_user, round_id=round_id, decision=text_field(body, "decision", max_len=LONG_TEXT),
        ctx=_ctx())))


@bp.get("/auction/alerts")
@api_auth(Role.OFFICER, Role.FINANCE, Role.SUPERVISOR)
@_refusals
def alerts():
    """Steps of section b past their deadline (decision 25): relist (30 days), 变卖 (15 days),
    ruling (10 days), handover (15 days), resumption (5 days). Court staff see their court's,
    supervisors every court's."""
    found = services.alerts(db_session(), user=g.api_user, today=local_today(now()), rulebook=rulebook())
    return jsonify({"alerts": [{
        "round_id": a.round.id, "lot_id": a.round.lot_id, "lot_title": a.round.lot.title,
        "case_number": a.round.lot.case.number, "state": str(a.round.state), "what": translate_message(a.what),
        "deadline": a.deadline.isoformat(),
    } for a in found]})


# --- loading and reading the request -----------------------------------------------------------------

#: Identity numbers are 18 characters (resident ID, unified social credit code); room for spaces.
_ID_NUMBER_LEN = 40
#: A bundle is a handful of assets (B03); a bound keeps one request small.
_MAX_ASSETS = 50
_MAX_TAXES = 20
_TAX_NAME_LEN = 60
#: The payers of decision 17, as the announcement prints them (``auction.documents.PAYERS``).
_PAYERS = ("buyer", "debtor", "court")
#: A period in days beyond ten years is a typo, and a huge one would overflow the date arithmetic
#: of the close; the service's own limits (A39: 1–365) answer with a 409.
_MAX_DAYS = 3650
#: Times outside these years are typos; the bounds keep date arithmetic (a 60-day 变卖 period)
#: from overflowing ``datetime``.
_EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(3000, 1, 1, tzinfo=timezone.utc)
_MAX_PER_PAGE = 100
_MAX_PAGE = 100_000
_QUERY_LEN = 200
_TERMS_TEXTS = ("inspection", "panel_record", "court_contact", "title_and_possession", "defects_statement",
                "special_notes")
_TERMS_FIELDS = {"starting_price", "deposit", "increment", "start_at", "end_at", "balance_days", "taxes",
                 *_TERMS_TEXTS}


def _len(model, column: str) -> int:
    """The column's length: a longer value is a 400 here, not a database error."""
    return model.__table__.c[column].type.length


def _officer_round(round_id: int) -> Round:
    """A round of a case the token's officer may change.

    :raise NotFound: unknown, or another court's; :raise NotAllowed: visible, not changeable.
    """
    rnd = db_session().get(Round, round_id)
    if rnd is None:
        raise services.NotFound()
    get_case_for(db_session(), g.api_user, rnd.lot.case_id, edit=True)
    return rnd


@contextmanager
def _within(prefix: str):
    """Name a nested field in full (``terms.deposit``) when a shared reader refuses it."""
    try:
        yield
    except Unreadable as exc:
        if prefix and exc.params.get("field"):
            exc.params["field"] = f"{prefix}.{exc.params['field']}"
        raise


def _optional_body(allowed: set[str]) -> dict:
    """The body of an endpoint whose fields are all optional: none at all reads as ``{}``."""
    if not request.get_data():
        return {}
    return json_object(read_json(), "", allowed)


def _terms(raw, prefix: str) -> services.Terms:
    """A round's terms (A45): prices as decimal strings, the bidding window as instants."""
    body = json_object(raw, prefix, _TERMS_FIELDS)
    with _within(prefix):
        optional = {}
        if body.get("balance_days") is not None:
            optional["balance_days"] = _days(body, "balance_days")
        if body.get("taxes") is not None:
            optional["taxes"] = _taxes(body, "taxes")
        return services.Terms(
            starting_price=amount_field(body, "starting_price"), deposit=amount_field(body, "deposit"),
            increment=amount_field(body, "increment"), start_at=_instant(body, "start_at"),
            end_at=_instant(body, "end_at"), **optional,
            **{k: text_field(body, k, max_len=LONG_TEXT, required=False) or "" for k in _TERMS_TEXTS})


def _taxes(body: dict, key: str) -> list[dict]:
    """Decision 17: ``[{"tax": "契税", "payer": "buyer"}, …]``; whether a name is blank is the
    service's check."""
    value = required_field(body, key, key)
    if not isinstance(value, list) or len(value) > _MAX_TAXES:
        raise Unreadable(N_("%(field)s must be a list of at most %(max)s objects."), field=key, max=_MAX_TAXES)
    out = []
    for i, raw in enumerate(value):
        item = json_object(raw, f"{key}[{i}]", {"tax", "payer"})
        out.append({"tax": text_field(item, "tax", max_len=_TAX_NAME_LEN, field=f"{key}[{i}].tax"),
                    "payer": _one_of(item, "payer", _PAYERS, field=f"{key}[{i}].payer")})
    return out


def _instant(body: dict, key: str) -> datetime:
    """An ISO 8601 instant with its offset; a naive time is ambiguous (Beijing or UTC?)."""
    value = required_field(body, key, key)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(timezone.utc)
                if _EARLIEST <= parsed < _LATEST:
                    return parsed
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
            pass
    raise Unreadable(N_("%(field)s must be an ISO 8601 time with its offset, e.g. 2026-12-01T10:00:00+08:00."),
                     field=key)


def _days(body: dict, key: str) -> int:
    value = required_field(body, key, key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_DAYS:
        raise Unreadable(N_("%(field)s must be a whole number from 1 to %(max)s."), field=key, max=_MAX_DAYS)
    return value


def _flag(body: dict, key: str, *, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Unreadable(N_("%(field)s must be true or false."), field=key)
    return value


def _one_of(body: dict, key: str, choices: tuple[str, ...], *, field: str | None = None) -> str:
    value = required_field(body, key, field or key)
    if not isinstance(value, str) or value not in choices:
        raise Unreadable(N_("%(field)s must be one of %(choices)s."), field=field or key, choices=", ".join(choices))
    return value


def _id_list(body: dict, key: str) -> list[int]:
    value = required_field(body, key, key)
    if not isinstance(value, list) or not 0 < len(value) <= _MAX_ASSETS or any(
            isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= _MAX_ID for v in value):
        raise Unreadable(N_("%(field)s must be a list of asset ids (positive whole numbers)."), field=key)
    return value


def _query_choice(name: str, choices: list[str]) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    if value not in choices:
        raise Unreadable(N_("%(field)s must be one of %(choices)s."), field=name, choices=", ".join(choices))
    return value


def _query_text(name: str) -> str:
    value = request.args.get(name, "").strip()
    if "\x00" in value or not is_utf8(value) or len(value) > _QUERY_LEN:
        raise Unreadable(N_("%(field)s is too long or contains a character that is not allowed."), field=name)
    return value


def _query_int(name: str, default: int, high: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= high:
        raise Unreadable(N_("%(field)s must be a whole number from 1 to %(max)s."), field=name, max=high)
    return int(value)


def _problem(problem: str, days: int) -> str:
    """One reason of :func:`services.publication_check` in the user's language: a missing item
    comes as ``"<msgid>|<item msgid>"``; the lead-time reason needs its number of days."""
    message, _, item = problem.partition("|")
    return translate_message(message, {"item": item, "days": days})


# --- writing the response ----------------------------------------------------------------------------


def _money_or_none(value) -> str | None:
    return money_str(value) if value is not None else None


def _terms_out(rnd: Round, *, public: bool) -> dict:
    out = {
        "starting_price": money_str(rnd.starting_price), "deposit": money_str(rnd.deposit),
        "increment": money_str(rnd.increment), "start_at": instant_str(rnd.start_at),
        "end_at": instant_str(rnd.end_at), "balance_days": rnd.balance_days,
        "taxes": [{"tax": t["tax"], "payer": t["payer"]} for t in rnd.taxes or []],
        **{k: getattr(rnd, k) for k in _TERMS_TEXTS},
    }
    if public:
        del out["panel_record"]  # the collegiate panel's deliberation (A45) is the court's file
    return out


def _notice(n: Notice) -> dict:
    return {"id": n.id, "round_id": n.round_id, "party_id": n.party_id, "holder_id": n.holder_id,
            "recipient": n.recipient, "method": str(n.method), "detail": n.detail, "at": instant_str(n.at)}


def _holder(h: PriorityHolder) -> dict:
    return {"id": h.id, "lot_id": h.lot_id, "name": h.name, "id_number_masked": mask_identity_number(h.id_number_tail),
            "right": h.right, "rank": h.rank, "confirmed_at": instant_str(h.confirmed_at)}


def _result(rnd: Round) -> dict | None:
    """The outcome once the round closed: the price and buyer code (A34), or 流拍 (A42)."""
    if rnd.closed_at is None:
        return None
    if rnd.sale_price is not None:
        return {"outcome": "sold", "price": money_str(rnd.sale_price), "buyer_code": rnd.buyer_code,
                "closed_at": instant_str(rnd.closed_at)}
    label = "变卖不成" if rnd.kind == RoundKind.VARIATION else "流拍"
    return {"outcome": "unsold", "label": label, "closed_at": instant_str(rnd.closed_at)}


def _round(rnd: Round) -> dict:
    """A round as its court sees it (no bidder's identity: the buyer's code only)."""
    return {
        "id": rnd.id, "lot_id": rnd.lot_id, "seq": rnd.seq, "kind": str(rnd.kind),
        "label": services.round_label(rnd), "state": str(rnd.state), "terms": _terms_out(rnd, public=False),
        "published_at": instant_str(rnd.published_at), "announcement_sha256": rnd.announcement_sha256,
        "result": _result(rnd), "confirmation_sha256": rnd.confirmation_sha256,
        "balance_due_at": instant_str(rnd.balance_due_at), "paid_at": instant_str(rnd.paid_at),
        "qualification_checked_at": instant_str(rnd.qualification_checked_at),
        "ruling_sha256": rnd.ruling_sha256, "ruling_served_at": instant_str(rnd.ruling_served_at),
        "handed_over_at": instant_str(rnd.handed_over_at), "defaulted_at": instant_str(rnd.defaulted_at),
        "unsold_at": instant_str(rnd.unsold_at), "paused_from": rnd.paused_from,
        "paused_at": instant_str(rnd.paused_at), "resume_by": rnd.resume_by.isoformat() if rnd.resume_by else None,
        "emergency": rnd.emergency,
        "notices": [_notice(n) for n in rnd.notices],
        "events": [{"kind": e.kind, "reason": e.reason, "public": e.public, "at": instant_str(e.at)}
                   for e in rnd.events],
    }


def _lot_head(lot: Lot) -> dict:
    return {"id": lot.id, "title": lot.title, "court": lot.case.court.name, "case_number": lot.case.number,
            "reference_price": money_str(lot.reference_price), "movable": lot.movable, "housing": lot.housing}


def _lot(lot: Lot) -> dict:
    """A lot as its court sees it: every round, drafts included, and the priority holders."""
    return {
        **_lot_head(lot), "case_id": lot.case_id, "valid_until": lot.valid_until.isoformat(),
        "created_at": instant_str(lot.created_at),
        "assets": [{"asset_id": la.asset_id, "title": la.asset.title, "procedure_id": la.procedure_id,
                    "reference_price": money_str(la.reference_price)} for la in lot.assets],
        "priority_holders": [_holder(h) for h in lot.priority_holders],
        "rounds": [_round(r) for r in lot.rounds],
    }


def _published_rounds(lot: Lot) -> list[Round]:
    return [r for r in lot.rounds if r.published_at is not None]


def _public_round_summary(rnd: Round) -> dict:
    return {"seq": rnd.seq, "kind": str(rnd.kind), "label": services.round_label(rnd), "state": str(rnd.state),
            "starting_price": money_str(rnd.starting_price), "deposit": money_str(rnd.deposit),
            "start_at": instant_str(rnd.start_at), "end_at": instant_str(rnd.end_at),
            "published_at": instant_str(rnd.published_at), "result": _result(rnd)}


def _public_lot_summary(lot: Lot, rnd: Round) -> dict:
    return {**_lot_head(lot), "state": str(rnd.state), "round": _public_round_summary(rnd)}


def _public_lot(lot: Lot) -> dict:
    """What anyone may read: published rounds only (a relisted round's draft terms are not
    public before its announcement), parties and holders by their public label and rank."""
    rounds = _published_rounds(lot)
    current = rounds[-1]
    return {
        **_lot_head(lot), "state": str(current.state),
        "assets": [{"title": la.asset.title, "category": str(la.asset.category), "location": la.asset.location,
                    "description": la.asset.description, "reference_price": money_str(la.reference_price)}
                   for la in lot.assets],
        "current_round": {
            **_public_round_summary(current), "terms": _terms_out(current, public=True),
            "announcement_sha256": current.announcement_sha256,
            "priority_holders": [{"right": h.right, "rank": h.rank} for h in lot.priority_holders],
            "notices": [{"recipient": n.recipient, "method": str(n.method), "at": instant_str(n.at)}
                        for n in current.notices],
        },
        "rounds": [_public_round_summary(r) for r in rounds],
        "events": [{"round_seq": r.seq, "kind": e.kind, "reason": e.reason, "at": instant_str(e.at)}
                   for r in rounds for e in r.events if e.public],
        "documents": _public_documents(lot, rounds),
    }


def _public_documents(lot: Lot, rounds: list[Round]) -> list[dict]:
    """The public documents of the published rounds (公告, 成交确认书, 流拍记录), found by the
    references the use cases give them (``公告-<lot>-<seq>`` …)."""
    refs = [f"{prefix}-{lot.id}-{r.seq}" for r in rounds for prefix in ("公告", "确认", "流拍")]
    docs = db_session().scalars(select(Document).where(
        Document.subject == f"case:{lot.case_id}", Document.public.is_(True), Document.reference.in_(refs))
        .order_by(Document.created_at, Document.id))
    return [{"kind": d.kind, "title": d.title, "reference": d.reference, "sha256": d.sha256, "size": d.size,
             "media_type": d.media_type, "issued_at": instant_str(d.created_at),
             "url": url_for("core.verify_document", sha256=d.sha256)} for d in docs]


# --- OpenAPI --------------------------------------------------------------------------------------

_AMOUNT = AMOUNT_SCHEMA
_INSTANT = {"type": "string", "format": "date-time", "example": "2027-01-05T10:00:00+08:00",
            "description": "ISO 8601 with its offset"}
_TEXT = {"type": "string", "maxLength": LONG_TEXT}
_INT = INT_SCHEMA
_TAXES = {"type": "array", "maxItems": _MAX_TAXES, "description": "Who bears which tax (decision 17)",
          "items": {"type": "object", "additionalProperties": False, "required": ["tax", "payer"],
                    "properties": {"tax": {"type": "string", "maxLength": _TAX_NAME_LEN, "example": "契税"},
                                   "payer": {"type": "string", "enum": list(_PAYERS)}}}}
_TERMS = {
    "type": "object", "additionalProperties": False,
    "required": ["starting_price", "deposit", "increment", "start_at", "end_at"],
    "properties": {
        "starting_price": {**_AMOUNT, "description": "≥ 70 % of the reference price (A05); 二拍: cut ≤ 20 % (A43)"},
        "deposit": {**_AMOUNT, "description": "5–20 % of the starting price (A19)"},
        "increment": {**_AMOUNT, "description": "A26", "example": "5000.00"},
        "start_at": _INSTANT, "end_at": {**_INSTANT, "description": "≥ 24 hours after start_at (A27)"},
        "balance_days": {"type": "integer", "minimum": 1, "maximum": _MAX_DAYS, "default": 30,
                         "description": "Days to pay the balance (A39: 1–365)"},
        "taxes": _TAXES,
        **{k: _TEXT for k in _TERMS_TEXTS},
    },
}
_ROUND_ID = [{"name": "round_id", "in": "path", "required": True, "schema": _INT}]
_LOT_ID = [{"name": "lot_id", "in": "path", "required": True, "schema": _INT}]
_BAD = "Unreadable body, missing, mistyped or unknown field"


_err, _body, _object, _op = error_doc, body_doc, object_doc, operation_doc


def _round_op(summary: str, *, body: dict | None = None, ok: tuple[str, str] = ("200", "The round"),
              e409: str | None = None, **errors: str) -> dict:
    """An officer's step on a round: 403 for another role, 404 for an unknown or foreign round."""
    if body is not None:
        errors.setdefault("e400", _BAD)
    if e409:
        errors["e409"] = e409
    return _op(summary, ok, params=_ROUND_ID, body=body, e403=errors.pop("e403", "Not an officer"),
               e404="No such round (or another court's)", **errors)


OPENAPI_PATHS = {
    "/api/v1/lots": {
        "get": _op("Published lots, latest announcement first", ("200", "A page of lots with its total"),
                   public=True, e400="Unknown state, unreadable query, page or per_page",
                   params=[
                       {"name": "state", "in": "query", "description": "State of the latest published round",
                        "schema": {"type": "string", "enum": [s.value for s in RoundState]}},
                       {"name": "q", "in": "query", "description": "Part of the title or case number",
                        "schema": {"type": "string", "maxLength": _QUERY_LEN}},
                       {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                       {"name": "per_page", "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": _MAX_PER_PAGE, "default": 20}}]),
        "post": _op("Create a lot of priced assets with the first round's terms (officers; B03, A05, A19, A26, A27)",
                    ("201", "The lot as its court sees it, its first round a draft"),
                    body=_object(["asset_ids", "title", "terms"],
                                 asset_ids={"type": "array", "items": _INT, "minItems": 1, "maxItems": _MAX_ASSETS},
                                 title={"type": "string", "maxLength": 200}, terms=_TERMS),
                    e400=_BAD, e403="Not an officer", e404="No such asset (or another court's)",
                    e409="No valid final reference price, already being sold, or a rule refuses the terms"),
    },
    "/api/v1/lots/{lot_id}": {"get": _op(
        "The public lot page: publication set of the current round, rounds, public decisions, documents, "
        "results (price and buyer code, or 流拍)", ("200", "The lot"), params=_LOT_ID, public=True,
        e404="No such lot, or none of its rounds published")},
    "/api/v1/lots/{lot_id}/priority-holders": {"post": _op(
        "Confirm a pre-emption right holder and its rank (officers; A25, A45); the identity number is never returned",
        ("201", "The holder (identity number masked)"), params=_LOT_ID,
        body=_object(["name", "kind", "id_number", "right", "rank"], name={"type": "string", "maxLength": 120},
                     kind={"type": "string", "enum": [k.value for k in PartyKind]},
                     id_number={"type": "string", "maxLength": _ID_NUMBER_LEN}, right={"type": "string", "maxLength": 200},
                     rank={"type": "integer", "minimum": 1, "maximum": 9}),
        e400=_BAD, e403="Not an officer", e404="No such lot (or another court's)",
        e409="Announced already, a rank outside 1–9, or an invalid identity number")},
    "/api/v1/lots/{lot_id}/rounds": {"post": _op(
        "The next auction: 二拍 after a 流拍 (cut ≤ 20 %, A43) or a resale after 悔拍 (officers; decision 6)",
        ("201", "The new round, a draft"), params=_LOT_ID, body=_body(_TERMS), e400=_BAD, e403="Not an officer",
        e404="No such lot (or another court's)", e409="Not after a 流拍 or a default, or a rule refuses the terms")},
    "/api/v1/lots/{lot_id}/variation": {"post": _op(
        "变卖 after the second 流拍, at the second auction's starting price for 60 days (officers; C01–C06)",
        ("201", "The 变卖 round, to be notified and published"), params=_LOT_ID,
        body=_object(["deposit", "start_at", "balance_days", "taxes", "court_contact", "title_and_possession",
                      "defects_statement"],
                     deposit={**_AMOUNT, "description": "The portion forfeited on default (decision 7)"},
                     start_at=_INSTANT, balance_days={"type": "integer", "minimum": 1, "maximum": _MAX_DAYS},
                     taxes=_TAXES, court_contact=_TEXT, title_and_possession=_TEXT, defects_statement=_TEXT),
        e400=_BAD, e403="Not an officer", e404="No such lot (or another court's)",
        e409="Not after the second 流拍, a deposit above the price, or a start in the past")},
    "/api/v1/rounds/{round_id}/terms": {"put": _round_op(
        "Replace a round's terms before its announcement (officers; A05/A43, A19, A26, A27)", body=_body(_TERMS),
        e409="Published already, or a rule refuses the terms")},
    "/api/v1/rounds/{round_id}/notices": {"post": _round_op(
        "Record how a party or priority holder was notified, published as unreachable, or waived (officers; A15–A17)",
        ok=("201", "The notice and the round's state"),
        body=_object(["method", "detail", "at"], party_id={**_INT, "description": "A party of the case, or …"},
                     holder_id={**_INT, "description": "… a priority holder of the lot (exactly one)"},
                     method={"type": "string", "enum": [m.value for m in NoticeMethod]},
                     detail={"type": "string", "maxLength": 300}, at=_INSTANT),
        e400=_BAD + ", or not exactly one of party_id and holder_id",
        e409="Published already, dated in the future, or no detail")},
    "/api/v1/rounds/{round_id}/publication-check": {"get": _round_op(
        "Every reason the round cannot be published now (officers; A10–A17, E44)",
        ok=("200", "ready, and the problems in the user's language"))},
    "/api/v1/rounds/{round_id}/publish": {"post": _round_op(
        "Publish the announcement (officers; A10–A13)", ok=("200", "The round, announced"),
        e409="The first reason it cannot be published")},
    "/api/v1/rounds/{round_id}/suspend": {"post": _round_op(
        "暂缓 (A46) or 中止 (halt) with a published reason (officers); administrators: emergency 暂缓 only (A47)",
        body=_object(["reason"], reason=_TEXT, halt={"type": "boolean", "default": False}),
        e403="Neither an officer nor an administrator, or an administrator halting",
        e409="Not announced or bidding, or no reason")},
    "/api/v1/rounds/{round_id}/cause-ended": {"post": _round_op(
        "The cause of the suspension ended: resume within 5 days (officers; A49)", e409="Not suspended")},
    "/api/v1/rounds/{round_id}/resume": {"post": _round_op(
        "Resume a suspended round; bidding runs again ≥ 24 hours (officers; decision 8)",
        body={"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": {"end_at": _INSTANT}}}}},
        e409="Not suspended, or end_at less than 24 hours away")},
    "/api/v1/rounds/{round_id}/withdraw": {"post": _round_op(
        "撤回 before a sale on a ground of B05/B06 (officers)",
        body=_object(["ground", "reason"], ground={"type": "string", "enum": list(services.WITHDRAW_GROUNDS)},
                     reason=_TEXT),
        e409="No reason, or no longer possible")},
    "/api/v1/rounds/{round_id}/annul": {"post": _round_op(
        "撤销 a sale on an upheld objection (officers; A52)",
        body=_object(["ground", "reason"], reason=_TEXT, ground={
            "type": "string", "description": "misdescription, system_failure, collusion, unqualified_buyer, "
                                             "unequal_conditions or procedure (A52 (1)–(6))"}),
        e409="Not an A52 ground, no reason, or nothing sold")},
    "/api/v1/rounds/{round_id}/balance": {"post": _round_op(
        "The buyer paid the balance (officers; A39)", body=_object(["amount"], amount=_AMOUNT),
        e409="No balance awaited, the period has passed, or not a positive amount up to the price")},
    "/api/v1/rounds/{round_id}/qualification": {"post": _round_op(
        "Housing: the buyer's purchase qualification held continuously (officers; D01)",
        body=_object(["note"], note=_TEXT), e409="Not between the sale and the ruling, or no note")},
    "/api/v1/rounds/{round_id}/ruling": {"post": _round_op(
        "Issue and serve the 拍卖成交裁定 (officers; A35, B07)", e409="Not paid in full, or no qualification check (D01)")},
    "/api/v1/rounds/{round_id}/handover": {"post": _round_op(
        "The property is handed over (officers; B08)",
        body={"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": {"note": _TEXT}}}}},
        e409="No ruling served yet")},
    "/api/v1/rounds/{round_id}/take-in-payment": {"post": _round_op(
        "以物抵债 at a 流拍: an applicant takes the property at the starting price (officers; B04)",
        body=_object(["party_id", "top_up"], party_id=_INT,
                     top_up={**_AMOUNT, "description": "The surplus of the price over the claim, or 0.00"}),
        e409="Not an applicant, the wrong top-up, or the round is not unsold")},
    "/api/v1/rounds/{round_id}/variation-decision": {"post": _round_op(
        "The court's decision after a failed 变卖 (officers; decision 7)", body=_object(["decision"], decision=_TEXT),
        e409="Not a failed 变卖, or no decision")},
    "/api/v1/auction/alerts": {"get": _op(
        "Steps past their deadline: relist, 变卖, ruling, handover, resumption (court staff, supervisors; decision 25)",
        ("200", "The alerts"), e403="Not court staff or a supervisor")},
}
