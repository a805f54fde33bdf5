"""Role-based navigation: packages register their entries; the base layout shows the ones the
current user may use."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from core.web import clock


@dataclass(frozen=True)
class NavEntry:
    label: Callable[[], str]
    endpoint: str
    #: Role values that see the entry; ``None`` for everyone, ``()`` for anonymous only.
    roles: tuple[str, ...] | None = None
    order: int = 50


def register_nav(app, entry: NavEntry) -> None:
    app.extensions.setdefault("nav", []).append(entry)


def nav_items() -> list[dict]:
    role = getattr(current_user, "role", None) if current_user.is_authenticated else None
    items = []
    for e in sorted(current_app.extensions.get("nav", []), key=lambda e: e.order):
        if e.roles is not None and (role is None or role not in e.roles):
            continue
        url = url_for(e.endpoint)
        items.append({"label": e.label(), "url": url, "active": request.path == url})
    return items


def clock_banner() -> str | None:
    """Outside production, say loudly that the clock is simulated and how far it is moved."""
    c = clock()
    if not c.simulated:
        return None
    from core.i18n import local_time

    return _("Simulated clock: platform time is %(time)s (Beijing)", time=local_time(c.now(), "%Y-%m-%d %H:%M"))


def init_app(app) -> None:
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.globals["clock_banner"] = clock_banner
