"""JSON API v1 of the appraisal package: the agency list, the reference-price procedure, the
public draw record, and the agency side (commissions, reports, objections, inquiry results).

Public, no token: ``GET /api/v1/agencies`` · ``GET /api/v1/agencies/<id>`` · ``GET /api/v1/draws/<id>``
Supervisors: ``POST /api/v1/agencies/<id>/decisions``
Officers: ``POST /api/v1/assets/<id>/procedures`` · ``POST /api/v1/procedures/<id>/draws`` ·
``POST /api/v1/valuations/<id>/review`` · ``POST /api/v1/objections/<id>/forward`` ·
``POST /api/v1/objections/<id>/decision`` · ``POST /api/v1/extensions/<id>/decision``
Parties (and officers for the negotiation): ``POST /api/v1/procedures/<id>/objections`` ·
``POST /api/v1/procedures/<id>/negotiation``
Whoever may see it: ``GET /api/v1/procedures/<id>``
Agencies, platforms, institutions: ``GET /api/v1/commissions`` · ``POST /api/v1/commissions/<id>/answer`` ·
``POST /api/v1/commissions/<id>/extensions`` · ``POST /api/v1/commissions/<id>/valuations`` ·
``POST /api/v1/objections/<id>/answer`` · ``GET /api/v1/inquiries`` ·
``POST /api/v1/procedures/<id>/inquiry-result`` (decision 16: results "through the web or the API")

Views read JSON into typed values, check visibility, call one service and map its refusals: a
malformed request is 400, no or a bad token 401, a visible thing the user may not do 403, an
unknown or invisible one 404, any other refusal of a rule 409. No identity number (nor its
fingerprint) ever leaves here; parties appear by role only. Agencies see only their own
commissions, reports, objections to them and inquiries; parties see a report once served.
"""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone

from flask import Blueprint, current_app, g, jsonify, request, url_for
from sqlalchemy import select

from accounts.api import api_auth
from accounts.models import Role
from appraisal import agencies, services
from appraisal.context import context_for
from appraisal.models import (
    Agency, Commission, Draw, ExtensionRequest, Objection, PriceSubmission, Procedure, Valuation,
)
from appraisal.rules import AgencyKind, AgencyStatus, CommissionState, Method, ObjectionKind
# The request readers are shared with the cases API (one spelling of "malformed" for the
# whole API); they belong in core.api and move there with the next core change.
from core.jsonbody import LONG_TEXT, Unreadable, amount_field, choice_field, date_field, instant_str, money_str, json_object, required_field, text_field
from cases.models import Asset
from cases.services import CaseNotFound, get_case_for
from cases.services import NotAllowed as CaseNotAllowed
from cases.uploads import FileRefused
from core.api import MAX_ID, id_path, read_json, refusals
from core.text import N_, DomainError
from core.web import db_session, now, rulebook

bp = Blueprint("appraisal_api", __name__, url_prefix="/api/v1")

# A refused file is a property of the request, not of the procedure's state: 400 like bad base64.
_STATUS: list[tuple[type[DomainError], int]] = [
    (Unreadable, 400), (FileRefused, 400), (services.NotFound, 404), (CaseNotFound, 404),
    (services.NotAllowed, 403), (agencies.NotAllowed, 403), (CaseNotAllowed, 403),
]


_refusals = refusals(_STATUS)


def _ctx() -> services.Context:
    """What the use cases need besides the session, at this request's platform time."""
    return context_for(current_app, db_session(), now())


def _visible_procedure(procedure_id: int) -> Procedure:
    """The procedure, if the token's user may see it. :raise NotFound: unknown or invisible."""
    proc = services.get_procedure(db_session(), procedure_id)
    if not services.can_view_procedure(g.api_user, proc, db_session()):
        raise services.NotFound()
    return proc


def _created(payload: dict, location: str | None = None):
    """201 with ``payload``; ``Location`` where the new thing has its own URL."""
    response = jsonify(payload)
    if location:
        response.headers["Location"] = location
    return response, 201


# --- agencies ---------------------------------------------------------------------------------


@bp.get("/agencies")
@_refusals
def list_agencies():
    """The public list (名单库): listed agencies by default; ``?status=suspended|removed`` and
    ``?kind=`` filter. Pending registrations are not public.

    :raise 400: unknown status or kind.
    """
    status = _query("status", _PUBLIC_STATUSES, AgencyStatus.LISTED)
    kind = _query("kind", [k.value for k in AgencyKind], None)
    stmt = select(Agency).where(Agency.status == status).order_by(Agency.name, Agency.id)
    if kind is not None:
        stmt = stmt.where(Agency.kind == kind)
    return jsonify({"agencies": [_agency(a) for a in db_session().scalars(stmt)]})


