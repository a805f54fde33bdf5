"""Officer, party and public pages of the reference-price procedure (参考价). The agencies' and
supervisors' pages are in :mod:`appraisal.agency_views`, on the same blueprint.

=================================================  ============================================
``/appraisal/assets/<id>/open``                    officer: open a procedure (E02)
``/appraisal/cases/<id>``                          the procedures of a case's assets
``/appraisal/procedures/<id>``                     the procedure: state, timeline, draws, …
``/appraisal/procedures/<id>/draws``               officer: schedule a draw (POST)
``/appraisal/procedures/<id>/agreed``              officer: the 3 agencies agreed on (POST, E24)
``/appraisal/procedures/<id>/switch``              officer: next method after 议价/定向询价 (POST)
``/appraisal/procedures/<id>/pause``               officer: 暂缓/中止 stops the clocks (POST)
``/appraisal/procedures/<id>/resume``              officer (POST)
``/appraisal/procedures/<id>/withdraw``            officer: 撤回 (POST)
``/appraisal/procedures/<id>/negotiation``         party or officer: a figure (POST, E04)
``/appraisal/procedures/<id>/objections``          party: file an objection (POST, E37/E38)
``/appraisal/objections/<id>/forward``             officer: to the agency (POST, E38)
``/appraisal/objections/<id>/decide``              officer: uphold or dismiss (POST)
``/appraisal/extensions/<id>/decide``              officer: grant or refuse (POST, E31)
``/appraisal/valuations/<id>/review``              officer: serve, or ask a correction (POST, E34)
``/appraisal/reports/<sha256>``                    a report PDF, to those who may view it
``/appraisal/draws/<id>``                          PUBLIC: the draw record; parties contribute
``/appraisal/draws/<id>.json``                     PUBLIC: the record ``python -m appraisal.verify`` checks
``/appraisal/draws/<id>/commit``                   party: a commitment made in the browser (POST)
``/appraisal/draws/<id>/commit-secret``            party without JavaScript: the server hashes (POST)
``/appraisal/draws/<id>/reveal``                   party: reveal the secret before the draw (POST)
=================================================  ============================================

Every handler parses, checks access (unknown or invisible → 404, visible but not allowed →
403), calls one use case of :mod:`appraisal.services` and flashes its refusal.
"""
from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from accounts.access import roles_required
from accounts.labels import role_label
from accounts.models import Role, User
from appraisal import draw as protocol
from appraisal import labels, rules, services
from appraisal.context import context_for
from appraisal.forms import (
    FeeForm,
    AgreedAgenciesForm, CommitForm, DecideObjectionForm, DecisionForm, EmptyForm, MethodForm, NegotiationForm,
    ObjectionForm, ReasonForm, RevealForm, ReviewValuationForm, ScheduleDrawForm, SecretCommitForm,
)
from appraisal.models import Agency, Draw, ExtensionRequest, Objection, PriceSubmission, Procedure, Valuation
from appraisal.rules import AgencyKind, AgencyStatus, Method, ObjectionKind, ProcedureState
from cases import services as case_services
from cases.models import Asset, Case, Party
from cases.rules import local_today, specialty_for
from core.audit import AuditEntry
from core.files import MalformedHash, check_sha256, file_store
from core.i18n import local_time, translate_error
from core.models import Document
from core.money import MoneyError, parse_money
from core.text import DomainError
from core.web import db_session, now, rulebook

bp = Blueprint("appraisal", __name__, url_prefix="/appraisal")

STAFF = (Role.OFFICER, Role.FINANCE, Role.SUPERVISOR)
CASE_VIEWERS = (*STAFF, Role.PARTY)
INQUIRING = (ProcedureState.ONLINE_INQUIRY, ProcedureState.ONLINE_EXTENDED)


# --- request plumbing -----------------------------------------------------------------------


def _ctx() -> services.Context:
    return context_for(current_app, db_session(), now())


def _refused(exc: DomainError) -> None:
    db_session().rollback()
    flash(translate_error(exc), "error")


def _invalid(form) -> None:
    """Flash every validation error of a posted form; nothing was changed."""
    db_session().rollback()
    shown = False
    for field in form:
        for error in field.errors:
            flash(f"{field.label.text}{_(': ')}{error}" if field.label.text else str(error), "error")
            shown = True
    if not shown:
        flash(_("The form was incomplete; nothing was changed."), "error")


