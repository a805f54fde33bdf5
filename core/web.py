"""Request-side access to the platform's services: the request's session, the clock, the
rulebook. Only views and API handlers use these; services receive what they need as arguments.
"""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app, g, request
from sqlalchemy.orm import Session

from core.clock import Clock
from core.db import Database
from core.rulebook import Rulebook


def database() -> Database:
    return current_app.extensions["database"]


def db_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["session_factory"]()
    return g.db_session


def close_db_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def clock() -> Clock:
    return current_app.extensions["clock"]


def now() -> datetime:
    """The platform time for this request (aware UTC)."""
    return clock().now()


def rulebook() -> Rulebook:
    return current_app.extensions["rulebook"]


def is_safe_redirect(target: str | None) -> bool:
    """True only for a relative path on this site (no scheme, no host, no ``//`` or ``\\``)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(c) < 32 for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(default: str) -> str:
    """The ``next`` parameter if it is a safe local path, else ``default``."""
    target = request.values.get("next")
    return target if is_safe_redirect(target) else default
