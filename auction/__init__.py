"""Auction: lots, rounds, announcements and outcomes.

Filled by a later issue; for now only its blueprint is registered."""


def init_app(app) -> None:
    from auction.views import bp

    app.register_blueprint(bp)