def _call(use_case, **kwargs):
    """Run one use case as the current user at the platform's time.

    A refusal is rolled back and flashed, and ``None`` returned.
    :raise 404: the use case did not find the object; :raise 403: not allowed.
    """
    try:
        return use_case(db_session(), actor=current_user._get_current_object(), ctx=_ctx(), **kwargs)
    except services.NotFound:
        db_session().rollback()
        abort(404)
    except services.NotAllowed:
        db_session().rollback()
        abort(403)
    except DomainError as exc:
        _refused(exc)
        return None


def _back(proc: Procedure, anchor: str = ""):
    return redirect(url_for("appraisal.procedure", procedure_id=proc.id) + (f"#{anchor}" if anchor else ""))


# --- loading with access checks ---------------------------------------------------------------


def _viewer_agency_id() -> int | None:
    """The agency the logged-in user is, if any (agencies see only their own work)."""
    if not current_user.is_authenticated or current_user.role != Role.AGENCY:
        return None
    return db_session().scalar(select(Agency.id).where(Agency.user_id == current_user.id))


def _my_party(case: Case) -> Party | None:
    """The party of ``case`` the logged-in user is, if any."""
    if not current_user.is_authenticated or current_user.role != Role.PARTY:
        return None
    return next((p for p in case.parties if p.user_id == current_user.id), None)


def _load_case(case_id: int, *, edit: bool = False) -> Case:
    """:raise 404: unknown or not visible; :raise 403: visible, not changeable by this user."""
    try:
        return case_services.get_case_for(db_session(), current_user, case_id, edit=edit)
    except case_services.CaseNotFound:
        abort(404)
    except case_services.NotAllowed:
        abort(403)


def _load_procedure(procedure_id: int, *, officer: bool = False) -> Procedure:
    """:raise 404: unknown, or not visible to this user (another court, another case);
    :raise 403: visible, but ``officer`` actions belong to the officers of the case's court."""
    proc = db_session().get(Procedure, procedure_id)
    if proc is None or not services.can_view_procedure(current_user, proc, db_session()):
        abort(404)
    if officer and not case_services.can_edit_case(current_user, proc.asset.case):
        abort(403)
    return proc


def _load_party_procedure(procedure_id: int) -> tuple[Procedure, Party]:
    """:raise 404: not visible; :raise 403: the user is not a party of the case."""
    proc = _load_procedure(procedure_id)
    party = _my_party(proc.asset.case)
    if party is None:
        abort(403)
    return proc, party


def _load_draw(draw_id: int) -> Draw:
    """Draws are public. :raise 404: unknown draw"""
    d = db_session().get(Draw, draw_id)
    if d is None:
        abort(404)
    return d


# --- choices for the forms ---------------------------------------------------------------------


def _institution_choices() -> list[SelectChoice]:
    rows = db_session().scalars(select(Agency).where(Agency.kind == AgencyKind.DIRECTED_INSTITUTION,
                                                     Agency.status == AgencyStatus.LISTED).order_by(Agency.name))
    return [SelectChoice(0, "—")] + [SelectChoice(a.id, a.name) for a in rows]


def _agency_choices(proc: Procedure) -> list[SelectChoice]:
    """Listed appraisal agencies of the asset's specialty list not yet tried in this procedure."""
    specialty = str(specialty_for(proc.asset.category))
    tried = {c.agency_id for c in proc.commissions}
    rows = db_session().scalars(select(Agency).where(Agency.kind == AgencyKind.APPRAISAL,
                                                     Agency.status == AgencyStatus.LISTED).order_by(Agency.name))
    return [SelectChoice(0, "—")] + [SelectChoice(a.id, f"{a.name} · {a.licence_number}") for a in rows
                                     if specialty in (a.specialties or []) and a.id not in tried]


def _method_form(proc: Procedure | None = None) -> MethodForm:
    form = MethodForm()
    form.institution_id.choices = _institution_choices()
    if proc is not None:  # switching: the methods after the one that failed (section c)
        form.method.choices = [c for c in form.method.choices if c.value not in ("negotiation", str(proc.method))]
    return form