@bp.get(f"/agencies/{id_path('agency_id')}")
@_refusals
def get_agency(agency_id: int):
    """An agency's public page: its lists, its status, every supervisor's decision with its
    reason, and its scorecard.

    :raise 404: unknown, or a registration still pending.
    """
    agency = db_session().get(Agency, agency_id)
    if agency is None or agency.status == AgencyStatus.PENDING:
        raise services.NotFound()
    return jsonify(_agency_detail(agency))


@bp.post(f"/agencies/{id_path('agency_id')}/decisions")
@api_auth(Role.SUPERVISOR, Role.ADMIN)
@_refusals
def decide_agency(agency_id: int):
    """Approve, suspend, reinstate or remove an agency (E23); the reason is published.

    :raise 400: unreadable body; :raise 403: not a supervisor; :raise 404: unknown agency;
        :raise 409: the decision is not possible in the agency's status, or no reason.
    """
    if db_session().get(Agency, agency_id) is None:
        raise services.NotFound()
    body = json_object(read_json(), "", {"action", "reason"})
    agency = agencies.decide(db_session(), actor=g.api_user, agency_id=agency_id,
                             action=_one_of(body, "action", _DECISIONS),
                             reason=text_field(body, "reason", max_len=LONG_TEXT), now=now(), rulebook=rulebook())
    return _created(_agency_detail(agency))


# --- procedures -------------------------------------------------------------------------------


@bp.post(f"/assets/{id_path('asset_id')}/procedures")
@api_auth(Role.OFFICER)
@_refusals
def open_procedure(asset_id: int):
    """Start the reference-price procedure of an asset with one of the four methods (E02).

    :raise 400: unreadable body; :raise 403: not an officer; :raise 404: unknown asset, or of
        another court; :raise 409: a procedure is under way, or the method is not available.
    """
    asset = db_session().get(Asset, asset_id)
    if asset is None:
        raise services.NotFound()
    get_case_for(db_session(), g.api_user, asset.case_id, edit=True)
    body = json_object(read_json(), "", {"method", "deadline_days", "institution_id"})
    proc = services.open_procedure(
        db_session(), actor=g.api_user, asset_id=asset.id, method=choice_field(body, "method", Method, "method"),
        deadline_days=integer_field(body, "deadline_days", high=_MAX_DEADLINE_DAYS, required=False),
        institution_id=integer_field(body, "institution_id", required=False), ctx=_ctx())
    return _created(_procedure_detail(proc), url_for(".get_procedure", procedure_id=proc.id))


@bp.get(f"/procedures/{id_path('procedure_id')}")
@api_auth()
@_refusals
def get_procedure(procedure_id: int):
    """The procedure: state, method, deadlines, draws, commissions, reports, objections, price.

    :raise 404: unknown, or not visible to the user.
    """
    return jsonify(_procedure_detail(_visible_procedure(procedure_id)))


@bp.post(f"/procedures/{id_path('procedure_id')}/draws")
@api_auth(Role.OFFICER)
@_refusals
def schedule_draw(procedure_id: int):
    """Freeze the pool and commit to the seed; the draw runs at ``draw_at`` (≥ 1 day's notice,
    decision 14).

    :raise 400: unreadable body; :raise 403: not an officer; :raise 404: unknown, or another
        court's; :raise 409: not selecting agencies, a draw is scheduled, too little notice or
        too few eligible agencies.
    """
    body = json_object(read_json(), "", {"draw_at"})
    d = services.schedule_draw(db_session(), actor=g.api_user, procedure_id=procedure_id,
                               draw_at=_datetime(body, "draw_at"), ctx=_ctx())
    return _created(services.draw_record(d), url_for(".get_draw", draw_id=d.id))


@bp.post(f"/procedures/{id_path('procedure_id')}/objections")
@api_auth(Role.PARTY)
@_refusals
def file_objection(procedure_id: int):
    """A party objects to the served result within 5 days (E37/E38).

    :raise 400: unreadable body; :raise 403: not a party; :raise 404: not your case's
        procedure; :raise 409: no result to object to, the window has passed, or E40.
    """
    _visible_procedure(procedure_id)
    body = json_object(read_json(), "", {"kind", "grounds"})
    o = services.file_objection(db_session(), actor=g.api_user, procedure_id=procedure_id,
                                kind=choice_field(body, "kind", ObjectionKind, "kind"),
                                grounds=text_field(body, "grounds", max_len=LONG_TEXT), ctx=_ctx())
    return _created(_objection(o))


