"""The JSON API v1 frame: every package adds its paths to one OpenAPI document served at
``/api/v1/openapi.json``. Authentication is by bearer token only (never the session cookie),
so API routes are exempt from CSRF."""
from __future__ import annotations

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


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.extensions["csrf"].exempt(bp)
