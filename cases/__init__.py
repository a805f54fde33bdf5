"""Cases: enforcement cases, parties, seized assets, series imports and the case-fund ledger."""
from __future__ import annotations


def init_app(app) -> None:
    from cases.views import bp

    app.register_blueprint(bp)