@bp.post(f"/procedures/{id_path('procedure_id')}/negotiation")
@api_auth(Role.PARTY, Role.OFFICER)
@_refusals
def submit_negotiated_price(procedure_id: int):
    """A party's figure in the negotiation (by the party, or by the officer from its written
    submission); identical figures from both sides fix the price (E04).

    :raise 400: unreadable body; :raise 403: another party's figure; :raise 404: unknown or
        invisible procedure, or a party of another case; :raise 409: not in negotiation, late.
    """
    _visible_procedure(procedure_id)
    body = json_object(read_json(), "", {"party_id", "amount"})
    proc = services.submit_negotiated_price(db_session(), actor=g.api_user, procedure_id=procedure_id,
                                            party_id=integer_field(body, "party_id"), amount=amount_field(body, "amount"),
                                            ctx=_ctx())
    return jsonify(_procedure_detail(proc))


@bp.post(f"/procedures/{id_path('procedure_id')}/inquiry-result")
@api_auth(Role.AGENCY)
@_refusals
def submit_inquiry_result(procedure_id: int):
    """A directed-inquiry institution or an online platform answers (E06, E10, decision 16);
    a directed result in time is the reference price at once (E40).

    :raise 400: unreadable body or file; :raise 404: not asked in this procedure;
        :raise 409: closed, late, already answered, or a zero amount.
    """
    _visible_procedure(procedure_id)
    body = json_object(read_json(), "", {"amount", "report_pdf_base64"})
    sub = services.submit_inquiry_result(db_session(), actor=g.api_user, procedure_id=procedure_id,
                                         amount=amount_field(body, "amount"),
                                         report=_pdf(body, "report_pdf_base64", required=False), ctx=_ctx())
    return _created(_inquiry(sub))


@bp.get(f"/draws/{id_path('draw_id')}")
@_refusals
def get_draw(draw_id: int):
    """The public, self-contained record of a draw; ``seed`` is null until drawn. Check it with
    ``python -m appraisal.verify record.json``.

    :raise 404: unknown draw.
    """
    d = db_session().get(Draw, draw_id)
    if d is None:
        raise services.NotFound()
    return jsonify(services.draw_record(d))


# --- officer's decisions ------------------------------------------------------------------------


@bp.post(f"/valuations/{id_path('valuation_id')}/review")
@api_auth(Role.OFFICER)
@_refusals
def review_valuation(valuation_id: int):
    """Accept a report (it is served on the parties at once, E35) or ask for a correction within
    3 days (E34; the note says what).

    :raise 400: unreadable body; :raise 404: unknown, or another court's; :raise 409: not
        waiting for review, or a correction without a note.
    """
    body = json_object(read_json(), "", {"accept", "note"})
    v = services.review_valuation(db_session(), actor=g.api_user, valuation_id=valuation_id,
                                  accept=_flag(body, "accept"),
                                  note=text_field(body, "note", max_len=LONG_TEXT, required=False) or "", ctx=_ctx())
    return jsonify(_valuation(v))


@bp.post(f"/objections/{id_path('objection_id')}/forward")
@api_auth(Role.OFFICER)
@_refusals
def forward_objection(objection_id: int):
    """Send an objection to the agency for its written answer within 5 days (E38). No body.

    :raise 404: unknown, or another court's; :raise 409: not a new objection to a report.
    """
    o = services.forward_objection(db_session(), actor=g.api_user, objection_id=objection_id, ctx=_ctx())
    return jsonify(_objection(o))


@bp.post(f"/objections/{id_path('objection_id')}/decision")
@api_auth(Role.OFFICER)
@_refusals
def decide_objection(objection_id: int):
    """Uphold or dismiss an objection with reasons; an upheld technical objection may correct
    the value (E38/E39). When none remains open and the window has closed, the price is final.

    :raise 400: unreadable body; :raise 404: unknown, or another court's; :raise 409: already
        decided, or no reasons.
    """
    body = json_object(read_json(), "", {"uphold", "note", "corrected_amount"})
    o = services.decide_objection(
        db_session(), actor=g.api_user, objection_id=objection_id, uphold=_flag(body, "uphold"),
        note=text_field(body, "note", max_len=LONG_TEXT),
        corrected_amount=amount_field(body, "corrected_amount") if body.get("corrected_amount") is not None else None,
        ctx=_ctx())
    return jsonify(_objection(o))


@bp.post(f"/extensions/{id_path('request_id')}/decision")
@api_auth(Role.OFFICER)
@_refusals
def decide_extension(request_id: int):
    """Grant or refuse an agency's extension request; a grant moves the report deadline (E31).

    :raise 400: unreadable body; :raise 404: unknown, or another court's; :raise 409: decided.
    """
    body = json_object(read_json(), "", {"grant"})
    e = services.decide_extension(db_session(), actor=g.api_user, request_id=request_id,
                                  grant=_flag(body, "grant"), ctx=_ctx())
    return jsonify(_extension(e))


# --- the agency's side --------------------------------------------------------------------------


