"""JSON API v1 of the cases package: cases, their parties (masked) and seized assets, the case
fund ledger, and the E01 pricing alerts.

``GET|POST /api/v1/cases`` · ``GET /api/v1/cases/<id>`` · ``POST /api/v1/cases/<id>/assets`` ·
``GET /api/v1/cases/<id>/funds`` · ``GET /api/v1/cases/overdue-pricing``

Views only read JSON into typed values, call one service and map its refusals to 4xx JSON:
a malformed request is 400, an unknown (or another court's) case 404, a visible case the user
may not change 403, any other refusal of a case rule 409. No identity number ever leaves here,
only its masked tail.
"""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, current_app, g, jsonify, request, url_for

from accounts.api import api_auth
from accounts.models import Role
from accounts.rules import mask_identity_number
from cases import rules, services
from cases.models import Asset, Case, FundEntry, Party
from cases.rules import AssetCategory, FundAccount, PartyKind, PartyRole
from cases.services import AssetInput, CaseNotFound, NotAllowed, PartyInput
from core.api import read_json, refusals
from core.jsonbody import (  # noqa: F401
    LONG_TEXT, Unreadable, amount_field, choice_field, date_field, instant_str, integer_field, is_utf8, money_str, json_object, required_field, text_field,
)
from core.text import N_, DomainError
from core.web import db_session, now

bp = Blueprint("cases_api", __name__, url_prefix="/api/v1")
#: Case ids are 32-bit: a larger number in a URL matches no route (404), never a database error.
_ID = "<int(min=1, max=2147483647):case_id>"


_STATUS: list[tuple[type[DomainError], int]] = [(Unreadable, 400), (NotAllowed, 403), (CaseNotFound, 404)]


_refusals = refusals(_STATUS)


# --- routes ---------------------------------------------------------------------------------


@bp.get("/cases")
@api_auth()
@_refusals
def list_cases():
    """Cases the token's user may see, newest first; ``?q=`` filters by case number."""
    q = _clean_query(request.args.get("q", ""))
    cases = services.visible_cases(db_session(), g.api_user, query=q)
    return jsonify({"cases": [_case_summary(c) for c in cases]})


@bp.post("/cases")
@api_auth(Role.OFFICER)
@_refusals
def create_case():
    """Register a case of the officer's court with its parties.

    :raise 400: unreadable body; :raise 403: not an officer; :raise 409: a case rule refuses it
        or the number is taken.
    """
    body = json_object(read_json(), "", _CASE_FIELDS)
    raw_parties = required_field(body, "parties", "parties")
    if not isinstance(raw_parties, list):
        raise Unreadable(N_("%(field)s must be a list of objects."), field="parties")
    parties = [_party_input(p, f"parties[{i}]") for i, p in enumerate(raw_parties)]
    case = services.create_case(
        db_session(), actor=g.api_user, number=text_field(body, "number", max_len=_len(Case, "number")),
        basis=text_field(body, "basis", max_len=_len(Case, "basis")), filed_on=date_field(body, "filed_on"),
        claim_amount=amount_field(body, "claim_amount"), officer_id=integer_field(body, "officer_id"),
        parties=parties, vault=current_app.extensions["identity_vault"], now=now())
    response = jsonify(_case_detail(case))
    response.headers["Location"] = url_for(".get_case", case_id=case.id)
    return response, 201


@bp.get(f"/cases/{_ID}")
@api_auth()
@_refusals
def get_case(case_id: int):
    """A case with its parties (identity numbers masked), assets and fund balances.

    :raise 404: unknown, or not visible to the user.
    """
    case = services.get_case_for(db_session(), g.api_user, case_id)
    return jsonify(_case_detail(case))


@bp.post(f"/cases/{_ID}/assets")
@api_auth()
@_refusals
def add_asset(case_id: int):
    """Record a seized asset of the case.

    :raise 404: unknown or invisible case; :raise 403: visible but not changeable;
        :raise 400: unreadable body; :raise 409: an asset rule refuses it.
    """
    services.get_case_for(db_session(), g.api_user, case_id, edit=True)
    asset = services.add_asset(db_session(), actor=g.api_user, case_id=case_id,
                               asset=_asset_input(read_json()), now=now())
    return jsonify(_asset(asset)), 201


@bp.get(f"/cases/{_ID}/funds")
@api_auth()
@_refusals
def case_funds(case_id: int):
    """The case-fund ledger line by line, the balances, and whether the ledger reconciles.

    :raise 404: unknown, or not visible to the user.
    """
    case = services.get_case_for(db_session(), g.api_user, case_id)
    entries = services.fund_entries(db_session(), case.id)
    return jsonify({
        "case_id": case.id,
        "entries": [_fund_entry(e) for e in entries],
        "balances": _balances(services.fund_balances(db_session(), case.id)),
        "reconciled": not services.reconcile_funds(db_session(), case.id),
    })