def _negotiation_form(proc: Procedure, party: Party | None, officer: bool) -> NegotiationForm:
    form = NegotiationForm()
    parties = proc.asset.case.parties if officer else [party] if party else []
    form.party_id.choices = [SelectChoice(p.id, labels.party_role_label(p.role)) for p in parties]
    return form


def _objection_form(proc: Procedure) -> ObjectionForm:
    form = ObjectionForm()
    form.submission_id.choices = [SelectChoice(0, _("The result as a whole"))] + [
        SelectChoice(s.id, s.agency.name) for s in proc.submissions if s.agency_id and s.submitted_at]
    return form


# --- what the procedure page shows ------------------------------------------------------------


def _next_deadline(proc: Procedure) -> tuple[str, datetime] | None:
    """The next moment the procedure waits for, with what happens then."""
    state = proc.state
    if state in (ProcedureState.NEGOTIATION, ProcedureState.DIRECTED_INQUIRY, *INQUIRING) and proc.step_due_at:
        return _("Deadline"), proc.step_due_at
    if state == ProcedureState.AGENCY_SELECTION:
        d = next((d for d in proc.draws if d.status == "scheduled"), None)
        return (_("The draw takes place at"), d.scheduled_at) if d else None
    if state == ProcedureState.COMMISSIONED:
        for c in reversed(proc.commissions):
            if c.state == "offered":
                return _("The agency must accept or decline by"), c.answer_due_at
            if c.state == "accepted":
                return _("The report is due by"), c.report_due_at
            corrections = [v for v in c.valuations if v.status == "correction"]
            if c.state == "reported" and corrections:
                return _("The correction is due by"), corrections[-1].correction_due_at
    if state in (ProcedureState.SERVED, ProcedureState.OBJECTION):
        close = services.objections_close_at(proc)
        return (_("Objections close at"), close) if close else None
    if state == ProcedureState.PAUSED:
        return _("Paused since"), proc.paused_at
    return None