@bp.get("/commissions")
@api_auth(Role.AGENCY)
@_refusals
def list_commissions():
    """The token's agency's own commissions, newest first; ``?state=offered`` filters.

    :raise 400: unknown state.
    """
    agency = agencies.agency_of(db_session(), g.api_user)
    state = _query("state", [s.value for s in CommissionState], None)
    stmt = select(Commission).where(Commission.agency_id == agency.id).order_by(Commission.id.desc())
    if state is not None:
        stmt = stmt.where(Commission.state == state)
    return jsonify({"commissions": [{**_commission(c), "asset": _asset(c.procedure.asset),
                                     "procedure_state": str(c.procedure.state)}
                                    for c in db_session().scalars(stmt)]})


@bp.post(f"/commissions/{id_path('commission_id')}/answer")
@api_auth(Role.AGENCY)
@_refusals
def answer_commission(commission_id: int):
    """Accept the offered commission, or decline it with a reason that is published (decision 14).

    :raise 400: unreadable body; :raise 404: not your commission; :raise 409: already
        answered, too late, or a decline without a reason.
    """
    body = json_object(read_json(), "", {"accept", "reason"})
    c = services.answer_commission(db_session(), actor=g.api_user, commission_id=commission_id,
                                   accept=_flag(body, "accept"),
                                   reason=text_field(body, "reason", max_len=LONG_TEXT, required=False) or "", ctx=_ctx())
    return jsonify(_commission(c))


@bp.post(f"/commissions/{id_path('commission_id')}/extensions")
@api_auth(Role.AGENCY)
@_refusals
def request_extension(commission_id: int):
    """Ask in writing for more time, ≥ 5 days before the deadline; at most two of ≤ 15 days (E31).

    :raise 400: unreadable body; :raise 404: not your commission; :raise 409: E31 refuses it.
    """
    body = json_object(read_json(), "", {"days", "reason"})
    e = services.request_extension(db_session(), actor=g.api_user, commission_id=commission_id,
                                   days=integer_field(body, "days"), reason=text_field(body, "reason", max_len=LONG_TEXT),
                                   ctx=_ctx())
    return _created(_extension(e))


@bp.post(f"/commissions/{id_path('commission_id')}/valuations")
@api_auth(Role.AGENCY)
@_refusals
def submit_valuation(commission_id: int):
    """Submit the report: value, valuation date, validity, two registered signing appraisers
    and the report PDF in base64 (E28, E34, E43, E55).

    :raise 400: unreadable body, bad base64 or not a PDF; :raise 404: not your commission;
        :raise 409: not accepted, late, or the report breaks a rule.
    """
    body = json_object(read_json(), "", {"amount", "effective_on", "valid_until", "appraiser_ids", "report_pdf_base64"})
    v = services.submit_valuation(db_session(), actor=g.api_user, commission_id=commission_id,
                                  amount=amount_field(body, "amount"), effective_on=date_field(body, "effective_on"),
                                  valid_until=date_field(body, "valid_until"), appraiser_ids=_id_list(body, "appraiser_ids"),
                                  report=_pdf(body, "report_pdf_base64"), ctx=_ctx())
    return _created(_valuation(v))


@bp.post(f"/objections/{id_path('objection_id')}/answer")
@api_auth(Role.AGENCY)
@_refusals
def answer_objection(objection_id: int):
    """The agency's written explanation of its report (E38).

    :raise 400: unreadable body; :raise 404: not an objection to your report; :raise 409: not
        waiting for your answer, or empty.
    """
    body = json_object(read_json(), "", {"answer"})
    o = services.answer_objection(db_session(), actor=g.api_user, objection_id=objection_id,
                                  answer=text_field(body, "answer", max_len=LONG_TEXT), ctx=_ctx())
    return jsonify(_objection(o))


@bp.get("/inquiries")
@api_auth(Role.AGENCY)
@_refusals
def list_inquiries():
    """The inquiries the token's platform or institution was asked to answer, newest first."""
    agency = agencies.agency_of(db_session(), g.api_user)
    subs = db_session().scalars(select(PriceSubmission).where(PriceSubmission.agency_id == agency.id)
                                .order_by(PriceSubmission.id.desc()))
    return jsonify({"inquiries": [_inquiry(s) for s in subs]})


# --- reading the request --------------------------------------------------------------------

#: The vocabulary of :func:`appraisal.agencies.decide`.
_DECISIONS = ("approved", "suspended", "reinstated", "removed")
_PUBLIC_STATUSES = [AgencyStatus.LISTED.value, AgencyStatus.SUSPENDED.value, AgencyStatus.REMOVED.value]
#: A negotiation or directed-inquiry deadline the court sets; beyond a year it is a typo (and a
#: huge number would overflow the date arithmetic).
_MAX_DEADLINE_DAYS = 365
#: A report is signed by a handful of appraisers (E55: at least two); a bound keeps a request small.
_MAX_SIGNERS = 20


