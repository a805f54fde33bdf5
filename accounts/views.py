"""Login, logout, bidder registration, the profile, and the administrator's courts and staff.

All URLs of the package:

=====================================  =========================================
``/accounts/login``                    log in (GET form, POST credentials)
``/accounts/logout``                   log out (POST)
``/accounts/register``                 public bidder registration
``/accounts/profile``                  own profile, contact details, password
``/accounts/admin/courts``             courts (administrator)
``/accounts/admin/users``              staff accounts (administrator)
``/accounts/admin/users/<id>/active``  disable / enable an account (POST)
``/accounts/admin/calendar``           holiday calendar for counting periods
=====================================  =========================================
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from accounts import rules, services
from accounts.access import roles_required
from accounts.forms import (
    CalendarDayForm, CourtForm, EmptyForm, LoginForm, PasswordForm, ProfileForm, RegisterForm, StaffForm,
)
from accounts.models import Court, Role, User
from core.i18n import translate_error
from core.web import db_session, now, safe_next

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


def _vault():
    return current_app.extensions["identity_vault"]


def _limiter():
    return current_app.extensions["limiter"]


def _client_ip() -> str:
    return request.remote_addr or "unknown"


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in. Failed attempts are counted per account (lockout) and per address (throttle)."""
    if current_user.is_authenticated:
        return redirect(safe_next(url_for("core.home")))
    form = LoginForm()
    if form.validate_on_submit():
        ip_key = f"login:{_client_ip()}"
        window = rules.IP_WINDOW.total_seconds()
        if _limiter().count(ip_key, window) >= rules.IP_MAX_FAILURES:
            flash(_("Too many failed attempts from your network. Please wait a few minutes."), "error")
            return render_template("accounts/login.html", form=form), 429
        try:
            user = services.authenticate(db_session(), username=form.username.data,
                                         password=form.password.data, now=now())
        except (services.InvalidCredentials, services.AccountLocked, services.AccountDisabled) as exc:
            _limiter().hit(ip_key, window)
            flash(translate_error(exc), "error")
            return render_template("accounts/login.html", form=form), 200
        login_user(user)
        flash(_("Welcome, %(name)s.", name=user.display_name), "success")
        return redirect(safe_next(url_for("core.home")))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout():
    """Log out (POST with a CSRF token, so a link on another site cannot log you out)."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("core.home"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Public registration of a bidder with a verified real name."""
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        reg = services.BidderRegistration(
            username=form.username.data, password=form.password.data, email=form.email.data,
            phone=form.phone.data.strip(), kind=form.kind.data, real_name=form.real_name.data,
            id_number=form.id_number.data, legal_representative=form.legal_representative.data,
        )
        try:
            user = services.register_bidder(db_session(), reg, vault=_vault(), now=now())
        except services.DomainError as exc:
            db_session().rollback()
            flash(translate_error(exc), "error")
            return render_template("accounts/register.html", form=form), 200
        login_user(user)
        flash(_("Your bidder account is ready."), "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/register.html", form=form)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """The user's own profile: identity (masked), contact details and password."""
    user = current_user._get_current_object()
    profile_form = ProfileForm(prefix="p", obj=user)
    password_form = PasswordForm(prefix="pw")
    try:
        if request.method == "POST" and "p-submit" in request.form and profile_form.validate_on_submit():
            services.update_profile(db_session(), user=user, email=profile_form.email.data,
                                    phone=profile_form.phone.data,
                                    display_name=profile_form.display_name.data, now=now())
            flash(_("Your details were saved."), "success")
            return redirect(url_for("accounts.profile"))
        if request.method == "POST" and "pw-submit" in request.form and password_form.validate_on_submit():
            services.change_password(db_session(), user=user, current=password_form.current.data,
                                     new=password_form.new.data, now=now())
            flash(_("Your password was changed."), "success")
            return redirect(url_for("accounts.profile"))
    except services.DomainError as exc:
        db_session().rollback()
        flash(translate_error(exc), "error")
    shown_number = None
    if user.identity is not None:
        shown_number = rules.mask_identity_number(user.identity.id_number_tail)
        if request.args.get("reveal") == "1":
            shown_number = services.reveal_identity_number(user, user, _vault())
    return render_template("accounts/profile.html", user=user, profile_form=profile_form,
                           password_form=password_form, shown_number=shown_number)


