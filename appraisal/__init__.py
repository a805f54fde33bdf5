"""Appraisal: agencies, random draws, commissions and valuations (the reference price)."""
from __future__ import annotations


def init_app(app) -> None:
    from appraisal import services
    from appraisal.context import context_for
    from appraisal.views import bp
    from core.scheduler import DueSource, register_due_source

    app.register_blueprint(bp)
    _register_links(app)
    from flask_babel import gettext as _

    from accounts.models import Role
    from core.nav import NavEntry, register_nav

    register_nav(app, NavEntry(lambda: _("Commissions"), "appraisal.agency_dashboard", (Role.AGENCY,), order=20))
    register_nav(app, NavEntry(lambda: _("Agencies"), "appraisal.agency_list", (Role.SUPERVISOR, Role.ADMIN), order=30))
    from appraisal import api
    from core.api import register_paths

    app.register_blueprint(api.bp)
    app.extensions["csrf"].exempt(api.bp)
    register_paths(app, api.OPENAPI_PATHS)
    from appraisal.cli import appraisal_cli
    from appraisal.seed import seed_appraisal

    app.extensions["seeders"].append(seed_appraisal)

    app.cli.add_command(appraisal_cli)
    register_due_source(app, DueSource(
        "appraisal", lambda session, now: services.run_due(session, context_for(app, session, now)),
        services.upcoming))


def _register_links(app) -> None:
    """Links on the case and asset pages of ``cases`` (which must not import this package)."""
    from flask import url_for
    from flask_babel import gettext as _

    from cases.services import can_edit_case

    def case_links(user, case):
        return [(_("Reference prices (参考价) of these assets"), url_for("appraisal.case_procedures", case_id=case.id))]

    def asset_links(user, asset):
        links = [(_("Reference price"), url_for("appraisal.case_procedures", case_id=asset.case_id) + f"#asset-{asset.id}")]
        if can_edit_case(user, asset.case):
            links.append((_("Start the reference-price procedure"), url_for("appraisal.open_procedure", asset_id=asset.id)))
        return links

    app.extensions.setdefault("case_links", []).append(case_links)
    app.extensions.setdefault("asset_links", []).append(asset_links)