def _query(name: str, choices: list[str], default):
    value = request.args.get(name)
    if value is None:
        return default
    if value not in choices:
        raise Unreadable(N_("%(field)s must be one of %(choices)s."), field=name, choices=", ".join(choices))
    return value


def _one_of(body: dict, key: str, choices: tuple[str, ...]) -> str:
    value = required_field(body, key, key)
    if not isinstance(value, str) or value not in choices:
        raise Unreadable(N_("%(field)s must be one of %(choices)s."), field=key, choices=", ".join(choices))
    return value


def integer_field(body: dict, key: str, *, high: int = MAX_ID, required: bool = True) -> int | None:
    value = body.get(key)
    if value is None:
        if required:
            raise Unreadable(N_("%(field)s is required."), field=key)
        return None
    # A row id is a 32-bit integer; a larger one would be a database error, not a 400.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= high:
        raise Unreadable(N_("%(field)s must be a whole number from 1 to %(max)s."), field=key, max=high)
    return value


def _flag(body: dict, key: str) -> bool:
    value = required_field(body, key, key)
    if not isinstance(value, bool):
        raise Unreadable(N_("%(field)s must be true or false."), field=key)
    return value


def _datetime(body: dict, key: str) -> datetime:
    """An ISO 8601 instant with its offset; a naive time is ambiguous (Beijing or UTC?)."""
    value = required_field(body, key, key)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed.astimezone(timezone.utc)
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
            pass
    raise Unreadable(N_("%(field)s must be an ISO 8601 time with its offset, e.g. 2026-12-01T10:00:00+08:00."),
                     field=key)


def _id_list(body: dict, key: str) -> list[int]:
    value = required_field(body, key, key)
    if not isinstance(value, list) or len(value) > _MAX_SIGNERS or any(
            isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_ID for v in value):
        raise Unreadable(N_("%(field)s must be a list of appraiser ids (positive whole numbers)."), field=key)
    return value


def _pdf(body: dict, key: str, *, required: bool = True) -> bytes | None:
    """A file sent as standard base64 (line breaks allowed). Whether it is a PDF is the
    service's check (:func:`cases.uploads.check_document`)."""
    value = body.get(key)
    if value is None:
        if required:
            raise Unreadable(N_("%(field)s is required."), field=key)
        return None
    data = b""
    if isinstance(value, str):
        try:
            data = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):  # ValueError: characters outside ASCII
            pass
    if not data:
        raise Unreadable(N_("%(field)s must be the file's content in base64."), field=key)
    return data


# --- writing the response -------------------------------------------------------------------


def _date_or_none(value) -> str | None:
    return value.isoformat() if value else None


def _money_or_none(value) -> str | None:
    return money_str(value) if value is not None else None


def _agency(a: Agency) -> dict:
    return {"id": a.id, "name": a.name, "licence": a.licence_number, "kind": str(a.kind),
            "specialties": list(a.specialties or []), "regions": list(a.regions or []), "status": str(a.status)}


def _agency_detail(a: Agency) -> dict:
    return {
        **_agency(a), "barred_until": _date_or_none(a.barred_until),
        "decisions": [{"action": d.action, "reason": d.reason, "decided_at": instant_str(d.decided_at)}
                      for d in a.decisions],
        "scorecard": agencies.scorecard(db_session(), a.id),
    }


def _asset(asset: Asset) -> dict:
    return {"id": asset.id, "title": asset.title, "category": str(asset.category),
            "region_code": asset.region_code, "location": asset.location,
            "case_id": asset.case_id, "case_number": asset.case.number}


def _extension(e: ExtensionRequest) -> dict:
    return {"id": e.id, "commission_id": e.commission_id, "days": e.days, "reason": e.reason,
            "requested_at": instant_str(e.requested_at), "decision": e.decision, "decided_at": instant_str(e.decided_at)}


def _commission(c: Commission) -> dict:
    return {
        "id": c.id, "procedure_id": c.procedure_id, "draw_id": c.draw_id, "rank": c.rank,
        "agency": {"id": c.agency.id, "name": c.agency.name}, "state": str(c.state),
        "delivered_at": instant_str(c.delivered_at), "answer_due_at": instant_str(c.answer_due_at),
        "answered_at": instant_str(c.answered_at), "decline_reason": c.decline_reason,
        "report_due_at": instant_str(c.report_due_at), "paused_days": c.paused_days,
        "extensions_granted": c.extensions_granted, "extension_days": c.extension_days,
        "extensions": [_extension(e) for e in c.extensions],
        "letter_sha256": c.letter_sha256, "fee": _money_or_none(c.fee),
    }