@bp.route("/admin/courts", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_courts():
    """Courts on the platform; the administrator adds new ones."""
    form = CourtForm()
    if form.validate_on_submit():
        try:
            court = services.create_court(db_session(), actor=current_user, name=form.name.data,
                                          code=form.code.data, region_code=form.region_code.data, now=now())
            flash(_("Court %(name)s added.", name=court.name), "success")
            return redirect(url_for("accounts.admin_courts"))
        except services.DomainError as exc:
            db_session().rollback()
            flash(translate_error(exc), "error")
    courts = db_session().scalars(select(Court).order_by(Court.code)).all()
    return render_template("accounts/admin_courts.html", form=form, courts=courts)


@bp.route("/admin/users", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_users():
    """Staff accounts (officers, finance, supervisors, agencies, administrators)."""
    courts = db_session().scalars(select(Court).order_by(Court.code)).all()
    form = StaffForm()
    form.court_id.choices = [SelectChoice(0, "—")] + [SelectChoice(c.id, f"{c.name}（{c.code}）") for c in courts]
    if form.validate_on_submit():
        try:
            user = services.create_staff(
                db_session(), actor=current_user, role=Role(form.role.data),
                username=form.username.data, password=form.password.data,
                display_name=form.display_name.data, email=form.email.data,
                phone=(form.phone.data or "").strip() or None,
                court_id=form.court_id.data or None, now=now())
            flash(_("Account %(name)s created.", name=user.username), "success")
            return redirect(url_for("accounts.admin_users"))
        except services.DomainError as exc:
            db_session().rollback()
            flash(translate_error(exc), "error")
    users = db_session().scalars(
        select(User).where(User.role.not_in([Role.BIDDER, Role.PARTY])).order_by(User.role, User.username)
    ).all()
    return render_template("accounts/admin_users.html", form=form, users=users, toggle=EmptyForm())


@bp.post("/admin/users/<int:user_id>/active")
@roles_required(Role.ADMIN)
def admin_set_active(user_id: int):
    """Disable or enable an account.

    :raise 404: unknown user
    """
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    if db_session().get(User, user_id) is None:
        abort(404)
    try:
        user = services.set_active(db_session(), actor=current_user, user_id=user_id,
                                   active=request.form.get("active") == "1", now=now())
        flash(_("Account %(name)s updated.", name=user.username), "success")
    except services.DomainError as exc:
        db_session().rollback()
        flash(translate_error(exc), "error")
    return redirect(url_for("accounts.admin_users"))


@bp.route("/admin/calendar", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_calendar():
    """Statutory holidays and adjusted working days (decision 20): they decide when objection
    windows and report deadlines end."""
    from datetime import date as date_cls

    from core import holidays
    from core.models import CalendarDay

    form = CalendarDayForm()
    if request.method == "POST" and request.form.get("remove") and EmptyForm().validate_on_submit():
        try:
            day = date_cls.fromisoformat(request.form["remove"])
        except ValueError:
            abort(400)
        holidays.remove_day(db_session(), day=day, actor=current_user.actor, now=now())
        flash(_("Calendar entry removed."), "success")
        return redirect(url_for("accounts.admin_calendar", year=day.year))
    if form.validate_on_submit():
        try:
            holidays.set_day(db_session(), day=form.day.data, kind=form.kind.data, name=form.name.data,
                             actor=current_user.actor, now=now())
            flash(_("Calendar entry saved."), "success")
            return redirect(url_for("accounts.admin_calendar", year=form.day.data.year))
        except services.DomainError as exc:
            db_session().rollback()
            flash(translate_error(exc), "error")
    year = request.args.get("year", type=int) or now().year
    days = db_session().scalars(select(CalendarDay).where(
        CalendarDay.day >= date_cls(year, 1, 1), CalendarDay.day <= date_cls(year, 12, 31)).order_by(CalendarDay.day)).all()
    return render_template("accounts/admin_calendar.html", form=form, days=days, year=year, button=EmptyForm())
