"""Auction: lots, rounds, notices, announcements and every outcome after a round."""
from __future__ import annotations


def init_app(app) -> None:
    from auction import services
    from auction.views import bp, register_pages
    from core.context import context_for
    from core.scheduler import DueSource, register_due_source

    app.register_blueprint(bp)
    register_pages(app)
    from auction import api
    from core.api import register_paths

    app.register_blueprint(api.bp)
    app.extensions["csrf"].exempt(api.bp)
    register_paths(app, api.OPENAPI_PATHS)
    from auction.seed import seed_auction

    app.extensions["seeders"].append(seed_auction)
    register_due_source(app, DueSource(
        "auction", lambda session, now: services.run_due(session, context_for(app, session, now)),
        services.upcoming))

