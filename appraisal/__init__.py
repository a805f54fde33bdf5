"""Appraisal: agencies, random draws, commissions and valuations (the reference price)."""
from __future__ import annotations


def init_app(app) -> None:
    from appraisal import services
    from appraisal.context import context_for
    from appraisal.views import bp
    from core.scheduler import DueSource, register_due_source

    app.register_blueprint(bp)
    from appraisal.cli import appraisal_cli
    from appraisal.seed import seed_appraisal

    app.extensions["seeders"].append(seed_appraisal)

    app.cli.add_command(appraisal_cli)
    register_due_source(app, DueSource(
        "appraisal", lambda session, now: services.run_due(session, context_for(app, session, now)),
        services.upcoming))
