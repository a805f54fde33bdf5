"""The platform core: app factory, configuration, database, clock, money, rulebook, audit
ledger, PDF pipeline, scheduler wiring, notifications and i18n.

:func:`create_app` has no import-time side effects and starts nothing: the scheduler runs only
from ``flask --app wsgi scheduler run`` or ``flask --app wsgi serve`` (development).
"""
from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

from flask import Flask

#: Domain packages, lowest layer first (DESIGN.md §3). Each exposes ``init_app(app)`` in its
#: ``__init__``; core loads them by name, so core never imports a package above it.
PACKAGES = ["accounts", "cases", "appraisal", "auction", "bidding"]

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask application.

    ``test_config`` overrides the environment (tests pass ``DATABASE_URL``, ``SECRET_KEY`` …).
    """
    from flask_wtf.csrf import CSRFProtect

    from core import api, cli, errors, nav, views
    from core.clock import Clock
    from core.config import load_config
    from core.db import Database, pool_settings
    from core.i18n import init_i18n
    from core.money import format_money
    from core.rulebook import get_rulebook
    from core.scheduler import register_core_jobs
    from core.web import close_db_session

    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "INSTANCE_PATH", str(ROOT / "instance")
    )
    app = Flask(
        "auction_platform",
        root_path=str(ROOT),
        instance_path=instance_path,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(load_config(app.instance_path, test_config))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # APScheduler logs every one-second sweep at INFO.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

    database = Database(app.config["DATABASE_URL"], **pool_settings(app.config))
    app.extensions["database"] = database
    app.extensions["session_factory"] = app.config.get("SESSION_FACTORY") or database.session
    app.extensions["rulebook"] = get_rulebook(app.config["RULEBOOK"])
    app.extensions["clock"] = Clock(app.config["CLOCK"], app.extensions["session_factory"])
    from core.holidays import seed_calendar

    app.extensions["seeders"] = [seed_calendar]
    app.extensions["due_sources"] = []
    app.extensions["periodic_jobs"] = []
    app.teardown_appcontext(close_db_session)
    app.jinja_env.filters["money"] = format_money

    app.extensions["csrf"] = CSRFProtect(app)
    init_i18n(app, PACKAGES)
    nav.init_app(app)
    views.init_app(app)
    api.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    register_core_jobs(app)
    for name in PACKAGES:
        importlib.import_module(name).init_app(app)
    return app