def _actor_names(case: Case, actors: set[str]) -> dict[str, str]:
    """Who acted, by role (parties by their role in the case, agencies by name)."""
    ids = {int(a[5:]) for a in actors if a.startswith("user:") and a[5:].isdigit()}
    users = {u.id: u for u in db_session().scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    agencies = {a.user_id: a.name for a in db_session().scalars(select(Agency).where(Agency.user_id.in_(ids)))} \
        if ids else {}
    party_roles = {p.user_id: p.role for p in case.parties if p.user_id}
    names = {}
    for actor in actors:
        uid = int(actor[5:]) if actor.startswith("user:") and actor[5:].isdigit() else None
        if uid in party_roles:
            names[actor] = labels.party_role_label(party_roles[uid])
        elif uid in agencies:
            names[actor] = agencies[uid]
        elif uid in users:
            names[actor] = role_label(users[uid].role)
        else:
            names[actor] = _("Platform")
    return names


def _timeline(proc: Procedure, *, details: bool) -> list[dict]:
    """The procedure's entries of the case's audit stream, in order."""
    entries = db_session().scalars(select(AuditEntry).where(
        AuditEntry.stream == f"case:{proc.asset.case_id}", AuditEntry.subject == f"procedure:{proc.id}",
    ).order_by(AuditEntry.seq)).all()
    names = _actor_names(proc.asset.case, {e.actor for e in entries})
    return [{"at": e.at, "who": names[e.actor], "what": labels.action_label(e.action),
             "detail": labels.action_detail(e.action, json.loads(e.payload or "{}")) if details else ""}
            for e in entries]


@bp.route("/assets/<int:asset_id>/open", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def open_procedure(asset_id: int):
    """Start the reference-price procedure of an asset with one of the four methods (E02).

    :raise 404: unknown asset, or another court's; :raise 403: not an officer of the court
    """
    asset = db_session().get(Asset, asset_id)
    if asset is None:
        abort(404)
    _load_case(asset.case_id, edit=True)
    form = _method_form()
    if form.validate_on_submit():
        proc = _call(services.open_procedure, asset_id=asset.id, method=Method(form.method.data),
                     deadline_days=form.deadline_days.data, institution_id=form.institution_id.data or None)
        if proc is not None:
            flash(_("Reference-price procedure opened: %(method)s.", method=labels.method_label(proc.method)),
                  "success")
            return redirect(url_for("appraisal.procedure", procedure_id=proc.id))
    elif request.method == "POST":
        flash(_("Please correct the marked fields."), "error")
    running = db_session().scalar(select(Procedure).where(
        Procedure.asset_id == asset.id, Procedure.state.in_([s.value for s in rules.OPEN_STATES])))
    return render_template("appraisal/procedure_open.html", asset=asset, case=asset.case, form=form,
                           running=running, labels=labels, methods=[m.value for m in Method])


@bp.get("/cases/<int:case_id>")
@roles_required(*CASE_VIEWERS)
def case_procedures(case_id: int):
    """Every reference-price procedure of a case's assets, newest first per asset.

    :raise 404: unknown case or not visible to this user
    """
    case = _load_case(case_id)
    procs = db_session().scalars(select(Procedure).join(Asset).where(Asset.case_id == case.id)
                                 .order_by(Procedure.id.desc())).all()
    by_asset: dict[int, list[Procedure]] = {}
    for p in procs:
        by_asset.setdefault(p.asset_id, []).append(p)
    return render_template("appraisal/procedure_list.html", case=case, by_asset=by_asset, labels=labels,
                           editable=case_services.can_edit_case(current_user, case),
                           open_states={s.value for s in rules.OPEN_STATES})


@bp.get("/procedures/<int:procedure_id>")
@login_required
def procedure(procedure_id: int):
    """The procedure for everyone who may see it: state and next deadline, timeline, draws,
    commissions, valuations, objections, the parties' figures, inquiry results, the price,
    and the actions this user may take.

    :raise 404: unknown, or not visible to this user
    """
    proc = _load_procedure(procedure_id)
    case = proc.asset.case
    officer = case_services.can_edit_case(current_user, case)
    party = _my_party(case)
    agency_id = _viewer_agency_id()
    t = now()
    staff = current_user.role in STAFF
    close = services.objections_close_at(proc)
    can_object = (party is not None and rules.objection_allowed(proc.method) and close is not None
                  and proc.state in (ProcedureState.SERVED, ProcedureState.OBJECTION) and t < close)
    objections = db_session().scalars(select(Objection).where(Objection.procedure_id == proc.id)
                                      .order_by(Objection.id)).all()
    valuations = [(c, v) for c in proc.commissions for v in c.valuations]
    inquiries = [s for s in proc.submissions if s.agency_id]
    if agency_id is not None:  # an agency sees its own work only
        valuations = [(c, v) for c, v in valuations if c.agency_id == agency_id]
        inquiries = [s for s in inquiries if s.agency_id == agency_id]
        objections = [o for o in objections if o.valuation and o.valuation.commission.agency_id == agency_id]
    final = None
    if proc.state == ProcedureState.FINAL and proc.final_at:
        final = {"selling_by": rules.selling_start_deadline(local_today(proc.final_at), rulebook()),
                 "grace_until": rules.grace_until(proc.valid_until, rulebook()) if proc.valid_until else None}
    successor = None
    if proc.state == ProcedureState.WITHDRAWN:
        successor = db_session().scalar(select(Procedure).where(Procedure.asset_id == proc.asset_id,
                                                                Procedure.id > proc.id).order_by(Procedure.id))
    draw_form = ScheduleDrawForm()
    draw_form.draw_at.data = t + rulebook().days(rulebook().draw_notice_days) + timedelta(hours=1)
    agreed_form = AgreedAgenciesForm()
    for f in (agreed_form.first, agreed_form.second, agreed_form.third):
        f.choices = _agency_choices(proc) if officer else []
    return render_template(
        "appraisal/procedure.html", proc=proc, asset=proc.asset, case=case, labels=labels, now=t,
        officer=officer, party=party, agency_id=agency_id, staff=staff, deadline=_next_deadline(proc),
        fee_form=FeeForm(),
        objections_close=close, can_object=can_object, objections=objections, valuations=valuations,
        inquiries=inquiries, sealed=proc.state in INQUIRING and not staff,
        negotiation=[s for s in proc.submissions if s.party_id], final=final, successor=successor,
        timeline=_timeline(proc, details=agency_id is None), open_states={s.value for s in rules.OPEN_STATES},
        can_negotiate=proc.state == ProcedureState.NEGOTIATION and (officer or party is not None)
        and proc.step_due_at is not None and t <= proc.step_due_at,
        draw_form=draw_form, agreed_form=agreed_form, method_form=_method_form(proc) if officer else None,
        pause_form=ReasonForm(prefix="pause"), withdraw_form=ReasonForm(prefix="withdraw"), button=EmptyForm(),
        decision_form=DecisionForm(), review_form=ReviewValuationForm(),
        decide_forms={o.id: DecideObjectionForm(prefix=f"objection-{o.id}") for o in objections},
        specialty=specialty_for(proc.asset.category),
        negotiation_form=_negotiation_form(proc, party, officer), objection_form=_objection_form(proc),
        # The agencies' own pages live in appraisal.agency_views (linked when present).
        endpoints=current_app.view_functions,
    )


# --- officer actions -----------------------------------------------------------------------------


@bp.post("/procedures/<int:procedure_id>/draws")
@login_required
def schedule_draw(procedure_id: int):
    """Freeze the pool and schedule the public draw, at least a day ahead (decision 14).

    :raise 404, 403:
    """
    proc = _load_procedure(procedure_id, officer=True)
    form = ScheduleDrawForm()
    if not form.validate_on_submit():
        _invalid(form)
        return _back(proc, "agencies")
    d = _call(services.schedule_draw, procedure_id=proc.id, draw_at=form.draw_at.data,
              requested_region=form.requested_region.data or None)
    if d is not None:
        flash(_("Draw scheduled for %(time)s (Beijing time); the parties were notified.",
                time=local_time(d.scheduled_at, "%Y-%m-%d %H:%M")), "success")
    return _back(proc, "agencies")


@bp.post("/commissions/<int:commission_id>/fees/<kind>")
@login_required
def commission_fee(commission_id: int, kind: str):
    """Record the applicant's fee advance (E51/E52: 50 % of the estimated fee) or pay the
    agency its fee (E50) — both through the case-fund ledger.

    :raise 404: unknown commission or kind; :raise 403: not the case's officer
    """
    from appraisal.models import Commission
    from core.money import MoneyError, parse_money

    c = db_session().get(Commission, commission_id)
    if c is None or kind not in ("advance", "fee"):
        abort(404)
    proc = _load_procedure(c.procedure_id, officer=True)
    form = FeeForm()
    if not form.validate_on_submit():
        _invalid(form)
        return _back(proc, "commissions")
    try:
        amount = parse_money(form.amount.data)
    except MoneyError:
        flash(_("The amount is not valid."), "error")
        return _back(proc, "commissions")
    if kind == "advance":
        paid = _call(services.record_fee_advance, commission_id=c.id, estimated_fee=amount)
        if paid is not None:
            flash(_("Advance of %(amount)s recorded in the case funds (E52: half the estimated fee).",
                    amount=f"¥{paid:,.2f}"), "success")
    else:
        paid = _call(services.settle_appraisal_fee, commission_id=c.id, fee=amount)
        if paid is not None:
            flash(_("Fee of %(amount)s paid to the agency from the case funds (E50).", amount=f"¥{paid:,.2f}"),
                  "success")
    return _back(proc, "commissions")


@bp.post("/procedures/<int:procedure_id>/inquiry-fee")
@login_required
def inquiry_fee(procedure_id: int):
    """E49: pay the online-inquiry fee to the platform(s) closest to the final sale price.

    :raise 404, 403:
    """
    from core.money import MoneyError, parse_money

    proc = _load_procedure(procedure_id, officer=True)
    form = FeeForm()
    if not form.validate_on_submit():
        _invalid(form)
        return _back(proc, "price")
    try:
        amount, sale_price = parse_money(form.amount.data), parse_money(request.form.get("sale_price", ""))
    except MoneyError:
        flash(_("The amount is not valid."), "error")
        return _back(proc, "price")
    paid = _call(services.settle_online_inquiry_fee, procedure_id=proc.id, sale_price=sale_price, fee=amount)
    if paid is not None:
        flash(_("Inquiry fee paid to %(n)s platform(s) from the case funds (E49).", n=len(paid)), "success")
    return _back(proc, "price")


@bp.post("/procedures/<int:procedure_id>/agreed")
@login_required
def record_agreed(procedure_id: int):
    """Record the three agencies the parties agreed on, in order (E24). :raise 404, 403:"""
    proc = _load_procedure(procedure_id, officer=True)
    form = AgreedAgenciesForm()
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.record_agreed_agencies, procedure_id=proc.id,
               agency_ids=[form.first.data, form.second.data, form.third.data]) is not None:
        flash(_("The agreed agencies are recorded; the first-ranked agency was offered the commission."), "success")
    return _back(proc, "agencies")


@bp.post("/procedures/<int:procedure_id>/switch")
@login_required
def switch_method(procedure_id: int):
    """After a failed negotiation or directed inquiry, continue with another method.

    :raise 404, 403:
    """
    proc = _load_procedure(procedure_id, officer=True)
    form = _method_form(proc)
    if not form.validate_on_submit():
        _invalid(form)
        return _back(proc, "actions")
    new = _call(services.switch_method, procedure_id=proc.id, method=Method(form.method.data),
                deadline_days=form.deadline_days.data, institution_id=form.institution_id.data or None)
    if new is None:
        return _back(proc, "actions")
    flash(_("The procedure continues with %(method)s.", method=labels.method_label(new.method)), "success")
    return redirect(url_for("appraisal.procedure", procedure_id=new.id))


@bp.post("/procedures/<int:procedure_id>/pause")
@login_required
def pause(procedure_id: int):
    """暂缓/中止: every clock of the procedure stops (E30, E45). :raise 404, 403:"""
    proc = _load_procedure(procedure_id, officer=True)
    form = ReasonForm(prefix="pause")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.pause, procedure_id=proc.id, reason=form.reason.data) is not None:
        flash(_("The procedure is paused; its deadlines are stopped."), "success")
    return _back(proc)