def _valuation(v: Valuation) -> dict:
    return {
        "id": v.id, "commission_id": v.commission_id, "amount": money_str(v.amount),
        "effective_on": v.effective_on.isoformat(), "valid_until": v.valid_until.isoformat(),
        "appraiser_ids": list(v.appraiser_ids or []), "report_sha256": v.report_sha256,
        "submitted_at": instant_str(v.submitted_at), "status": v.status, "review_note": v.review_note,
        "correction_due_at": instant_str(v.correction_due_at), "served_at": instant_str(v.served_at),
        "objections_close_at": instant_str(v.objections_close_at),
    }


def _objection(o: Objection) -> dict:
    return {
        "id": o.id, "procedure_id": o.procedure_id, "valuation_id": o.valuation_id, "kind": str(o.kind),
        "state": str(o.state), "by": str(o.party.role), "grounds": o.grounds, "filed_at": instant_str(o.filed_at),
        "forwarded_at": instant_str(o.forwarded_at), "answer_due_at": instant_str(o.answer_due_at),
        "answer": o.answer, "answered_at": instant_str(o.answered_at), "decision_note": o.decision_note,
        "decided_at": instant_str(o.decided_at),
    }


def _submission(s: PriceSubmission) -> dict:
    """A figure given in a negotiation (by a party's role) or an inquiry (by the agency)."""
    by = {"party": str(s.party.role)} if s.party is not None else \
        {"agency": {"id": s.agency.id, "name": s.agency.name}} if s.agency is not None else {}
    return {"id": s.id, **by, "amount": _money_or_none(s.amount), "report_sha256": s.report_sha256,
            "submitted_at": instant_str(s.submitted_at), "on_time": s.on_time,
            "extension_requested_at": instant_str(s.extension_requested_at)}


def _inquiry(s: PriceSubmission) -> dict:
    proc = s.procedure
    return {**_submission(s), "procedure": {"id": proc.id, "method": str(proc.method), "state": str(proc.state),
                                            "step_due_at": instant_str(proc.step_due_at), "asset": _asset(proc.asset)}}


def _procedure_detail(proc: Procedure) -> dict:
    """The procedure as the token's user may see it: an agency only its own commissions, reports,
    the objections forwarded to it and its own inquiry; a party only served reports and no
    submitted figures; court staff and supervisors everything."""
    user, session = g.api_user, db_session()
    own = agencies.agency_of(session, user).id if user.role == Role.AGENCY else None
    commissions = [c for c in proc.commissions if own is None or c.agency_id == own]
    valuations = [v for c in commissions for v in c.valuations if user.role != Role.PARTY or v.served_at]
    objections = session.scalars(select(Objection).where(Objection.procedure_id == proc.id)
                                 .order_by(Objection.id)).all()
    if own is not None:
        shown = {v.id for v in valuations}
        objections = [o for o in objections if o.valuation_id in shown and o.forwarded_at is not None]
    submissions = [] if user.role == Role.PARTY else \
        [s for s in proc.submissions if own is None or s.agency_id == own]
    return {
        "id": proc.id, "asset": _asset(proc.asset), "method": str(proc.method), "state": str(proc.state),
        "opened_at": instant_str(proc.opened_at), "step_due_at": instant_str(proc.step_due_at),
        "served_at": instant_str(proc.served_at), "objections_close_at": instant_str(proc.objections_close_at),
        "proposed_price": _money_or_none(proc.proposed_price), "reference_price": _money_or_none(proc.reference_price),
        "valid_until": _date_or_none(proc.valid_until), "final_at": instant_str(proc.final_at),
        "draws": [{"id": d.id, "status": d.status, "scheduled_at": instant_str(d.scheduled_at),
                   "drawn_at": instant_str(d.drawn_at), "record": url_for(".get_draw", draw_id=d.id)} for d in proc.draws],
        "commissions": [_commission(c) for c in commissions],
        "valuations": [_valuation(v) for v in valuations],
        "objections": [_objection(o) for o in objections],
        "submissions": [_submission(s) for s in submissions],
    }


# --- OpenAPI --------------------------------------------------------------------------------

_DATE = {"type": "string", "format": "date", "example": "2026-11-25"}
_AMOUNT = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$", "example": "1850000.00"}
_TEXT = {"type": "string", "maxLength": LONG_TEXT}
_BOOL = {"type": "boolean"}
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_BASE64 = {"type": "string", "contentEncoding": "base64", "contentMediaType": "application/pdf",
           "description": "The report PDF, standard base64 (line breaks allowed)"}


def _err(description: str) -> dict:
    return {"description": description, **_ERROR}


def _path_id(name: str) -> list[dict]:
    return [{"name": name, "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}]


def _schema(required: list[str], **properties) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False, "required": required, "properties": properties}}}}


