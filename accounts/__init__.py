"""Accounts: courts, users and roles, login, real-name bidder registration."""
from __future__ import annotations


def init_app(app) -> None:
    from flask import request
    from flask_babel import gettext as _
    from flask_babel import lazy_gettext as _l
    from flask_login import LoginManager

    from accounts import seed
    from accounts.identity import IdentityVault
    from accounts.models import Role, User
    from accounts.views import bp
    from core.nav import NavEntry, register_nav
    from core.ratelimit import make_limiter
    from core.web import db_session, now

    app.extensions["identity_vault"] = IdentityVault(app.config["IDENTITY_KEY"])
    app.extensions["limiter"] = make_limiter(app.config.get("REDIS_URL"))

    manager = LoginManager(app)
    manager.login_view = "accounts.login"
    manager.login_message = _l("Please log in to see this page.")
    manager.login_message_category = "info"

    @manager.user_loader
    def _load(user_id: str):
        if not user_id.isdigit():
            return None
        user = db_session().get(User, int(user_id))
        return user if user is not None and user.active else None

    @manager.request_loader
    def _from_bearer(req):
        header = req.headers.get("Authorization", "")
        # Bearer tokens authenticate the API and plain downloads (GET: photos, documents);
        # browsers never send them by themselves, so they need no CSRF protection.
        if not header.startswith("Bearer ") or not (req.path.startswith("/api/") or req.method == "GET"):
            return None
        from accounts.services import user_for_token

        return user_for_token(db_session(), header[7:].strip(), now=now())

    @manager.unauthorized_handler
    def _unauthorized():
        from flask import flash, jsonify, redirect, url_for

        if request.path.startswith("/api/"):
            return jsonify({"error": {"code": 401, "message": _("Authentication required")}}), 401
        flash(_("Please log in to see this page."), "info")
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))

    app.register_blueprint(bp)
    from accounts import api
    from core.api import register_paths

    app.register_blueprint(api.bp)
    app.extensions["csrf"].exempt(api.bp)
    register_paths(app, api.OPENAPI_PATHS)
    register_nav(app, NavEntry(lambda: _("Home"), "core.home", None, order=0))
    register_nav(app, NavEntry(lambda: _("Courts"), "accounts.admin_courts", (Role.ADMIN,), order=80))
    register_nav(app, NavEntry(lambda: _("Staff accounts"), "accounts.admin_users", (Role.ADMIN,), order=81))
    register_nav(app, NavEntry(lambda: _("Holiday calendar"), "accounts.admin_calendar", (Role.ADMIN,), order=82))
    app.extensions["seeders"].append(seed.seed_accounts)
    from accounts.cli import accounts_cli

    app.cli.add_command(accounts_cli)
