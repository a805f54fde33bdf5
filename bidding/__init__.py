"""Bidding: deposits, anonymous bidder codes, bids under the round's lock, the close that
happens by itself, refunds."""
from __future__ import annotations


def init_app(app) -> None:
    from bidding import services
    from bidding.views import bp
    from core.context import context_for
    from core.scheduler import DueSource, register_due_source

    app.register_blueprint(bp)
    register_due_source(app, DueSource(
        "bidding", lambda session, now: services.run_due(session, context_for(app, session, now)),
        services.upcoming))
