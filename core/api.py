"""The JSON API v1 frame: every package adds its paths to one OpenAPI document served at
``/api/v1/openapi.json``. Authentication is by bearer token only (never the session cookie),
so API routes are exempt from CSRF."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, jsonify

bp = Blueprint("api_core", __name__, url_prefix="/api/v1")

OPENAPI_BASE = {
    "openapi": "3.1.0",
    "info": {
        "title": "Judicial Auction Platform API",
        "version": "1",
        "description": "JSON API v1. Authenticate with `Authorization: Bearer <token>`; "
                       "times are ISO 8601 UTC; amounts are decimal strings in yuan.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {
                    "code": {"type": "integer"}, "message": {"type": "string"}}}},
            },
        },
    },
    "security": [{"bearer": []}],
}


def register_paths(app, paths: dict) -> None:
    """Add OpenAPI path items (a package calls this from its ``init_app``)."""
    app.extensions.setdefault("openapi_paths", {}).update(paths)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of every API path on this deployment."""
    doc = dict(OPENAPI_BASE)
    doc["info"] = {**OPENAPI_BASE["info"], "version": f"1 ({current_app.config['VERSION']})"}
    doc["paths"] = dict(sorted(current_app.extensions.get("openapi_paths", {}).items()))
    return jsonify(doc)


def read_json():
    """The parsed request body, or ``None`` when absent or unreadable. Absurdly deep nesting
    makes the JSON parser raise ``RecursionError`` rather than ``ValueError``: unreadable too."""
    from flask import request

    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def api_error(code: int, message: str):
    return jsonify({"error": {"code": code, "message": message}}), code


#: Row ids in URLs are 32-bit: a larger number matches no route (404), never a database error.
MAX_ID = 2**31 - 1


def id_path(name: str) -> str:
    """The URL converter of a row id, e.g. ``f"/rounds/{id_path('round_id')}"``."""
    return f"<int(min=1, max={MAX_ID}):{name}>"


def refusals(status: list[tuple[type, int]]):
    """Decorator factory: answer a :class:`core.text.DomainError` with its JSON 4xx (the first
    matching class in ``status``, else 409) after a rollback, so a refused write leaves nothing
    behind in the request's session."""
    from core.i18n import translate_error
    from core.text import DomainError
    from core.web import db_session

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except DomainError as exc:
                db_session().rollback()
                code = next((code for kind, code in status if isinstance(exc, kind)), 409)
                return api_error(code, translate_error(exc))

        return wrapped

    return decorator


# --- OpenAPI building blocks shared by the packages' api.py -------------------------------------

AMOUNT_SCHEMA = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$", "example": "700000.00"}
INT_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
ERROR_RESPONSE = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def error_doc(description: str) -> dict:
    return {"description": description, **ERROR_RESPONSE}


def body_doc(schema: dict, *, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def object_doc(required: list[str], **properties) -> dict:
    """A request body: a JSON object with exactly these properties."""
    return body_doc({"type": "object", "additionalProperties": False, "required": required,
                     "properties": properties})


def operation_doc(summary: str, ok: tuple[str, str], *, params: list | None = None, body: dict | None = None,
                  public: bool = False, **errors: str) -> dict:
    """One operation; ``errors`` maps ``e400``… to descriptions (401 added unless public)."""
    responses = {ok[0]: {"description": ok[1]}}
    if not public:
        responses["401"] = error_doc("No or bad token")
    responses.update({name[1:]: error_doc(text) for name, text in errors.items()})
    op = {"summary": summary, "responses": dict(sorted(responses.items()))}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = body
    if public:
        op["security"] = []
    return op


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.extensions["csrf"].exempt(bp)