@bp.post("/procedures/<int:procedure_id>/resume")
@login_required
def resume(procedure_id: int):
    """The cause of the pause ended: the clocks run again with the days remaining (E30).

    :raise 404, 403:
    """
    proc = _load_procedure(procedure_id, officer=True)
    form = EmptyForm()
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.resume, procedure_id=proc.id) is not None:
        flash(_("The procedure is resumed; its deadlines were moved by the time paused."), "success")
    return _back(proc)


@bp.post("/procedures/<int:procedure_id>/withdraw")
@login_required
def withdraw(procedure_id: int):
    """撤回 (E46/E47): the procedure ends without a price. :raise 404, 403:"""
    proc = _load_procedure(procedure_id, officer=True)
    form = ReasonForm(prefix="withdraw")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.withdraw, procedure_id=proc.id, reason=form.reason.data) is not None:
        flash(_("The procedure is withdrawn."), "success")
    return _back(proc)


def _objection(objection_id: int) -> tuple[Objection, Procedure]:
    o = db_session().get(Objection, objection_id)
    if o is None:
        abort(404)
    return o, _load_procedure(o.procedure_id, officer=True)


@bp.post("/objections/<int:objection_id>/forward")
@login_required
def forward_objection(objection_id: int):
    """Send a technical objection to the agency for its written answer (E38). :raise 404, 403:"""
    o, proc = _objection(objection_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.forward_objection, objection_id=o.id) is not None:
        flash(_("The objection was forwarded; the agency answers within 5 days."), "success")
    return _back(proc, "objections")


