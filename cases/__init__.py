"""Cases: enforcement cases, parties, seized assets, series imports and the case-fund ledger."""
from __future__ import annotations


def init_app(app) -> None:
    from flask_babel import gettext as _

    from accounts.models import Role
    from cases import labels, rules
    from cases.seed import seed_cases
    from cases.views import bp
    from core.nav import NavEntry, register_nav
    from core.web import now, rulebook

    app.register_blueprint(bp)
    from cases import api
    from core.api import register_paths

    app.register_blueprint(api.bp)
    app.extensions["csrf"].exempt(api.bp)
    register_paths(app, api.OPENAPI_PATHS)
    register_nav(app, NavEntry(lambda: _("Cases"), "cases.dashboard",
                               (Role.OFFICER, Role.FINANCE, Role.SUPERVISOR, Role.PARTY), order=10))
    app.jinja_env.globals.update(
        category_label=labels.category_label, stage_label=labels.stage_label,
        specialty_label=labels.specialty_label, movement_label=labels.movement_label,
        pricing_overdue=lambda a: rules.pricing_overdue(a.seized_on, a.stage, rules.local_today(now()), rulebook()),
    )
    app.extensions["seeders"].append(seed_cases)