def _op(summary: str, ok: tuple[str, str], *, id_name: str | None = None, body: dict | None = None,
        public: bool = False, **errors: str) -> dict:
    """One operation; ``errors`` maps ``e400``… to descriptions (401 added unless public)."""
    responses = {ok[0]: {"description": ok[1]}}
    if not public:
        responses["401"] = _err("No or bad token")
    responses.update({name[1:]: _err(text) for name, text in errors.items()})
    op = {"summary": summary, "responses": dict(sorted(responses.items()))}
    if id_name:
        op["parameters"] = _path_id(id_name)
    if body is not None:
        op["requestBody"] = body
    if public:
        op["security"] = []
    return op


_BAD = "Unreadable body, missing, mistyped or unknown field"

OPENAPI_PATHS = {
    "/api/v1/agencies": {"get": {
        **_op("The public list of agencies (名单库), platforms and institutions", ("200", "The agencies by name"),
              public=True, e400="Unknown status or kind"),
        "parameters": [
            {"name": "status", "in": "query", "schema": {"type": "string", "enum": _PUBLIC_STATUSES,
                                                         "default": "listed"}},
            {"name": "kind", "in": "query", "schema": {"type": "string", "enum": [k.value for k in AgencyKind]}}],
    }},
    "/api/v1/agencies/{agency_id}": {"get": _op(
        "An agency's public page: lists, status, decisions with reasons, scorecard", ("200", "The agency"),
        id_name="agency_id", public=True, e404="No such agency (or its registration is pending)")},
    "/api/v1/agencies/{agency_id}/decisions": {"post": _op(
        "Approve, suspend, reinstate or remove an agency, with a published reason (supervisors)",
        ("201", "The agency with the decision"), id_name="agency_id",
        body=_schema(["action", "reason"], action={"type": "string", "enum": list(_DECISIONS)}, reason=_TEXT),
        e400=_BAD, e403="Not a supervisor", e404="No such agency",
        e409="Not possible in the agency's status, or no reason")},
    "/api/v1/assets/{asset_id}/procedures": {"post": _op(
        "Open the reference-price procedure of an asset (officers of its court; E02)",
        ("201", "The procedure"), id_name="asset_id",
        body=_schema(["method"], method={"type": "string", "enum": [m.value for m in Method]},
                     deadline_days={"type": "integer", "minimum": 1, "maximum": _MAX_DEADLINE_DAYS,
                                    "description": "Negotiation or directed inquiry; default 10"},
                     institution_id={"type": "integer", "description": "Directed inquiry: the institution"}),
        e400=_BAD, e403="Not an officer", e404="No such asset (or another court's)",
        e409="A procedure is under way, or the method is not available")},
    "/api/v1/procedures/{procedure_id}": {"get": _op(
        "A procedure: state, deadlines, draws, commissions, reports, objections, reference price",
        ("200", "The procedure as you may see it"), id_name="procedure_id",
        e404="No such procedure (or not yours to see)")},
    "/api/v1/procedures/{procedure_id}/draws": {"post": _op(
        "Schedule the random draw of three agencies (officers; ≥ 1 day's notice, decision 14)",
        ("201", "The public draw record (no seed yet)"), id_name="procedure_id",
        body=_schema(["draw_at"], draw_at={"type": "string", "format": "date-time",
                                           "example": "2026-12-01T10:00:00+08:00"}),
        e400=_BAD, e403="Not an officer", e404="No such procedure (or another court's)",
        e409="Not selecting agencies, already scheduled, too little notice, or too few agencies")},
    "/api/v1/procedures/{procedure_id}/objections": {"post": _op(
        "Object to the served result within 5 days (parties; E37/E38)", ("201", "The objection"),
        id_name="procedure_id",
        body=_schema(["kind", "grounds"], kind={"type": "string", "enum": [k.value for k in ObjectionKind]},
                     grounds=_TEXT),
        e400=_BAD, e403="Not a party", e404="No such procedure (or not your case)",
        e409="No result to object to, the window has closed, or no objection is possible (E40)")},
    "/api/v1/procedures/{procedure_id}/negotiation": {"post": _op(
        "A party's figure in the negotiation (the party, or the officer for it; E04)",
        ("200", "The procedure (final when both figures agree)"), id_name="procedure_id",
        body=_schema(["party_id", "amount"], party_id={"type": "integer"}, amount=_AMOUNT),
        e400=_BAD, e403="Another party's figure", e404="No such procedure or party (or not yours)",
        e409="Not in negotiation, past the deadline, or not a positive amount")},
    "/api/v1/procedures/{procedure_id}/inquiry-result": {"post": _op(
        "Submit a directed-inquiry or online-inquiry result (institutions, platforms; decision 16)",
        ("201", "Your result and the procedure's state"), id_name="procedure_id",
        body=_schema(["amount"], amount=_AMOUNT, report_pdf_base64=_BASE64),
        e400=_BAD + ", bad base64 or not a PDF", e403="Not an agency",
        e404="No such procedure (or you were not asked)",
        e409="Closed, past the deadline, already answered, or not a positive amount")},
    "/api/v1/draws/{draw_id}": {"get": _op(
        "The public draw record (seed null until drawn); verify with python -m appraisal.verify",
        ("200", "The record"), id_name="draw_id", public=True, e404="No such draw")},
    "/api/v1/valuations/{valuation_id}/review": {"post": _op(
        "Accept a report (served at once, E35) or ask for a correction within 3 days (officers; E34)",
        ("200", "The report"), id_name="valuation_id", body=_schema(["accept"], accept=_BOOL, note=_TEXT),
        e400=_BAD, e403="Not an officer", e404="No such report (or another court's)",
        e409="Not waiting for review, or a correction without a note")},
    "/api/v1/objections/{objection_id}/forward": {"post": _op(
        "Forward an objection to the agency for its answer within 5 days (officers; E38)",
        ("200", "The objection"), id_name="objection_id", e403="Not an officer",
        e404="No such objection (or another court's)", e409="Not a new objection to a report")},
    "/api/v1/objections/{objection_id}/decision": {"post": _op(
        "Uphold or dismiss an objection (officers; E38/E39)", ("200", "The objection"), id_name="objection_id",
        body=_schema(["uphold", "note"], uphold=_BOOL, note=_TEXT,
                     corrected_amount={**_AMOUNT, "description": "Upheld technical objection: the corrected value"}),
        e400=_BAD, e403="Not an officer", e404="No such objection (or another court's)",
        e409="Already decided, or no reasons")},
    "/api/v1/objections/{objection_id}/answer": {"post": _op(
        "The agency's written answer to a forwarded objection (E38)", ("200", "The objection"),
        id_name="objection_id", body=_schema(["answer"], answer=_TEXT),
        e400=_BAD, e403="Not an agency", e404="No such objection to your report",
        e409="Not waiting for your answer, or empty")},
    "/api/v1/extensions/{request_id}/decision": {"post": _op(
        "Grant or refuse an extension request (officers; E31)", ("200", "The request"), id_name="request_id",
        body=_schema(["grant"], grant=_BOOL), e400=_BAD, e403="Not an officer",
        e404="No such request (or another court's)", e409="Already decided")},
    "/api/v1/commissions": {"get": {
        **_op("Your agency's commissions, newest first (agencies)", ("200", "The commissions with their assets"),
              e400="Unknown state", e403="Not an agency"),
        "parameters": [{"name": "state", "in": "query",
                        "schema": {"type": "string", "enum": [s.value for s in CommissionState]}}],
    }},
    "/api/v1/commissions/{commission_id}/answer": {"post": _op(
        "Accept the offered commission, or decline with a published reason (decision 14)",
        ("200", "The commission"), id_name="commission_id",
        body=_schema(["accept"], accept=_BOOL, reason={**_TEXT, "description": "Required when declining"}),
        e400=_BAD, e403="Not an agency", e404="No such commission of yours",
        e409="Already answered, too late, or a decline without a reason")},
    "/api/v1/commissions/{commission_id}/extensions": {"post": _op(
        "Ask for more time: ≥ 5 days before the deadline, at most two of ≤ 15 days (E31)",
        ("201", "The request, pending the court's decision"), id_name="commission_id",
        body=_schema(["days", "reason"], days={"type": "integer", "minimum": 1}, reason=_TEXT),
        e400=_BAD, e403="Not an agency", e404="No such commission of yours", e409="E31 refuses it")},
    "/api/v1/commissions/{commission_id}/valuations": {"post": _op(
        "Submit the appraisal report (E28, E34, E43, E55)", ("201", "The report, waiting for review"),
        id_name="commission_id",
        body=_schema(["amount", "effective_on", "valid_until", "appraiser_ids", "report_pdf_base64"],
                     amount=_AMOUNT, effective_on=_DATE, valid_until=_DATE,
                     appraiser_ids={"type": "array", "items": {"type": "integer"}, "maxItems": _MAX_SIGNERS,
                                    "description": "At least two appraisers registered with your agency"},
                     report_pdf_base64=_BASE64),
        e400=_BAD + ", bad base64 or not a PDF", e403="Not an agency", e404="No such commission of yours",
        e409="Not accepted, past the deadline, or the report breaks a rule")},
    "/api/v1/inquiries": {"get": _op(
        "The inquiries your platform or institution was asked to answer (decision 16)",
        ("200", "Your inquiries, newest first"), e403="Not an agency")},
}
