"""JSON API v1 of the list of restricted persons (decision 19) and of staff and close relatives
(A53), for officers of any court (bearer token).

``POST /api/v1/restrictions`` · ``GET /api/v1/restrictions`` ·
``POST /api/v1/restrictions/<id>/lift``

An import is the same as a CSV upload: ``{"rows": [{"name", "id_number", "kind", "source",
"listed_on", "lifted_on"?, "identity_kind"?}, …]}``, every row checked first, all rows written
or none. A body that is not that shape is 400 naming the field; rows that break a rule are 409
with every problem and its row number (from 1); more than 10,000 rows is 413. No identity number
ever leaves here: entries carry the masked form only.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from accounts.api import api_auth
from accounts.models import IdentityKind, Role
from bidding import restrictions
from bidding.models import RestrictedPerson, RestrictionKind
from cases.rules import local_today
from core.api import (
    INT_SCHEMA, id_path, object_doc, operation_doc, read_json, refusals,
)
from core.i18n import translate_error, translate_message
from core.jsonbody import Unreadable, date_field, instant_str, json_object, required_field, text_field
from core.text import N_
from core.web import db_session, now

bp = Blueprint("restrictions_api", __name__, url_prefix="/api/v1")

_refusals = refusals([(Unreadable, 400), (restrictions.NotFound, 404), (restrictions.NotAllowed, 403),
                      (restrictions.ListTooLarge, 413)])
#: A JSON row takes about twice the bytes of a CSV line: room for the longest list one import takes.
MAX_BODY_BYTES = 3 * restrictions.MAX_BYTES
#: No column is longer than a source (200); a bound keeps one request from holding huge strings.
_VALUE_LEN = restrictions.SOURCE_LEN
_MAX_PER_PAGE = 100
_MAX_PAGE = 100_000
_QUERY_LEN = 100


def _vault():
    return current_app.extensions["identity_vault"]


def _entry(e: RestrictedPerson, today) -> dict:
    """An entry as officers see it (the number masked)."""
    return {"id": e.id, "name": e.name, "identity_kind": str(e.identity_kind), "id_number_masked": e.id_number_masked,
            "kind": str(e.kind), "source": e.source, "listed_on": e.listed_on.isoformat(),
            "lifted_on": e.lifted_on.isoformat() if e.lifted_on else None, "lift_reason": e.lift_reason,
            "active": e.active_on(today), "court": {"id": e.court_id, "name": e.court.name},
            "imported_at": instant_str(e.imported_at), "updated_at": instant_str(e.updated_at),
            "lifted_at": instant_str(e.lifted_at)}


def _rows(body: dict) -> list[dict]:
    """The rows of an import, each an object of string (or null) values under known keys."""
    rows = required_field(body, "rows", "rows")
    if not isinstance(rows, list):
        raise Unreadable(N_("%(field)s must be a list of objects."), field="rows")
    if len(rows) > restrictions.MAX_ROWS:
        raise restrictions.ListTooLarge()
    out = []
    for i, raw in enumerate(rows):
        item = json_object(raw, f"rows[{i}]", set(restrictions.KEYS))
        out.append({key: text_field(item, key, max_len=_VALUE_LEN, required=False, field=f"rows[{i}].{key}")
                    for key in item})
    return out


@bp.post("/restrictions")
@api_auth(Role.OFFICER)
@_refusals
def import_rows():
    """Import rows of the list: all or none; a row already on the platform (same number, kind
    and source) updates its entry. Answers the counts of new, updated and unchanged entries.

    :raise 400: unreadable body; :raise 403: not an officer; :raise 409: problems in the rows
        (all of them, with their row numbers), nothing written; :raise 413: too large.
    """
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise restrictions.ListTooLarge()
    body = json_object(read_json(), "", {"rows"})
    rows = _rows(body)
    try:
        result = restrictions.import_rows(db_session(), actor=g.api_user, rows=rows, vault=_vault(), now=now())
    except restrictions.ListRefused as exc:
        db_session().rollback()
        return jsonify({"error": {"code": 409, "message": translate_error(exc), "problems": [
            {"row": p.line, "message": translate_message(p.message, p.params)} for p in exc.problems]}}), 409
    return jsonify({"created": result.created, "updated": result.updated, "unchanged": result.unchanged})


@bp.get("/restrictions")
@api_auth(Role.OFFICER)
@_refusals
def list_entries():
    """The list, latest import first: ``?q=`` part of a name or a whole identity number,
    ``?kind=``, ``?active=true`` only the entries that bar today; ``?page=``, ``?per_page=``
    (at most 100).

    :raise 400: unreadable query; :raise 403: not an officer.
    """
    q = request.args.get("q", "").strip()
    if "\x00" in q or len(q) > _QUERY_LEN:
        raise Unreadable(N_("%(field)s is too long or contains a character that is not allowed."), field="q")
    kind = request.args.get("kind")
    if kind is not None and kind not in {k.value for k in RestrictionKind}:
        raise Unreadable(N_("%(field)s must be one of %(choices)s."), field="kind",
                         choices=", ".join(k.value for k in RestrictionKind))
    active = request.args.get("active", "false")
    if active not in ("true", "false"):
        raise Unreadable(N_("%(field)s must be true or false."), field="active")
    page, per_page = _int_arg("page", 1, _MAX_PAGE), _int_arg("per_page", 20, _MAX_PER_PAGE)
    today = local_today(now())
    found = restrictions.list_entries(db_session(), viewer=g.api_user, vault=_vault(), query=q,
                                      kind=RestrictionKind(kind) if kind else None,
                                      active_on=today if active == "true" else None, limit=per_page,
                                      offset=(page - 1) * per_page)
    return jsonify({"restrictions": [_entry(e, today) for e in found.entries], "page": page, "per_page": per_page,
                    "total": found.total})


@bp.post(f"/restrictions/{id_path('entry_id')}/lift")
@api_auth(Role.OFFICER)
@_refusals
def lift(entry_id: int):
    """Lift an entry with a ``reason``, from today or from ``lifted_on`` (YYYY-MM-DD, not in the
    future): from that day it bars nobody.

    :raise 400: unreadable body; :raise 403: not an officer; :raise 404: no such entry;
        :raise 409: no reason, a date before the listing or in the future, or already lifted.
    """
    body = json_object(read_json(), "", {"reason", "lifted_on"})
    reason = text_field(body, "reason", max_len=restrictions.REASON_LEN)
    lifted_on = date_field(body, "lifted_on") if body.get("lifted_on") is not None else None
    entry = restrictions.lift(db_session(), actor=g.api_user, entry_id=entry_id, reason=reason, lifted_on=lifted_on,
                              now=now())
    return jsonify(_entry(entry, local_today(now())))


def _int_arg(name: str, default: int, high: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= high:
        raise Unreadable(N_("%(field)s must be a whole number from 1 to %(max)s."), field=name, max=high)
    return int(value)


# --- OpenAPI --------------------------------------------------------------------------------------

_TEXT = {"type": ["string", "null"], "maxLength": _VALUE_LEN}
_DATE = {"type": "string", "format": "date", "example": "2026-03-01"}
_ROW = {
    "type": "object", "additionalProperties": False,
    "required": ["name", "id_number", "kind", "source", "listed_on"],
    "properties": {
        "name": {**_TEXT, "maxLength": restrictions.NAME_LEN, "description": "Name of the person or enterprise"},
        "id_number": {**_TEXT, "description": "Resident ID (GB 11643) or unified social credit code (GB 32100); "
                                              "stored only as a keyed hash and a masked form"},
        "kind": {**_TEXT, "description": "dishonest (失信被执行人), consumption (限制消费令) or staff (工作人员及近亲属, "
                                         "A53); the Chinese names are accepted too"},
        "source": {**_TEXT, "description": "The court's document number, or e.g. 最高人民法院失信被执行人名单"},
        "listed_on": {**_TEXT, "description": "YYYY-MM-DD, not in the future"},
        "lifted_on": {**_TEXT, "description": "YYYY-MM-DD, optional: the entry bars until the day before"},
        "identity_kind": {**_TEXT, "enum": [*(k.value for k in IdentityKind), "自然人", "企业", None],
                          "description": "Optional: otherwise read from the number"},
    },
}
_ENTRY_ID = [{"name": "entry_id", "in": "path", "required": True, "schema": INT_SCHEMA}]
_BAD = "Unreadable body, missing, mistyped or unknown field"

OPENAPI_PATHS = {
    "/api/v1/restrictions": {
        "post": operation_doc(
            "Import rows of the list of restricted persons, all or none (officers; decision 19, A53)",
            ("200", "created, updated and unchanged: the counts of entries"),
            body=object_doc(["rows"], rows={"type": "array", "maxItems": restrictions.MAX_ROWS, "items": _ROW}),
            e400=_BAD, e403="Not an officer",
            e409="Problems in the rows: error.problems lists each with its row number (from 1); nothing written",
            e413=f"More than {restrictions.MAX_ROWS} rows"),
        "get": operation_doc(
            "The list of restricted persons, latest import first (officers of any court)",
            ("200", "A page of entries (numbers masked) with its total"),
            params=[{"name": "q", "in": "query", "description": "Part of a name, or a whole identity number",
                     "schema": {"type": "string", "maxLength": _QUERY_LEN}},
                    {"name": "kind", "in": "query", "schema": {"type": "string",
                                                               "enum": [k.value for k in RestrictionKind]}},
                    {"name": "active", "in": "query", "description": "Only the entries that bar today",
                     "schema": {"type": "boolean", "default": False}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                    {"name": "per_page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": _MAX_PER_PAGE, "default": 20}}],
            e400="Unreadable query", e403="Not an officer"),
    },
    "/api/v1/restrictions/{entry_id}/lift": {"post": operation_doc(
        "Lift an entry with a reason (officers; decision 19)", ("200", "The entry"), params=_ENTRY_ID,
        body=object_doc(["reason"], reason={"type": "string", "maxLength": restrictions.REASON_LEN},
                        lifted_on={**_DATE, "description": "Default today; not in the future"}),
        e400=_BAD, e403="Not an officer", e404="No such entry",
        e409="No reason, a date before the listing or in the future, or already lifted")},
}
