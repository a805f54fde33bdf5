"""Agency-side pages and the supervisor's agency pages, on the ``appraisal`` blueprint.

==================================================  ==================================================
``/appraisal/agencies/register``                    an agency, platform or institution registers (public)
``/appraisal/agency``                               the agency's own dashboard (role agency)
``/appraisal/agency/appraisers``                    add an appraiser (POST)
``/appraisal/agency/conflicts``                     declare a relationship, decision 15 (POST)
``/appraisal/commissions/<id>``                     the commission: letter, facts, deadlines, answers
``/appraisal/commissions/<id>/letter``              the commission letter (PDF)
``/appraisal/commissions/<id>/answer``              accept, or decline with a published reason (POST)
``/appraisal/commissions/<id>/extension``           ask for more time, E31 (POST)
``/appraisal/commissions/<id>/valuation``           submit or resubmit the report (POST, multipart)
``/appraisal/commissions/<id>/reports/<vid>``       the agency's own submitted report (PDF)
``/appraisal/objections/<id>/answer``               written explanation of a forwarded objection (POST)
``/appraisal/inquiries/<procedure_id>``             an inquiry put to a platform or institution
``/appraisal/inquiries/<procedure_id>/result``      submit the result (POST, multipart)
``/appraisal/inquiries/<procedure_id>/extension``   ask for more time, online only, E11 (POST)
``/appraisal/agencies``                             supervisor/admin: every agency, pending first
``/appraisal/agencies/<id>``                        the public page of an agency
``/appraisal/agencies/<id>/decide``                 supervisor/admin: approve, suspend, reinstate, remove (POST)
==================================================  ==================================================

Agencies only ever see their own commissions and inquiries: anything else is a 404.
"""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import case as sql_case
from sqlalchemy import func, select

from accounts.access import roles_required
from accounts.models import Role
from appraisal import agencies, labels, services
from appraisal.agency_forms import (
    AgencyRegistrationForm, AnswerForm, AppraiserForm, ButtonForm, ConflictForm, DecideForm, ExtensionForm,
    InquiryResultForm, ObjectionAnswerForm, ValuationForm, split_codes,
)
from appraisal.context import context_for
from appraisal.models import Agency, Commission, Objection, PriceSubmission, Valuation
from appraisal.rules import AgencyKind, AgencyStatus, CommissionState, ObjectionState, ProcedureState
from appraisal.views import bp
from cases.rules import PROVINCES
from core.files import file_store
from core.i18n import beijing_time, translate_error
from core.models import Document
from core.money import MoneyError, parse_money
from core.text import DomainError
from core.web import db_session, now

SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
#: Commissions the agency still has to act on (listed first on its dashboard).
OPEN_COMMISSIONS = (CommissionState.OFFERED, CommissionState.ACCEPTED, CommissionState.REPORTED)
#: Procedure states in which an inquiry may still be answered.
OPEN_INQUIRIES = (ProcedureState.DIRECTED_INQUIRY, ProcedureState.ONLINE_INQUIRY, ProcedureState.ONLINE_EXTENDED)


# --- helpers: access, refusals, labels ---------------------------------------------------------


def _region_label(code: str) -> str:
    """``340000 安徽省（省级子库）`` or ``340200 安徽省·市级子库``: the level of a 子库 matters (E21)."""
    code = str(code)
    province = PROVINCES.get(code[:2], "")
    if code.endswith("0000"):
        return f"{code} {province}（{_('province list')}）"
    return f"{code} {province}（{_('city list')}）"


def _refused(exc: DomainError) -> None:
    db_session().rollback()
    flash(translate_error(exc), "error")


def _invalid(form, summary: str) -> None:
    """Flash what is wrong with a posted form (each field's error, else ``summary``)."""
    errors = [f"{f.label.text}{_(': ')}{e}" if f.label.text else str(e) for f in form for e in f.errors]
    for message in errors or [summary]:
        flash(message, "error")


def _ctx():
    return context_for(current_app, db_session(), now())


def _my_agency() -> Agency:
    """:raise 404: a login with the agency role but no agency behind it."""
    try:
        return agencies.agency_of(db_session(), current_user)
    except DomainError:
        abort(404)


def _my_commission(commission_id: int) -> Commission:
    """:raise 404: unknown, or another agency's commission (never revealed)."""
    c = db_session().get(Commission, commission_id)
    if c is None or c.agency_id != _my_agency().id:
        abort(404)
    return c


