"""JSON API v1 of the accounts package: who am I, and the administrator's clock control.

``GET /api/v1/me`` · ``GET|POST /api/v1/admin/clock``
"""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _

from accounts.models import Role
from accounts.services import user_for_token
from core.api import api_error, read_json
from core.clock import ClockError, advance_clock, move_clock, parse_duration, parse_instant
from core.web import clock, db_session, now

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


def api_auth(*roles: Role):
    """Require a bearer token (cookies are ignored); with ``roles``, one of them.

    :raise 401: no or unknown token; :raise 403: wrong role.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            user = user_for_token(db_session(), header[7:].strip(), now=now()) \
                if header.startswith("Bearer ") else None
            if user is None:
                return api_error(401, _("Authentication required"))
            if roles and user.role not in roles:
                return api_error(403, _("You are not allowed to do this"))
            g.api_user = user
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _clock_state() -> dict:
    c = clock()
    return {"mode": c.mode, "now": c.now().isoformat(), "offset_seconds": c.offset().total_seconds()}


@bp.get("/me")
@api_auth()
def me():
    """The token's user (no identity number)."""
    u = g.api_user
    return jsonify({"id": u.id, "username": u.username, "role": str(u.role),
                    "display_name": u.display_name, "court_id": u.court_id})


@bp.get("/admin/clock")
@api_auth(Role.ADMIN)
def get_clock():
    """The platform time and the simulated offset."""
    return jsonify(_clock_state())


@bp.post("/admin/clock")
@api_auth(Role.ADMIN)
def set_clock():
    """Move the simulated clock forward: ``{"advance": "3d"}`` or ``{"set": "2026-12-01T10:00+08:00"}``."""
    body = read_json()
    if not isinstance(body, dict):
        body = {}
    try:
        if isinstance(body.get("advance"), str):
            advance_clock(db_session(), clock(), delta=parse_duration(body["advance"]),
                          actor=g.api_user.actor)
        elif isinstance(body.get("set"), str):
            move_clock(db_session(), clock(), target=parse_instant(body["set"]), actor=g.api_user.actor)
        else:
            return api_error(400, _('Send {"advance": "3d"} or {"set": "2026-12-01T10:00+08:00"}.'))
    except ClockError as exc:
        db_session().rollback()
        return api_error(409 if "forward" in str(exc) or "real" in str(exc) else 400, str(exc))
    current_app.logger.info("clock moved by %s", g.api_user.actor)
    return jsonify(_clock_state())


OPENAPI_PATHS = {
    "/api/v1/me": {"get": {"summary": "The authenticated user", "responses": {
        "200": {"description": "The user"}, "401": {"description": "No or bad token"}}}},
    "/api/v1/admin/clock": {
        "get": {"summary": "Platform time and simulated offset (administrators)",
                "responses": {"200": {"description": "Clock state"}}},
        "post": {"summary": "Move the simulated clock forward (administrators; never in production)",
                 "requestBody": {"content": {"application/json": {"schema": {
                     "type": "object", "properties": {"advance": {"type": "string", "example": "3d"},
                                                      "set": {"type": "string", "format": "date-time"}}}}}},
                 "responses": {"200": {"description": "New clock state"},
                               "400": {"description": "Unreadable request"},
                               "409": {"description": "Backwards, or the clock is real"}}},
    },
}
