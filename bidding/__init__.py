"""Bidding: deposits, bidder codes, bids, the close and the transcript.

Filled by a later issue; for now only its blueprint is registered."""


def init_app(app) -> None:
    from bidding.views import bp

    app.register_blueprint(bp)