@bp.post("/objections/<int:objection_id>/decide")
@login_required
def decide_objection(objection_id: int):
    """Uphold or dismiss an objection, with reasons and optionally a corrected value.

    :raise 404, 403:
    """
    o, proc = _objection(objection_id)
    form = DecideObjectionForm(prefix=f"objection-{o.id}")
    if not form.validate_on_submit():
        _invalid(form)
        return _back(proc, "objections")
    corrected = None
    if form.corrected_amount.data:
        try:
            corrected = parse_money(form.corrected_amount.data)
        except MoneyError:
            flash(_("The corrected value is not an amount."), "error")
            return _back(proc, "objections")
    decided = _call(services.decide_objection, objection_id=o.id, uphold=form.decision.data == "uphold",
                    note=form.note.data, corrected_amount=corrected)
    if decided is not None:
        flash(_("Objection %(state)s.", state=labels.objection_state_label(decided.state)), "success")
    return _back(proc, "objections")


@bp.post("/extensions/<int:request_id>/decide")
@login_required
def decide_extension(request_id: int):
    """Grant or refuse an agency's request for more time (E31). :raise 404, 403:"""
    e = db_session().get(ExtensionRequest, request_id)
    if e is None:
        abort(404)
    proc = _load_procedure(e.commission.procedure_id, officer=True)
    form = DecisionForm()
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.decide_extension, request_id=e.id, grant=form.decision.data == "grant") is not None:
        flash(_("Extension granted.") if form.decision.data == "grant" else _("Extension refused."), "success")
    return _back(proc, "commissions")