def _my_inquiry(procedure_id: int) -> PriceSubmission:
    """The agency's place in an inquiry. :raise 404: unknown, or not asked."""
    sub = db_session().scalar(select(PriceSubmission).where(PriceSubmission.procedure_id == procedure_id,
                                                            PriceSubmission.agency_id == _my_agency().id))
    if sub is None:
        abort(404)
    return sub


def _load_agency(agency_id: int) -> Agency:
    agency = db_session().get(Agency, agency_id)
    if agency is None:
        abort(404)
    return agency


def _send_pdf(sha256: str | None, name: str):
    store = file_store(current_app)
    if not sha256 or not store.exists(sha256):
        abort(404)
    return send_file(store.path(sha256), mimetype="application/pdf", download_name=name, max_age=0)


def _label(table: dict, value) -> str:
    return table.get(str(value), str(value))


@bp.context_processor
def _agency_labels():
    """Names of agency concepts in the user's language; commission, valuation and objection
    states come from :mod:`appraisal.labels`, shared with the procedure pages."""
    return {
        "labels": labels,
        "agency_status_label": lambda s: _label({
            "pending": _("Pending review"), "listed": _("On the list"), "suspended": _("Suspended from the list"),
            "removed": _("Removed from the list")}, s),
        "agency_kind_label": lambda k: _label({
            "appraisal": _("Appraisal agency"), "online_platform": _("Online inquiry platform"),
            "directed_institution": _("Directed-inquiry institution")}, k),
        "agency_decision_label": lambda a: _label({
            "approved": _("Approved: put on the list"), "suspended": _("Suspended from the list"),
            "reinstated": _("Reinstated on the list"), "removed": _("Removed from the list")}, a),
        "region_label": _region_label,
    }


# --- registration and the agency's dashboard ---------------------------------------------------


@bp.route("/agencies/register", methods=["GET", "POST"])
def agency_register():
    """Public registration of an appraisal agency, online platform or directed-inquiry
    institution; it waits for a supervisor's approval (never drawn or asked before)."""
    if current_user.is_authenticated:
        return redirect(url_for("appraisal.agency_dashboard" if current_user.role == Role.AGENCY else "core.home"))
    form = AgencyRegistrationForm()
    if form.validate_on_submit():
        reg = agencies.AgencyRegistration(
            username=form.username.data, password=form.password.data, email=form.email.data,
            phone=form.phone.data.strip(), name=form.name.data, licence_number=form.licence_number.data,
            kind=AgencyKind(form.kind.data), specialties=form.specialties.data,
            regions=split_codes(form.regions.data), appraisers=form.appraiser_pairs(),
            address=form.address.data or "")
        try:
            agency = agencies.register_agency(db_session(), reg, now=now())
        except DomainError as exc:
            _refused(exc)
            return render_template("appraisal/agency_register.html", form=form)
        login_user(agency.user)
        flash(_("Registration received. A supervisor reviews it before your agency is listed."), "success")
        return redirect(url_for("appraisal.agency_dashboard"))
    if request.method == "POST":
        flash(_("Please correct the marked fields."), "error")
    return render_template("appraisal/agency_register.html", form=form)


@bp.get("/agency")
@roles_required(Role.AGENCY)
def agency_dashboard():
    """The agency's own page: status and decisions, appraisers, declared conflicts, scorecard,
    and its commissions and inquiries (only its own). :raise 404: no agency behind the login"""
    return _dashboard(_my_agency())


def _dashboard(agency: Agency, *, appraiser_form=None, conflict_form=None):
    session = db_session()
    commissions = session.scalars(select(Commission).where(Commission.agency_id == agency.id)
                                  .order_by(Commission.id.desc())).all()
    inquiries = session.scalars(select(PriceSubmission).where(PriceSubmission.agency_id == agency.id)
                                .order_by(PriceSubmission.id.desc())).all()
    waiting = session.scalars(select(Objection).join(Valuation, Objection.valuation_id == Valuation.id)
                              .join(Commission).where(Commission.agency_id == agency.id,
                                                      Objection.state == ObjectionState.FORWARDED)
                              .order_by(Objection.answer_due_at)).all()
    return render_template(
        "appraisal/agency_dashboard.html", agency=agency, score=agencies.scorecard(session, agency.id),
        open_commissions=[c for c in commissions if c.state in OPEN_COMMISSIONS],
        past_commissions=[c for c in commissions if c.state not in OPEN_COMMISSIONS],
        inquiries=inquiries, open_inquiry_states=OPEN_INQUIRIES, waiting_objections=waiting,
        appraiser_form=appraiser_form or AppraiserForm(), conflict_form=conflict_form or ConflictForm())