@bp.get("/cases/overdue-pricing")
@api_auth()
@_refusals
def overdue_pricing():
    """Assets still only seized after the 30-day deadline to start pricing (E01)."""
    flags = services.overdue_pricing(db_session(), user=g.api_user, today=rules.local_today(now()),
                                     rulebook=current_app.extensions["rulebook"])
    return jsonify({"assets": [{
        "asset_id": f.asset.id, "case_id": f.asset.case_id, "case_number": f.asset.case.number,
        "title": f.asset.title, "category": str(f.asset.category), "seized_on": f.asset.seized_on.isoformat(),
        "deadline": f.deadline.isoformat(), "days_late": f.days_late,
    } for f in flags]})


# --- reading the request --------------------------------------------------------------------

_CASE_FIELDS = {"number", "basis", "filed_on", "claim_amount", "officer_id", "parties"}
_PARTY_FIELDS = {"role", "kind", "name", "id_number", "legal_representative", "phone", "email", "address"}
_ASSET_FIELDS = {"category", "title", "region_code", "location", "seized_on", "description", "defects",
                 "encumbrances", "occupancy", "tax_notes"}
def _len(model, column: str) -> int:
    """The column's length: a longer value is a 400 here, not a database error."""
    return model.__table__.c[column].type.length


def _clean_query(q: str) -> str:
    if "\x00" in q or not is_utf8(q) or len(q) > _len(Case, "number"):
        raise Unreadable(N_("%(field)s is not a case number or part of one."), field="q")
    return q


def _party_input(raw: dict, prefix: str) -> PartyInput:
    body = json_object(raw, prefix, _PARTY_FIELDS)

    def text(key, required=False):
        return text_field(body, key, max_len=_len(Party, key), required=required, field=f"{prefix}.{key}")

    return PartyInput(
        role=choice_field(body, "role", PartyRole, f"{prefix}.role"),
        kind=choice_field(body, "kind", PartyKind, f"{prefix}.kind"),
        name=text("name", required=True),
        # 18 characters for both kinds (resident ID, unified social credit code); room for spaces.
        id_number=text_field(body, "id_number", max_len=40, field=f"{prefix}.id_number"),
        legal_representative=text("legal_representative"), phone=text("phone"), email=text("email"),
        address=text("address"),
    )


def _asset_input(raw) -> AssetInput:
    body = json_object(raw, "", _ASSET_FIELDS)

    def long_text(key):
        return text_field(body, key, max_len=LONG_TEXT, required=False) or ""

    return AssetInput(
        category=choice_field(body, "category", AssetCategory, "category"),
        title=text_field(body, "title", max_len=_len(Asset, "title")),
        region_code=text_field(body, "region_code", max_len=_len(Asset, "region_code")),
        location=text_field(body, "location", max_len=_len(Asset, "location")),
        seized_on=date_field(body, "seized_on"),
        description=long_text("description"), defects=long_text("defects"),
        encumbrances=long_text("encumbrances"), occupancy=long_text("occupancy"), tax_notes=long_text("tax_notes"),
    )


# --- writing the response -------------------------------------------------------------------


def _balances(balances: dict[FundAccount, Decimal]) -> dict:
    return {str(account): money_str(amount) for account, amount in balances.items()}


def _case_summary(case: Case) -> dict:
    return {
        "id": case.id, "number": case.number, "court": {"id": case.court.id, "code": case.court.code,
                                                        "name": case.court.name},
        "basis": case.basis, "filed_on": case.filed_on.isoformat(), "claim_amount": money_str(case.claim_amount),
        "officer": {"id": case.officer.id, "display_name": case.officer.display_name},
        "series_id": case.series_id, "created_at": instant_str(case.created_at),
    }


def _case_detail(case: Case) -> dict:
    # Contact details are for the court that serves documents on the parties, not for the
    # other side or the supervisor; the identity number is always masked.
    contacts = services.can_edit_case(g.api_user, case)
    return {
        **_case_summary(case),
        "parties": [_party(p, contacts=contacts) for p in case.parties],
        "assets": [_asset(a) for a in case.assets],
        "fund_balances": _balances(services.fund_balances(db_session(), case.id)),
    }


def _party(party: Party, *, contacts: bool) -> dict:
    out = {"id": party.id, "role": str(party.role), "kind": str(party.kind), "name": party.name,
           "id_number_masked": mask_identity_number(party.id_number_tail),
           "legal_representative": party.legal_representative}
    if contacts:
        out.update(phone=party.phone, email=party.email, address=party.address)
    return out


def _asset(asset: Asset) -> dict:
    return {
        "id": asset.id, "case_id": asset.case_id, "category": str(asset.category),
        "specialty": str(rules.specialty_for(asset.category)), "stage": str(asset.stage),
        "title": asset.title, "description": asset.description, "region_code": asset.region_code,
        "location": asset.location, "seized_on": asset.seized_on.isoformat(), "defects": asset.defects,
        "encumbrances": asset.encumbrances, "occupancy": asset.occupancy, "tax_notes": asset.tax_notes,
        # The page route of the cases package serves stored files by hash (with its own access check).
        "photos": [url_for("cases.asset_file", sha256=f.sha256) for f in asset.photos],
        "created_at": instant_str(asset.created_at),
    }