@bp.post("/valuations/<int:valuation_id>/review")
@login_required
def review_valuation(valuation_id: int):
    """Accept a report and serve it on the parties, or ask for a correction (E34, E35).

    :raise 404, 403:
    """
    v = db_session().get(Valuation, valuation_id)
    if v is None:
        abort(404)
    proc = _load_procedure(v.commission.procedure_id, officer=True)
    form = ReviewValuationForm()
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.review_valuation, valuation_id=v.id, accept=form.decision.data == "accept",
               note=form.note.data or "") is not None:
        flash(_("The report is served on the parties; the objection period runs.") if form.decision.data == "accept"
              else _("The agency was asked to explain or correct the report."), "success")
    return _back(proc, "valuations")


# --- party actions ---------------------------------------------------------------------------------


@bp.post("/procedures/<int:procedure_id>/negotiation")
@login_required
def negotiate(procedure_id: int):
    """A party's figure in the negotiation, entered by the party or by the officer from its
    written submission (E04). :raise 404, 403:"""
    proc = _load_procedure(procedure_id)
    officer = case_services.can_edit_case(current_user, proc.asset.case)
    party = _my_party(proc.asset.case)
    if not officer and party is None:
        abort(403)
    form = _negotiation_form(proc, party, officer)
    if not form.validate_on_submit():
        _invalid(form)
        return _back(proc, "negotiation")
    try:
        amount = parse_money(form.amount.data)
    except MoneyError:
        flash(_("The figure is not an amount."), "error")
        return _back(proc, "negotiation")
    done = _call(services.submit_negotiated_price, procedure_id=proc.id, party_id=form.party_id.data, amount=amount)
    if done is not None:
        flash(_("The reference price is fixed: both parties gave the same figure.") if done.state == ProcedureState.FINAL
              else _("The figure is recorded."), "success")
    return _back(proc, "negotiation")


@bp.post("/procedures/<int:procedure_id>/objections")
@login_required
def file_objection(procedure_id: int):
    """A party objects to the served result within 5 days (E37/E38). :raise 404, 403:"""
    proc, _party = _load_party_procedure(procedure_id)
    form = _objection_form(proc)
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.file_objection, procedure_id=proc.id, kind=ObjectionKind(form.kind.data),
               grounds=form.grounds.data, submission_id=form.submission_id.data or None) is not None:
        flash(_("Your objection is filed; the court will decide it."), "success")
    return _back(proc, "objections")


@bp.get("/reports/<sha256>")
@login_required
def report(sha256: str):
    """A report PDF, for those who may view its procedure (an agency: its own reports only;
    online results stay sealed from parties until the inquiry closes). :raise 404:"""
    try:
        sha256 = check_sha256(sha256)
    except MalformedHash:
        abort(404)
    session, agency_id = db_session(), _viewer_agency_id()
    owners = [(v.commission.procedure, v.commission.agency_id)
              for v in session.scalars(select(Valuation).where(Valuation.report_sha256 == sha256))]
    owners += [(s.procedure, s.agency_id)
               for s in session.scalars(select(PriceSubmission).where(PriceSubmission.report_sha256 == sha256))]
    for proc, owner in owners:
        if not services.can_view_procedure(current_user, proc, session):
            continue
        if agency_id is not None and owner != agency_id:
            continue
        if agency_id is None and proc.state in INQUIRING and current_user.role not in STAFF:
            continue
        store = file_store(current_app)
        if not store.exists(sha256):
            abort(404)
        response = send_file(store.path(sha256), mimetype="application/pdf",
                             download_name=f"report-{sha256[:12]}.pdf", max_age=0)
        response.cache_control.private = True  # behind a login: never in a shared cache
        return response
    abort(404)


# --- the public draw -----------------------------------------------------------------------------


