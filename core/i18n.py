"""Localisation: Chinese (zh_CN) by default, English on request; times shown in Asia/Shanghai.

Each package keeps its own catalogue under ``<package>/translations``; Flask-Babel merges them.
The chosen language is kept in the session, set from any page through ``/lang/<code>``.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, request, session
from babel import Locale
from flask_babel import Babel

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parent.parent


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@lru_cache(maxsize=8)
def _parsed(code: str) -> Locale:
    return Locale.parse(code)


def babel_locale() -> Locale:
    """:func:`select_locale` as the parsed locale Flask-Babel wants: ``Locale.parse`` scans
    every locale Babel knows (about 0.8 ms), once per request that translates anything."""
    return _parsed(select_locale())


def translation_directories(packages: list[str]) -> str:
    dirs = [str(ROOT / name / "translations") for name in ["core", *packages]]
    return ";".join(d for d in dirs if Path(d).is_dir())


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Format an aware UTC time in Asia/Shanghai; empty for ``None``."""
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime(fmt)


def beijing_time(value: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM`` in Beijing time. A window that ends at midnight is shown as
    ``24:00`` of its last day, the day the law counts (F01), not ``00:00`` of the next."""
    from datetime import timedelta

    if value is None:
        return ""
    if local_time(value, "%H:%M:%S") == "00:00:00":
        return local_time(value - timedelta(minutes=1), "%Y-%m-%d") + " 24:00"
    return local_time(value, "%Y-%m-%d %H:%M")


def init_i18n(app, packages: list[str]) -> Babel:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translation_directories(packages)
    babel = Babel(app, locale_selector=babel_locale, timezone_selector=lambda: "Asia/Shanghai")
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.filters["deadline"] = beijing_time
    app.jinja_env.filters["problem"] = lambda p: translate_message(p[0], p[1])

    @app.context_processor
    def _language():
        return {"current_lang": select_locale(), "request_path": request.full_path.rstrip("?")}

    return babel


def translate_message(message: str, params: dict | None = None) -> str:
    """Translate a msgid and its string parameters (which are msgids too), then substitute."""
    from flask_babel import gettext

    def tr(value):
        if isinstance(value, str):
            return gettext(value)
        if isinstance(value, (list, tuple)):
            return gettext(", ").join(gettext(v) for v in value)
        return value

    params = {k: tr(v) for k, v in (params or {}).items()}
    text = gettext(message)
    try:
        # Always format, so a literal percent written "%%" in a msgid shows as "%".
        return text % params
    except (KeyError, ValueError, TypeError):
        return text


def translate_error(exc) -> str:
    """Render a :class:`core.text.DomainError` in the user's language.

    String parameters are msgids too (field names, reasons) and are translated before being
    substituted.
    """
    return translate_message(exc.message, exc.params)
