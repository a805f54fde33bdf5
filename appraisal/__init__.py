"""Appraisal: agencies, random draws, commissions and valuations.

Filled by a later issue; for now only its blueprint is registered."""


def init_app(app) -> None:
    from appraisal.views import bp

    app.register_blueprint(bp)