@bp.get("/draws/<int:draw_id>")
def draw(draw_id: int):
    """The public record of a draw: pool, exclusions and their reasons, the seed commitment,
    the parties' contributions, and, once drawn, the seed and the ranking. A party of the case
    commits and reveals its own randomness here before the draw time. :raise 404:"""
    d = _load_draw(draw_id)
    case = d.procedure.asset.case
    party = _my_party(case)
    t = now()
    names = {a["id"]: a for a in d.pool}
    document = db_session().scalar(select(Document).where(Document.reference == f"摇号-{d.id}",
                                                          Document.public.is_(True)).order_by(Document.id))
    return render_template(
        "appraisal/draw.html", d=d, proc=d.procedure, asset=d.procedure.asset, case=case, labels=labels, now=t,
        party=party, sees_procedure=current_user.is_authenticated
        and services.can_view_procedure(current_user, d.procedure, db_session()), mine=next((c for c in d.contributions if party and c.party_id == party.id), None),
        contributing=d.status == "scheduled" and t < d.scheduled_at,
        seconds_left=max(0, int((d.scheduled_at - t).total_seconds())) if d.status == "scheduled" else 0,
        ranking=[(i, names.get(a, {"id": a, "name": "?", "licence": ""})) for i, a in enumerate(d.ranking or [], 1)],
        document=document, commit_form=CommitForm(), secret_form=SecretCommitForm(), reveal_form=RevealForm(),
    )


@bp.get("/draws/<int:draw_id>.json")
def draw_json(draw_id: int):
    """The draw record as JSON (UTF-8), what ``python -m appraisal.verify record.json`` checks.

    :raise 404:
    """
    d = _load_draw(draw_id)
    body = json.dumps(services.draw_record(d), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return current_app.response_class(body, mimetype="application/json", headers={
        "Content-Disposition": f'inline; filename="draw-{d.id}.json"', "Cache-Control": "no-cache"})


def _draw_back(d: Draw):
    return redirect(url_for("appraisal.draw", draw_id=d.id) + "#contribute")


def _load_party_draw(draw_id: int) -> Draw:
    """:raise 404: unknown draw; :raise 403: the user is not a party of its case."""
    d = _load_draw(draw_id)
    if _my_party(d.procedure.asset.case) is None:
        abort(403)
    return d


@bp.post("/draws/<int:draw_id>/commit")
@login_required
def commit(draw_id: int):
    """A party commits to a secret it keeps: the commitment was computed in its browser (or by
    hand), so the secret never reaches the server before the reveal. :raise 404, 403:"""
    d = _load_party_draw(draw_id)
    form = CommitForm()
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.commit_contribution, draw_id=d.id, commitment=form.commitment.data.lower()) is not None:
        flash(_("Your commitment is recorded. Reveal your secret before the draw time, or it will not count."),
              "success")
    return _draw_back(d)


@bp.post("/draws/<int:draw_id>/commit-secret")
@login_required
def commit_secret(draw_id: int):
    """Without JavaScript: the party sends a secret of its own choosing, the server computes
    its commitment (as the browser would) and shows the secret once; it is not stored until
    the party reveals it. The platform's seed is already committed, so a server that learns
    the secret early still cannot change the outcome. :raise 404, 403:"""
    d = _load_party_draw(draw_id)
    form = SecretCommitForm()
    if not form.validate_on_submit():
        _invalid(form)
        return _draw_back(d)
    commitment = protocol.contribution_commitment(d.id, form.secret.data)
    if _call(services.commit_contribution, draw_id=d.id, commitment=commitment) is not None:
        flash(_("Your commitment %(commitment)s is recorded. Keep your secret exactly as written: «%(secret)s». "
                "You must reveal it before the draw time, or it will not count. It is shown only this once.",
                commitment=commitment, secret=form.secret.data), "warning")
    return _draw_back(d)


@bp.post("/draws/<int:draw_id>/reveal")
@login_required
def reveal(draw_id: int):
    """A party reveals its secret before the draw time; it must match its commitment.

    :raise 404, 403:
    """
    d = _load_party_draw(draw_id)
    form = RevealForm()
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.reveal_contribution, draw_id=d.id, secret=form.secret.data) is not None:
        flash(_("Your secret is revealed; it will be mixed into the draw."), "success")
    return _draw_back(d)


# The agencies' and supervisors' pages register their routes on ``bp`` (a separate file, by
# concept); imported last because they import ``bp`` from here.
if importlib.util.find_spec("appraisal.agency_views") is not None:
    from appraisal import agency_views  # noqa: E402,F401
