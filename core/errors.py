"""Localised error pages (400/403/404/405/413/500/503) and JSON errors under ``/api/``."""
from __future__ import annotations

import logging

from flask import current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.db import Busy
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def _titles():
    return {
        400: _("Bad request"),
        403: _("You are not allowed to do this"),
        404: _("Page not found"),
        405: _("Method not allowed"),
        413: _("The upload is too large"),
        429: _("Too many requests; please wait and try again"),
        500: _("Something went wrong on our side"),
        503: _("The platform is busy; please try again in a moment"),
    }


def _render(code: int, message: str | None = None):
    title = _titles().get(code, _("Error"))
    if request.path.startswith("/api/"):
        return jsonify({"error": {"code": code, "message": message or title}}), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def init_app(app) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(_e):
        return _render(400, _("The form expired or was not sent from this site. Please reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        message = e.description if getattr(e, "show_message", False) else None
        return _render(e.code or 500, message)

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(Busy)
    def _busy(e):
        # Every connection of this worker's pool stayed busy for DB_POOL_TIMEOUT seconds, or a
        # statement gave up waiting for a lock (core.db.Busy): nothing was done; the client may
        # retry (a bid's idempotency key makes that safe).
        log.warning("database busy (%s) on %s %s", type(e).__name__, request.method, request.path)
        response = current_app.make_response(_render(503))
        response.headers["Retry-After"] = "2"
        return response

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        if isinstance(e, HTTPException):  # pragma: no cover - handled above
            return _http(e)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500)