def _fund_entry(e: FundEntry) -> dict:
    return {"seq": e.seq, "kind": str(e.kind), "amount": money_str(e.amount), "from": str(e.from_account),
            "to": str(e.to_account), "court_balance_after": money_str(e.court_balance_after),
            "deposits_balance_after": money_str(e.deposits_balance_after), "source": e.source, "memo": e.memo,
            "at": instant_str(e.at)}


# --- OpenAPI --------------------------------------------------------------------------------

_DATE = {"type": "string", "format": "date", "example": "2026-03-01"}
_AMOUNT = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$", "example": "1200000.00"}
_CASE_ID = [{"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _err(description: str) -> dict:
    return {"description": description, **_ERROR}


_PARTY_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["role", "kind", "name", "id_number"],
    "properties": {
        "role": {"type": "string", "enum": [r.value for r in PartyRole]},
        "kind": {"type": "string", "enum": [k.value for k in PartyKind]},
        "name": {"type": "string", "maxLength": 120},
        "id_number": {"type": "string", "description": "Resident ID (person) or unified social credit code "
                                                       "(enterprise); stored encrypted, never returned"},
        "legal_representative": {"type": ["string", "null"]}, "phone": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]}, "address": {"type": ["string", "null"]},
    },
}
_CASE_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "required": ["number", "basis", "filed_on", "claim_amount", "parties"],
    "properties": {
        "number": {"type": "string", "example": "（2026）皖02执123号",
                   "description": "Normalised to full-width parentheses without spaces"},
        "basis": {"type": "string", "maxLength": 300}, "filed_on": _DATE, "claim_amount": _AMOUNT,
        "officer_id": {"type": ["integer", "null"], "description": "Another officer of the court; default: you"},
        "parties": {"type": "array", "items": _PARTY_SCHEMA,
                    "description": "At least one applicant and one debtor"},
    },
}
_ASSET_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "required": ["category", "title", "region_code", "location", "seized_on"],
    "properties": {
        "category": {"type": "string", "enum": [c.value for c in AssetCategory]},
        "title": {"type": "string", "maxLength": 200},
        "region_code": {"type": "string", "pattern": "^[0-9]{6}$", "example": "340202"},
        "location": {"type": "string", "maxLength": 300}, "seized_on": _DATE,
        **{k: {"type": "string"} for k in ("description", "defects", "encumbrances", "occupancy", "tax_notes")},
    },
}


def _request_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


OPENAPI_PATHS = {
    "/api/v1/cases": {
        "get": {"summary": "Cases you may see (court staff: your court; supervisors: all; parties: your own)",
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"},
                                "description": "Part of a case number"}],
                "responses": {"200": {"description": "The cases, newest first"},
                              "400": _err("Unreadable query"), "401": _err("No or bad token")}},
        "post": {"summary": "Register a case of your court with its parties (officers)",
                 "requestBody": _request_body(_CASE_SCHEMA),
                 "responses": {"201": {"description": "The case, parties masked"},
                               "400": _err("Unreadable body, missing or mistyped field"),
                               "401": _err("No or bad token"), "403": _err("Not an officer"),
                               "409": _err("A case rule refuses it, or the number is taken")}},
    },
    "/api/v1/cases/{case_id}": {
        "get": {"summary": "A case with its parties (identity numbers masked), assets and fund balances",
                "parameters": _CASE_ID,
                "responses": {"200": {"description": "The case"}, "401": _err("No or bad token"),
                              "404": _err("No such case (or not yours to see)")}},
    },
    "/api/v1/cases/{case_id}/assets": {
        "post": {"summary": "Record a seized asset of the case (officers of its court)",
                 "parameters": _CASE_ID, "requestBody": _request_body(_ASSET_SCHEMA),
                 "responses": {"201": {"description": "The asset, with its stage and appraisal specialty"},
                               "400": _err("Unreadable body, missing or mistyped field"),
                               "401": _err("No or bad token"), "403": _err("You may see the case but not change it"),
                               "404": _err("No such case (or not yours to see)"),
                               "409": _err("An asset rule refuses it")}},
    },
    "/api/v1/cases/{case_id}/funds": {
        "get": {"summary": "The case-fund ledger, balances, and whether it reconciles",
                "parameters": _CASE_ID,
                "responses": {"200": {"description": "Entries in order, balances, reconciled"},
                              "401": _err("No or bad token"), "404": _err("No such case (or not yours to see)")}},
    },
    "/api/v1/cases/overdue-pricing": {
        "get": {"summary": "Assets whose reference-price procedure is overdue (E01: 30 days after seizure)",
                "responses": {"200": {"description": "Overdue assets, oldest seizure first"},
                              "401": _err("No or bad token")}},
    },
}