@bp.post("/agency/appraisers")
@roles_required(Role.AGENCY)
def agency_add_appraiser():
    """Register one more qualified appraiser with the agency (E34, E55)."""
    agency = _my_agency()
    form = AppraiserForm()
    if not form.validate_on_submit():
        _invalid(form, _("Give the appraiser's name and licence number."))
        return _dashboard(agency, appraiser_form=form)
    try:
        a = agencies.add_appraiser(db_session(), actor=current_user, name=form.name.data,
                                   licence_number=form.licence_number.data, now=now())
    except DomainError as exc:
        _refused(exc)
        return _dashboard(agency, appraiser_form=form)
    flash(_("Appraiser %(name)s added.", name=a.name), "success")
    return redirect(url_for("appraisal.agency_dashboard") + "#appraisers")


@bp.post("/agency/conflicts")
@roles_required(Role.AGENCY)
def agency_declare_conflict():
    """Declare a relationship with a person or enterprise (decision 15): the agency is then
    left out of draws where that person is a party."""
    agency = _my_agency()
    form = ConflictForm()
    if not form.validate_on_submit():
        _invalid(form, _("Give the ID number or credit code and the relationship."))
        return _dashboard(agency, conflict_form=form)
    try:
        agencies.declare_conflict(db_session(), actor=current_user, kind=form.kind.data,
                                  id_number=form.id_number.data, description=form.description.data,
                                  vault=current_app.extensions["identity_vault"], now=now())
    except DomainError as exc:
        _refused(exc)
        return _dashboard(agency, conflict_form=form)
    flash(_("Relationship declared: your agency will not be drawn where this person is a party."), "success")
    return redirect(url_for("appraisal.agency_dashboard") + "#conflicts")


# --- a commission ------------------------------------------------------------------------------


@bp.get("/commissions/<int:commission_id>")
@roles_required(Role.AGENCY)
def commission_page(commission_id: int):
    """The commission as the agency sees it: the letter, the asset's facts, the deadlines, and
    what it can do now. :raise 404: unknown or another agency's commission"""
    return _commission(_my_commission(commission_id))


def _signers(form: ValuationForm, c: Commission) -> ValuationForm:
    """The signing-appraiser checkboxes: the agency's active appraisers."""
    form.appraiser_ids.choices = [(a.id, f"{a.name}（{a.licence_number}）") for a in c.agency.appraisers if a.active]
    return form


def _commission(c: Commission, *, valuation_form: ValuationForm | None = None):
    correction = next((v for v in reversed(c.valuations) if v.status == "correction"), None)
    letter = db_session().scalar(select(Document).where(Document.sha256 == c.letter_sha256)) \
        if c.letter_sha256 else None
    objections = [o for v in c.valuations for o in v.objections if o.forwarded_at is not None]
    return render_template(
        "appraisal/commission.html", c=c, proc=c.procedure, asset=c.procedure.asset, letter=letter,
        correction=correction, objections=objections,
        appraisers={a.id: a for a in c.agency.appraisers},
        can_submit=c.state == CommissionState.ACCEPTED or (c.state == CommissionState.REPORTED and bool(correction)),
        can_extend=c.state == CommissionState.ACCEPTED and not any(e.decision == "pending" for e in c.extensions),
        answer_form=AnswerForm(), extension_form=ExtensionForm(),
        valuation_form=_signers(valuation_form or ValuationForm(), c),
        objection_form=ObjectionAnswerForm())


@bp.get("/commissions/<int:commission_id>/letter")
@roles_required(Role.AGENCY)
def commission_letter(commission_id: int):
    """The commission letter (评估委托书, E27) as issued. :raise 404:"""
    c = _my_commission(commission_id)
    doc = db_session().scalar(select(Document).where(Document.sha256 == c.letter_sha256)) if c.letter_sha256 else None
    if doc is None:
        abort(404)
    return _send_pdf(doc.sha256, f"commission-letter-{c.id}.pdf")


@bp.get("/commissions/<int:commission_id>/reports/<int:valuation_id>")
@roles_required(Role.AGENCY)
def commission_report(commission_id: int, valuation_id: int):
    """A report the agency submitted for this commission. :raise 404:"""
    c = _my_commission(commission_id)
    v = db_session().get(Valuation, valuation_id)
    if v is None or v.commission_id != c.id:
        abort(404)
    return _send_pdf(v.report_sha256, f"report-{c.id}-{v.id}.pdf")


@bp.post("/commissions/<int:commission_id>/answer")
@roles_required(Role.AGENCY)
def commission_answer(commission_id: int):
    """Accept the commission, or decline it with a reason that is published (decision 14)."""
    c = _my_commission(commission_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        _invalid(form, _("Choose to accept or to decline."))
    else:
        try:
            services.answer_commission(db_session(), actor=current_user, commission_id=c.id,
                                       accept=form.decision.data == "accept", reason=form.reason.data or "",
                                       ctx=_ctx())
        except DomainError as exc:
            _refused(exc)
        else:
            if c.state == CommissionState.ACCEPTED:
                flash(_("Commission accepted. The report is due by %(due)s (Beijing time).",
                        due=beijing_time(c.report_due_at)), "success")
            else:
                flash(_("Commission declined. Your reason is published; the next-ranked agency is asked."), "info")
    return redirect(url_for("appraisal.commission_page", commission_id=c.id))


@bp.post("/commissions/<int:commission_id>/extension")
@roles_required(Role.AGENCY)
def commission_extension(commission_id: int):
    """A written request for more time, at least 5 days before the deadline (E31)."""
    c = _my_commission(commission_id)
    form = ExtensionForm()
    if not form.validate_on_submit():
        _invalid(form, _("Give the number of extra days (a whole number) and the reason."))
    else:
        try:
            services.request_extension(db_session(), actor=current_user, commission_id=c.id,
                                       days=form.days.data, reason=form.reason.data, ctx=_ctx())
        except DomainError as exc:
            _refused(exc)
        else:
            flash(_("Extension request sent to the court."), "success")
    return redirect(url_for("appraisal.commission_page", commission_id=c.id) + "#extension")


@bp.post("/commissions/<int:commission_id>/valuation")
@roles_required(Role.AGENCY)
def commission_valuation(commission_id: int):
    """Submit the report: value, valuation date, validity, two signing appraisers and the PDF
    (E28, E34, E43, E55); also the corrected report after the court asked for one."""
    c = _my_commission(commission_id)
    form = _signers(ValuationForm(), c)
    if not form.validate_on_submit():
        _invalid(form, _("Please correct the marked fields of the report."))
        return _commission(c, valuation_form=form)
    try:
        amount = parse_money(form.amount.data)
    except MoneyError:
        flash(_("The appraised value is not an amount."), "error")
        return _commission(c, valuation_form=form)
    try:
        services.submit_valuation(db_session(), actor=current_user, commission_id=c.id, amount=amount,
                                  effective_on=form.effective_on.data, valid_until=form.valid_until.data,
                                  appraiser_ids=form.appraiser_ids.data or [], report=form.report.data.read(),
                                  ctx=_ctx())
    except DomainError as exc:
        _refused(exc)
        return _commission(c, valuation_form=form)
    flash(_("Report submitted. The court reviews it."), "success")
    return redirect(url_for("appraisal.commission_page", commission_id=c.id))


@bp.post("/objections/<int:objection_id>/answer")
@roles_required(Role.AGENCY)
def objection_answer(objection_id: int):
    """The agency's written explanation of an objection the court forwarded (E38).
    :raise 404: unknown, or an objection to another agency's report"""
    o = db_session().get(Objection, objection_id)
    if o is None or o.valuation is None or o.forwarded_at is None:
        abort(404)
    c = _my_commission(o.valuation.commission_id)
    form = ObjectionAnswerForm()
    if not form.validate_on_submit():
        _invalid(form, _("Write the explanation."))
    else:
        try:
            services.answer_objection(db_session(), actor=current_user, objection_id=o.id, answer=form.answer.data,
                                      ctx=_ctx())
        except DomainError as exc:
            _refused(exc)
        else:
            flash(_("Your explanation was sent to the court."), "success")
    return redirect(url_for("appraisal.commission_page", commission_id=c.id) + "#objections")


# --- inquiries (online platforms, directed-inquiry institutions) -------------------------------


@bp.get("/inquiries/<int:procedure_id>")
@roles_required(Role.AGENCY)
def inquiry_page(procedure_id: int):
    """An inquiry put to this platform or institution (E06, E10, E11). :raise 404: not asked"""
    return _inquiry(_my_inquiry(procedure_id))


def _inquiry(sub: PriceSubmission, *, result_form: InquiryResultForm | None = None):
    proc = sub.procedure
    waiting = sub.submitted_at is None and proc.state in OPEN_INQUIRIES
    return render_template(
        "appraisal/agency_inquiry.html", sub=sub, proc=proc, asset=proc.asset, waiting=waiting,
        can_extend=waiting and proc.state == ProcedureState.ONLINE_INQUIRY and sub.extension_requested_at is None,
        result_form=result_form or InquiryResultForm(), button=ButtonForm())


@bp.post("/inquiries/<int:procedure_id>/result")
@roles_required(Role.AGENCY)
def inquiry_result(procedure_id: int):
    """Submit the inquiry result, with its report as an optional PDF."""
    sub = _my_inquiry(procedure_id)
    form = InquiryResultForm()
    if not form.validate_on_submit():
        _invalid(form, _("Give the result as an amount."))
        return _inquiry(sub, result_form=form)
    try:
        amount = parse_money(form.amount.data)
    except MoneyError:
        flash(_("The result is not an amount."), "error")
        return _inquiry(sub, result_form=form)
    upload = form.report.data
    report = upload.read() if upload and getattr(upload, "filename", "") else None
    try:
        services.submit_inquiry_result(db_session(), actor=current_user, procedure_id=sub.procedure_id,
                                       amount=amount, report=report, ctx=_ctx())
    except DomainError as exc:
        _refused(exc)
        return _inquiry(sub, result_form=form)
    flash(_("Result submitted."), "success")
    return redirect(url_for("appraisal.inquiry_page", procedure_id=sub.procedure_id))


@bp.post("/inquiries/<int:procedure_id>/extension")
@roles_required(Role.AGENCY)
def inquiry_extension(procedure_id: int):
    """An online platform asks for more time, before the 3-day deadline (E11)."""
    sub = _my_inquiry(procedure_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        services.request_online_extension(db_session(), actor=current_user, procedure_id=sub.procedure_id,
                                          ctx=_ctx())
    except DomainError as exc:
        _refused(exc)
    else:
        flash(_("Extension requested. If no platform answers in time, those that asked get 3 more days (E11)."),
              "success")
    return redirect(url_for("appraisal.inquiry_page", procedure_id=sub.procedure_id))


# --- the supervisor's list and the public page -------------------------------------------------


@bp.get("/agencies")
@roles_required(*SUPERVISORS)
def agency_list():
    """Every agency, platform and institution, pending ones first; filter by status and kind."""
    status, kind = request.args.get("status", ""), request.args.get("kind", "")
    q = select(Agency)
    if status in {s.value for s in AgencyStatus}:
        q = q.where(Agency.status == status)
    if kind in {k.value for k in AgencyKind}:
        q = q.where(Agency.kind == kind)
    rows = db_session().scalars(q.order_by(sql_case((Agency.status == AgencyStatus.PENDING, 0), else_=1),
                                           Agency.created_at.desc(), Agency.id.desc())).all()
    counts = dict(db_session().execute(select(Agency.status, func.count()).group_by(Agency.status)).all())
    return render_template("appraisal/agency_list.html", agencies=rows, status=status, kind=kind, counts=counts,
                           statuses=list(AgencyStatus), kinds=list(AgencyKind))


@bp.get("/agencies/<int:agency_id>")
def agency_public(agency_id: int):
    """The public page of an agency: who it is, its lists, its status and every decision with
    its reason, its appraisers, its record, and the reasons of the commissions it declined.
    :raise 404: unknown agency"""
    agency = _load_agency(agency_id)
    declined = db_session().scalars(select(Commission).where(Commission.agency_id == agency.id,
                                                             Commission.state == CommissionState.DECLINED,
                                                             Commission.answered_at.is_not(None))
                                    .order_by(Commission.answered_at.desc())).all()
    supervisor = current_user.is_authenticated and current_user.role in SUPERVISORS
    return render_template("appraisal/agency_public.html", agency=agency, declined=declined,
                           score=agencies.scorecard(db_session(), agency.id),
                           decide_form=DecideForm() if supervisor else None)


@bp.post("/agencies/<int:agency_id>/decide")
@roles_required(*SUPERVISORS)
def agency_decide(agency_id: int):
    """A supervisor's decision on an agency, with its published reason (E17, E23)."""
    agency = _load_agency(agency_id)
    form = DecideForm()
    if not form.validate_on_submit():
        _invalid(form, _("Choose a decision and give its reason; the reason is published."))
    else:
        try:
            agencies.decide(db_session(), actor=current_user, agency_id=agency.id, action=form.action.data,
                            reason=form.reason.data, now=now(), rulebook=current_app.extensions["rulebook"])
        except DomainError as exc:
            _refused(exc)
        else:
            flash(_("Decision recorded and published."), "success")
    return redirect(url_for("appraisal.agency_public", agency_id=agency.id))
