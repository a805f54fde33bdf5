"""Pages of the ``auction`` package: the officers' lots and rounds, and the public lot pages.

================================================  =============================================
``/auction/``                                     staff: lots by state, late steps on top
``/auction/assets/<id>/lot/new``                  officer: a lot from priced assets (B03, A45)
``/auction/lots/<id>/manage``                     staff: rounds, checklist, notices, decisions
``/auction/lots/<id>/holders``                    officer: confirm a priority holder (POST, A25)
``/auction/lots/<id>/relist``                     officer: 二拍 or resale (POST, A43, decision 6)
``/auction/lots/<id>/variation``                  officer: 变卖 after the 2nd 流拍 (POST, C01)
``/auction/lots/<id>/documents/<sha256>``         staff: a document of the lot (the ruling)
``/auction/rounds/<id>/terms``                    officer: change the terms (POST)
``/auction/rounds/<id>/notices``                  officer: record a notice (POST, A15–A17)
``/auction/rounds/<id>/publish``                  officer: publish the announcement (POST)
``/auction/rounds/<id>/pause``                    officer: 暂缓 / 中止 (POST, A46)
``/auction/rounds/<id>/cause-ended``              officer: the cause ended (POST, A49)
``/auction/rounds/<id>/resume``                   officer (POST, decision 8)
``/auction/rounds/<id>/withdraw``                 officer: 撤回 (POST, B05/B06)
``/auction/rounds/<id>/annul``                    officer: 撤销 (POST, A52)
``/auction/rounds/<id>/balance``                  officer: balance received (POST, A39)
``/auction/rounds/<id>/qualification``            officer: housing check (POST, D01)
``/auction/rounds/<id>/ruling``                   officer: issue the ruling (POST, A35, B07)
``/auction/rounds/<id>/handover``                 officer (POST, B08)
``/auction/rounds/<id>/take-in-payment``          officer: 以物抵债 (POST, B04)
``/auction/rounds/<id>/variation-decision``       officer: after a failed 变卖 (POST)
``/auction/rounds/<id>/emergency``                administrator: 暂缓 on a system failure (POST, A47)
``/auction/lots``                                 PUBLIC: published lots, filter and search
``/auction/lots/<id>``                            PUBLIC: the publication set of a lot (A12, A13)
``/auction/lots/<id>/photos/<sha256>``            PUBLIC: a photo of a published lot
================================================  =============================================

Every handler parses, checks access (unknown or invisible → 404, visible but not allowed →
403), calls one use case of :mod:`auction.services` and flashes its refusal. Nothing here
reads or shows who registered for or bid on a lot (decision 13).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask import session as http_session
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import and_, func, select
from wtforms.fields.choices import SelectChoice

from accounts.access import roles_required
from accounts.models import Role, User
from appraisal.models import Procedure
from appraisal.rules import ProcedureState
from auction import labels, rules, services
from auction.forms import (
    AmountForm, AnnulForm, EmergencyForm, EmptyForm, LotForm, NoteForm, NoticeForm, PauseForm, PriorityHolderForm,
    ResumeForm, TakeInPaymentForm, TermsForm, VariationForm, WithdrawForm, tax_rows,
)
from auction.models import Lot, LotAsset, Round
from auction.rules import NoticeFacts, NoticeMethod, RoundKind, RoundState
from cases import services as case_services
from cases.models import Asset, AssetFile, Case
from cases.rules import AssetStage, PartyRole, is_movable, local_today
from core.context import context_for
from core.files import MalformedHash, check_sha256, file_store
from core.i18n import SHANGHAI, translate_message
from core.models import Document
from core.text import DomainError
from core.web import db_session, now, rulebook

bp = Blueprint("auction", __name__, url_prefix="/auction")

STAFF = (Role.OFFICER, Role.FINANCE, Role.SUPERVISOR)
PER_PAGE = 20
S = RoundState
#: The public listing's filter: a word for the visitor → the round states it covers.
PUBLIC_FILTERS: dict[str, tuple[RoundState, ...]] = {
    "upcoming": (S.ANNOUNCED, S.VARIATION_ANNOUNCED),
    "bidding": (S.BIDDING, S.VARIATION_OPEN, S.VARIATION_BIDDING),
    "paused": (S.SUSPENDED, S.HALTED),
    "sold": (S.SOLD, S.AWAITING_BALANCE, S.PAID, S.RULED, S.HANDED_OVER),
    "unsold": (S.UNSOLD, S.VARIATION_FAILED, S.TAKEN_IN_PAYMENT),
    "ended": (S.WITHDRAWN, S.ANNULLED, S.DEFAULTED),
}
#: The officers' dashboard sections, in the order shown.
DASHBOARD_GROUPS = ("preparation", "announced", "bidding", "paused", "after_sale", "next_step", "closed")
#: The documents of a round, by the reference prefix the services give them.
DOCUMENT_PREFIXES = {"公告": "announcement", "确认": "confirmation", "裁定": "ruling", "流拍": "unsold_record",
                     "竞价": "bid_transcript"}


# --- request plumbing -----------------------------------------------------------------------


def _ctx():
    return context_for(current_app, db_session(), now())


def _refused(exc: DomainError) -> None:
    """Roll back and flash a refusal in the user's words (a round state by its label)."""
    db_session().rollback()
    params = dict(exc.params)
    if "state" in params:
        params["state"] = labels.state_label(params["state"])
    flash(translate_message(exc.message, params), "error")


def _invalid(form) -> None:
    """Flash every validation error of a posted form; nothing was changed."""
    db_session().rollback()
    shown = False
    for field in form:
        for error in field.errors:
            if isinstance(error, str):
                flash(f"{field.label.text}{_(': ')}{error}" if field.label.text else error, "error")
                shown = True
            elif error:  # a row of a tax table
                flash(_("Check the rows of the tax table."), "error")
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


def _back(lot: Lot, anchor: str = ""):
    """Back to the manage page; to its section, unless a refusal was flashed (shown at the top:
    jumping down would hide it)."""
    refused = any(category == "error" for category, _m in http_session.get("_flashes", []))
    return redirect(url_for("auction.manage", lot_id=lot.id) + (f"#{anchor}" if anchor and not refused else ""))


# --- loading with access checks ---------------------------------------------------------------


def _load_lot(lot_id: int, *, officer: bool = False) -> Lot:
    """A lot for the court staff of its case.

    :raise 404: unknown, or not visible to this user (another court's, or not court staff);
    :raise 403: visible, but ``officer`` actions belong to the officers of the case's court
    """
    lot = db_session().get(Lot, lot_id)
    if lot is None or current_user.role not in STAFF or not case_services.can_view_case(current_user, lot.case):
        abort(404)
    if officer and not case_services.can_edit_case(current_user, lot.case):
        abort(403)
    return lot


def _load_round(round_id: int) -> tuple[Round, Lot]:
    """A round for an officer action. :raise 404, 403: as :func:`_load_lot`"""
    rnd = db_session().get(Round, round_id)
    if rnd is None:
        abort(404)
    return rnd, _load_lot(rnd.lot_id, officer=True)


def _load_public_lot(lot_id: int) -> Lot:
    """:raise 404: unknown, or not published and not the viewer's case (``can_view_lot``)."""
    lot = db_session().get(Lot, lot_id)
    if lot is None or not services.can_view_lot(current_user, lot):
        abort(404)
    return lot


# --- what the pages show --------------------------------------------------------------------


def _final_procedures(asset_ids: list[int]) -> dict[int, Procedure]:
    """The latest final reference-price procedure of each asset (E42)."""
    if not asset_ids:
        return {}
    rows = db_session().scalars(select(Procedure).where(Procedure.asset_id.in_(asset_ids),
                                                        Procedure.state == ProcedureState.FINAL)
                                .order_by(Procedure.final_at, Procedure.id))
    return {p.asset_id: p for p in rows}


def _beijing_morning(t: datetime, days: int) -> datetime:
    """10:00 Beijing time ``days`` calendar days after ``t`` (under a compressed demo
    rulebook: ``days`` of its days after ``t``)."""
    book = rulebook()
    if book.day != timedelta(days=1):
        return t + book.days(days)
    day = local_today(t) + timedelta(days=days)
    return datetime.combine(day, time(10, 0), tzinfo=SHANGHAI).astimezone(timezone.utc)


def _round_data(rnd: Round) -> dict:
    """A round's terms as form data (to edit them, or to start the next round from them)."""
    return {"starting_price": rnd.starting_price, "deposit": rnd.deposit, "increment": rnd.increment,
            "start_at": rnd.start_at, "end_at": rnd.end_at, "balance_days": rnd.balance_days,
            "taxes": list(rnd.taxes or []), "inspection": rnd.inspection, "panel_record": rnd.panel_record,
            "court_contact": rnd.court_contact, "title_and_possession": rnd.title_and_possession,
            "defects_statement": rnd.defects_statement, "special_notes": rnd.special_notes}


def _terms(form) -> services.Terms:
    return services.Terms(
        starting_price=form.starting_price.data, deposit=form.deposit.data, increment=form.increment.data,
        start_at=form.start_at.data, end_at=form.end_at.data, balance_days=form.balance_days.data,
        taxes=tax_rows(form), inspection=form.inspection.data or "", panel_record=form.panel_record.data or "",
        court_contact=form.court_contact.data or "", title_and_possession=form.title_and_possession.data or "",
        defects_statement=form.defects_statement.data or "", special_notes=form.special_notes.data or "")


def _next_kind(last: Round) -> RoundKind:
    """The kind of round a relist creates (as :func:`services.relist` decides), for the form's
    defaults: a second auction after the first 流拍, a resale after a default."""
    if last.state == S.UNSOLD and last.kind == RoundKind.FIRST:
        return RoundKind.SECOND
    return RoundKind(last.kind) if last.kind == RoundKind.SECOND else RoundKind.RESALE


def _relist_data(lot: Lot, last: Round, t: datetime) -> dict:
    """The next round's form, prefilled: the lowest starting price the law allows (A43) or,
    after a default, the same starting price (decision 6); the previous deposit kept within
    its new bounds (A19); the previous texts."""
    kind = _next_kind(last)
    if last.state == S.DEFAULTED:
        start = last.starting_price
    else:
        start = rules.min_starting_price(kind=kind, reference_price=lot.reference_price,
                                         previous_start=last.starting_price, rulebook=rulebook())
    low, high = rules.deposit_bounds(start, rulebook())
    begin = _beijing_morning(t, rules.lead_days(kind=kind, movable=lot.movable, rulebook=rulebook()) + 1)
    return {**_round_data(last), "starting_price": start, "deposit": min(max(last.deposit, low), high),
            "start_at": begin, "end_at": begin + rulebook().min_bidding_period}


def _variation_data(lot: Lot, last: Round, t: datetime) -> dict:
    lead = rules.lead_days(kind=RoundKind.VARIATION, movable=lot.movable, rulebook=rulebook())
    return {**_round_data(last), "deposit": last.deposit, "start_at": _beijing_morning(t, lead + 1),
            "balance_days": min(last.balance_days, 15)}


def _recipients(lot: Lot) -> list[tuple[str, str]]:
    """Who must be notified of a round (A15, decision 28): ``(key, label)``."""
    out = [(f"party:{p.id}", f"{labels.party_role_label(p.role)} · {p.name}") for p in lot.case.parties]
    out += [(f"holder:{h.id}", f"{labels.recipient_label('优先购买权人')} · {h.name}") for h in lot.priority_holders]
    return out


def _notice_rows(lot: Lot, rnd: Round, t: datetime) -> list[dict]:
    """Each recipient with its notices for ``rnd`` and whether they allow publishing now."""
    rows = []
    for key, label in _recipients(lot):
        kind, _sep, ident = key.partition(":")
        mine = [n for n in rnd.notices if (n.party_id if kind == "party" else n.holder_id) == int(ident)]
        ready = bool(mine) and any(rules.notices_ready([NoticeFacts(NoticeMethod(n.method), n.at)], publish_at=t,
                                                       rulebook=rulebook()) for n in mine)
        rows.append({"label": label, "notices": mine, "ready": ready})
    return rows


def _notice_form(lot: Lot, *, formdata: bool) -> NoticeForm:
    form = NoticeForm(prefix="notice") if formdata else NoticeForm(formdata=None, prefix="notice",
                                                                   data={"at": now(), "method": "served"})
    form.recipient.choices = [SelectChoice(k, v) for k, v in _recipients(lot)]
    return form


def _take_form(lot: Lot, *, formdata: bool) -> TakeInPaymentForm:
    form = TakeInPaymentForm(prefix="take") if formdata else TakeInPaymentForm(formdata=None, prefix="take")
    form.party_id.choices = [SelectChoice(p.id, p.name) for p in lot.case.parties if p.role == PartyRole.APPLICANT]
    return form


def _lot_documents(lot: Lot, *, public_only: bool) -> list[tuple[Round, str, Document]]:
    """The announcement, confirmation, ruling and 流拍 record of each round: ``(round, kind,
    document)``, oldest first."""
    refs = {f"{prefix}-{lot.id}-{r.seq}": (r, kind) for r in lot.rounds for prefix, kind in DOCUMENT_PREFIXES.items()}
    stmt = select(Document).where(Document.reference.in_(list(refs)), Document.subject == f"case:{lot.case_id}")
    if public_only:
        stmt = stmt.where(Document.public.is_(True))
    docs = db_session().scalars(stmt.order_by(Document.created_at, Document.id)).all()
    # The sealed transcript shares its reference with the public one; its kind tells them apart.
    return [(refs[d.reference][0], "bid_transcript_sealed" if d.kind == "bid_transcript_sealed"
             else refs[d.reference][1], d) for d in docs]


def _actor_names(actors: set[str]) -> dict[str, str]:
    """Court staff by name, everything automatic as the platform (never a bidder: only the
    court and the platform act on a round)."""
    ids = {int(a[5:]) for a in actors if a.startswith("user:") and a[5:].isdigit()}
    users = {u.id: u for u in db_session().scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    names = {}
    for actor in actors:
        uid = int(actor[5:]) if actor.startswith("user:") and actor[5:].isdigit() else None
        user = users.get(uid)
        if user is not None and user.role == Role.ADMIN:
            names[actor] = _("Platform administrator")
        elif user is not None and user.role in (Role.OFFICER, Role.FINANCE, Role.SUPERVISOR):
            names[actor] = user.display_name
        else:
            names[actor] = _("Platform")
    return names


def _timeline(lot: Lot, *, public: bool) -> list[dict]:
    """The rounds' events in order; the public sees the public ones of published rounds (A48)."""
    events = [(r, e) for r in lot.rounds for e in r.events
              if not public or (e.public and r.published_at is not None)]
    events.sort(key=lambda re: (re[1].at, re[1].id))
    names = {} if public else _actor_names({e.actor for _r, e in events})
    return [{"round": r, "at": e.at, "kind": e.kind, "what": labels.event_label(e.kind), "reason": e.reason, "public": e.public,
             "who": names.get(e.actor, "")} for r, e in events]


def _allowed(lot: Lot, rnd: Round, officer: bool) -> dict[str, bool]:
    """Which officer actions the manage page offers for the current round (the transition
    table of ``auction.rules``; the services decide)."""
    if not officer:
        return {}
    state, unpublished = RoundState(rnd.state), rnd.published_at is None

    def can(event: str) -> bool:
        return state in rules.TRANSITIONS[event][0]

    decided = any(e.kind == "variation_decided" for e in rnd.events)
    return {
        "terms": unpublished and state in (S.DRAFT, S.NOTIFYING) and rnd.kind != RoundKind.VARIATION,
        "notices": unpublished and state in (S.DRAFT, S.NOTIFYING, S.VARIATION_ANNOUNCED),
        "holders": unpublished or state == S.UNSOLD,
        "publish": unpublished and state in (S.NOTIFYING, S.VARIATION_ANNOUNCED),
        "pause": can("suspend"), "cause_ended": state in (S.SUSPENDED, S.HALTED) and rnd.resume_by is None,
        "resume": can("resume"), "withdraw": can("withdraw"), "balance": can("balance_paid"),
        "qualification": lot.housing and state in (S.AWAITING_BALANCE, S.PAID) and not rnd.qualification_checked_at,
        "ruling": can("rule"), "handover": can("hand_over"), "annul": can("annul"),
        "relist": (state == S.UNSOLD and rnd.kind == RoundKind.FIRST) or state == S.DEFAULTED,
        "variation": state == S.UNSOLD and rnd.kind == RoundKind.SECOND,
        "take": can("take_in_payment"), "decision": state == S.VARIATION_FAILED and not decided,
    }


def _manage(lot: Lot, *, bound: dict | None = None, open_section: str = ""):
    """The manage page; ``bound`` replaces fresh forms by posted ones (to show their errors)."""
    rnd = lot.current
    t = now()
    officer = case_services.can_edit_case(current_user, lot.case)
    unpublished = rnd.published_at is None
    forms = {
        "terms": TermsForm(formdata=None, prefix="terms", data=_round_data(rnd)),
        "notice": _notice_form(lot, formdata=False),
        "holder": PriorityHolderForm(formdata=None, prefix="holder"),
        "pause": PauseForm(formdata=None, prefix="pause"), "resume": ResumeForm(formdata=None, prefix="resume"),
        "withdraw": WithdrawForm(formdata=None, prefix="withdraw"), "annul": AnnulForm(formdata=None, prefix="annul"),
        "balance": AmountForm(formdata=None, prefix="balance",
                              data={"amount": rnd.sale_price - rnd.deposit if rnd.sale_price else None}),
        "qualification": NoteForm(formdata=None, prefix="qualification"),
        "handover": NoteForm(formdata=None, prefix="handover"),
        "decision": NoteForm(formdata=None, prefix="decision"),
        "relist": TermsForm(formdata=None, prefix="relist", data=_relist_data(lot, rnd, t)),
        "variation": VariationForm(formdata=None, prefix="variation", data=_variation_data(lot, rnd, t)),
        "take": _take_form(lot, formdata=False), "button": EmptyForm(formdata=None),
    }
    forms.update(bound or {})
    lead = rules.lead_days(kind=RoundKind(rnd.kind), movable=lot.movable, rulebook=rulebook())
    checklist = [labels.problem_text(p, days=lead) for p in services.publication_check(db_session(), rnd, _ctx())] \
        if unpublished else []
    alerts = [a for a in services.alerts(db_session(), user=current_user, today=local_today(t), rulebook=rulebook())
              if a.round.lot_id == lot.id]
    earlier = [r for r in lot.rounds if r.seq < rnd.seq]
    current_floor = None if rnd.kind == RoundKind.VARIATION else rules.min_starting_price(
        kind=RoundKind(rnd.kind), reference_price=lot.reference_price,
        previous_start=earlier[-1].starting_price if earlier else None, rulebook=rulebook())
    next_kind = _next_kind(rnd)
    next_floor = rules.min_starting_price(kind=next_kind, reference_price=lot.reference_price,
                                          previous_start=rnd.starting_price, rulebook=rulebook())
    return render_template(
        "auction/manage.html", lot=lot, rnd=rnd, case=lot.case, labels=labels, now=t, officer=officer,
        allowed=_allowed(lot, rnd, officer), forms=forms, open_section=open_section, checklist=checklist,
        lead_days=lead, notice_rows=_notice_rows(lot, rnd, t), alerts=alerts,
        documents=_lot_documents(lot, public_only=False), timeline=_timeline(lot, public=False),
        current_floor=current_floor, next_kind=next_kind, next_floor=next_floor, variation_price=rules.variation_price(rnd.starting_price),
        deposit_bounds=rules.deposit_bounds(rnd.starting_price, rulebook()),
    )


def _group(rnd: Round) -> str:
    """The dashboard section of a lot, by its current round."""
    state = RoundState(rnd.state)
    if state in (S.DRAFT, S.NOTIFYING) or (state == S.VARIATION_ANNOUNCED and rnd.published_at is None):
        return "preparation"
    if state in (S.ANNOUNCED, S.VARIATION_ANNOUNCED):
        return "announced"
    if state in (S.BIDDING, S.VARIATION_OPEN, S.VARIATION_BIDDING):
        return "bidding"
    if state in (S.SUSPENDED, S.HALTED):
        return "paused"
    if state in (S.SOLD, S.AWAITING_BALANCE, S.PAID, S.RULED):
        return "after_sale"
    if state in (S.UNSOLD, S.DEFAULTED) or (state == S.VARIATION_FAILED
                                             and not any(e.kind == "variation_decided" for e in rnd.events)):
        return "next_step"
    return "closed"


# --- officer dashboard and the new lot -------------------------------------------------------------


@bp.get("/")
@roles_required(*STAFF)
def dashboard():
    """The lots of the user's court (every court for supervisors) by the state of their current
    round, with the steps that are late (decision 25) on top. ``?case=<id>``: one case's lots."""
    stmt = select(Lot).join(Case, Case.id == Lot.case_id).order_by(Lot.id.desc())
    if current_user.role in (Role.OFFICER, Role.FINANCE):
        stmt = stmt.where(Case.court_id == current_user.court_id)
    case_id = request.args.get("case", type=int)
    if case_id:
        stmt = stmt.where(Lot.case_id == case_id)
    groups: dict[str, list[Lot]] = {g: [] for g in DASHBOARD_GROUPS}
    for lot in db_session().scalars(stmt.limit(1000)).unique():
        if lot.current is not None:
            groups[_group(lot.current)].append(lot)
    alerts = services.alerts(db_session(), user=current_user, today=local_today(now()), rulebook=rulebook())
    return render_template("auction/dashboard.html", groups=groups, alerts=alerts, labels=labels,
                           case=db_session().get(Case, case_id) if case_id else None)


@bp.route("/assets/<int:asset_id>/lot/new", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def new_lot(asset_id: int):
    """Put a priced asset up for auction, alone or with other priced assets of its case (B03):
    the lot and its first round's terms (A05, A19, A26, A27, A45). A refusal quotes the rule
    and saves nothing.

    :raise 404: unknown asset, or another court's; :raise 403: not an officer of the court
    """
    asset = db_session().get(Asset, asset_id)
    if asset is None:
        abort(404)
    try:
        case = case_services.get_case_for(db_session(), current_user, asset.case_id, edit=True)
    except case_services.CaseNotFound:
        abort(404)
    except case_services.NotAllowed:
        abort(403)
    others = [a for a in case.assets if a.id != asset.id and a.stage == AssetStage.PRICED]
    prices = _final_procedures([asset.id, *[a.id for a in others]])
    # An asset already in a lot being sold cannot be listed again (the services refuse it).
    busy = set(db_session().scalars(select(LotAsset.asset_id).join(Round, Round.lot_id == LotAsset.lot_id).where(
        LotAsset.asset_id.in_([asset.id, *[a.id for a in others]]),
        Round.state.in_([st.value for st in services.ACTIVE_STATES]))))
    others = [a for a in others if a.id in prices and a.id not in busy]
    form = LotForm()
    form.bundle.choices = [SelectChoice(a.id, a.title) for a in others]
    t = now()
    if request.method == "GET":
        movable = is_movable(asset.category)
        begin = _beijing_morning(t, rules.lead_days(kind=RoundKind.FIRST, movable=movable, rulebook=rulebook()) + 1)
        form.title.data = asset.title
        form.start_at.data, form.end_at.data = begin, begin + rulebook().min_bidding_period
        if asset.id in prices:
            form.starting_price.data = rules.min_starting_price(
                kind=RoundKind.FIRST, reference_price=prices[asset.id].reference_price, previous_start=None,
                rulebook=rulebook())
    elif form.validate_on_submit():
        lot = _call(services.create_lot, asset_ids=[asset.id, *form.bundle.data], title=form.title.data,
                    terms=_terms(form))
        if lot is not None:
            flash(_("Lot created as a draft. Record the notices to the parties next."), "success")
            return redirect(url_for("auction.manage", lot_id=lot.id))
    else:
        db_session().rollback()
        flash(_("Please correct the marked fields."), "error")
    chosen = [asset.id, *[i for i in (form.bundle.data or []) if i in prices]]
    reference = sum((prices[i].reference_price for i in chosen if i in prices), start=0)
    floor = rules.min_starting_price(kind=RoundKind.FIRST, reference_price=reference, previous_start=None,
                                     rulebook=rulebook()) if reference else None
    bounds = rules.deposit_bounds(form.starting_price.data, rulebook()) \
        if form.starting_price.data and form.starting_price.data > 0 else None
    existing = db_session().scalars(select(Lot).join(LotAsset).where(LotAsset.asset_id == asset.id)
                                    .order_by(Lot.id)).all()
    return render_template("auction/new_lot.html", form=form, asset=asset, case=case, others=others, prices=prices,
                           reference=reference, floor=floor, bounds=bounds, existing=existing, labels=labels,
                           rulebook=rulebook(), busy=asset.id in busy)


# --- the manage page and the officer's actions --------------------------------------------------


@bp.get("/rounds/<int:round_id>/evidence.json")
@login_required
def evidence(round_id: int):
    """Download the round's record for an objection or an annulment (A52): terms, notices,
    events, documents and ledger entries, as JSON.

    :raise 404: unknown or not visible; :raise 403: parties
    """
    import json

    try:
        data = services.evidence(db_session(), user=current_user, round_id=round_id)
    except services.NotFound:
        abort(404)
    except services.NotAllowed:
        abort(403)
    return current_app.response_class(
        json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json",
        headers={"Content-Disposition": f"attachment; filename=round-{round_id}-evidence.json"})


@bp.get("/lots/<int:lot_id>/manage")
@login_required
def manage(lot_id: int):
    """A lot for the court: its rounds and terms, the publication checklist, notices, priority
    holders, the decisions the current round allows, documents and the timeline. Supervisors
    and finance read it; only officers of the court act.

    :raise 404: unknown, or not visible to this user
    """
    return _manage(_load_lot(lot_id))


@bp.post("/rounds/<int:round_id>/terms")
@login_required
def update_terms(round_id: int):
    """Change the terms before the announcement is published. :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = TermsForm(prefix="terms")
    if not form.validate_on_submit():
        _invalid(form)
        return _manage(lot, bound={"terms": form}, open_section="terms")
    if _call(services.update_terms, round_id=rnd.id, terms=_terms(form)) is None:
        return _manage(lot, bound={"terms": form}, open_section="terms")
    flash(_("The terms are saved."), "success")
    return _back(lot, "terms")


@bp.post("/rounds/<int:round_id>/notices")
@login_required
def record_notice(round_id: int):
    """Record how and when a party or priority holder was notified (A15–A17). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = _notice_form(lot, formdata=True)
    if not form.validate_on_submit():
        _invalid(form)
        return _back(lot, "notices")
    kind, _sep, ident = form.recipient.data.partition(":")
    if _call(services.record_notice, round_id=rnd.id, method=NoticeMethod(form.method.data), detail=form.detail.data,
             at=form.at.data, party_id=int(ident) if kind == "party" else None,
             holder_id=int(ident) if kind == "holder" else None) is not None:
        flash(_("The notice is recorded."), "success")
    return _back(lot, "notices")


@bp.post("/lots/<int:lot_id>/holders")
@login_required
def add_holder(lot_id: int):
    """Confirm a priority holder and its rank (A25, A45). :raise 404, 403:"""
    lot = _load_lot(lot_id, officer=True)
    form = PriorityHolderForm(prefix="holder")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.add_priority_holder, lot_id=lot.id, name=form.name.data, kind=form.kind.data,
               id_number=form.id_number.data, right=form.right.data, rank=form.rank.data) is not None:
        flash(_("The priority holder is confirmed. Notify it before the announcement."), "success")
    return _back(lot, "holders")


@bp.post("/rounds/<int:round_id>/publish")
@login_required
def publish(round_id: int):
    """Publish the announcement and the publication set (A10–A13). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.publish, round_id=rnd.id) is not None:
        flash(_("The announcement is published."), "success")
    return _back(lot, "checklist")


@bp.post("/rounds/<int:round_id>/pause")
@login_required
def pause(round_id: int):
    """暂缓, or 中止 by ruling (A46); the reason is published at once (A48). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = PauseForm(prefix="pause")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.suspend, round_id=rnd.id, reason=form.reason.data, halt=form.kind.data == "halt") is not None:
        flash(_("The round is stopped and the reason published."), "success")
    return _back(lot, "actions")


@bp.post("/rounds/<int:round_id>/cause-ended")
@login_required
def cause_ended(round_id: int):
    """The cause of the 暂缓/中止 ended: resume within 5 days (A49). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        _invalid(form)
    elif (done := _call(services.record_cause_ended, round_id=rnd.id)) is not None:
        flash(_("Recorded. Resume the round by %(day)s (A49).", day=done.resume_by), "success")
    return _back(lot, "actions")


@bp.post("/rounds/<int:round_id>/resume")
@login_required
def resume(round_id: int):
    """Resume a stopped round (decision 8). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = ResumeForm(prefix="resume")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.resume, round_id=rnd.id, new_end_at=form.end_at.data) is not None:
        flash(_("The round is resumed."), "success")
    return _back(lot, "actions")


@bp.post("/rounds/<int:round_id>/withdraw")
@login_required
def withdraw(round_id: int):
    """撤回 before a sale on a ground of B05/B06. :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = WithdrawForm(prefix="withdraw")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.withdraw, round_id=rnd.id, ground=form.ground.data, reason=form.reason.data) is not None:
        flash(_("The round is withdrawn."), "success")
    return _back(lot, "actions")


@bp.post("/rounds/<int:round_id>/annul")
@login_required
def annul(round_id: int):
    """撤销 a sale on an upheld objection (A52). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = AnnulForm(prefix="annul")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.annul, round_id=rnd.id, ground=form.ground.data, reason=form.reason.data) is not None:
        flash(_("The sale is annulled."), "success")
    return _back(lot, "actions")


@bp.post("/rounds/<int:round_id>/balance")
@login_required
def balance(round_id: int):
    """The buyer paid the balance (A39). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = AmountForm(prefix="balance")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.record_balance_paid, round_id=rnd.id, amount=form.amount.data) is not None:
        flash(_("The balance is recorded in the case funds."), "success")
    return _back(lot, "actions")


@bp.post("/rounds/<int:round_id>/qualification")
@login_required
def qualification(round_id: int):
    """The buyer's continuous purchase qualification (housing, D01). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = NoteForm(prefix="qualification")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.record_qualification_check, round_id=rnd.id, note=form.note.data) is not None:
        flash(_("The qualification check is recorded."), "success")
    return _back(lot, "actions")


@bp.post("/rounds/<int:round_id>/ruling")
@login_required
def ruling(round_id: int):
    """Issue and serve the 拍卖成交裁定 (A35, B07). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.issue_ruling, round_id=rnd.id) is not None:
        flash(_("The ruling is issued; ownership passes to the buyer (A35)."), "success")
    return _back(lot, "documents")


@bp.post("/rounds/<int:round_id>/handover")
@login_required
def handover(round_id: int):
    """The property is handed over (B08). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = NoteForm(prefix="handover")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.record_handover, round_id=rnd.id, note=form.note.data) is not None:
        flash(_("The handover is recorded."), "success")
    return _back(lot, "actions")


@bp.post("/lots/<int:lot_id>/relist")
@login_required
def relist(lot_id: int):
    """The second auction after a 流拍 (A43) or a resale after a default (decision 6).

    :raise 404, 403:
    """
    lot = _load_lot(lot_id, officer=True)
    form = TermsForm(prefix="relist")
    if not form.validate_on_submit():
        _invalid(form)
        return _manage(lot, bound={"relist": form}, open_section="relist")
    if _call(services.relist, lot_id=lot.id, terms=_terms(form)) is None:
        return _manage(lot, bound={"relist": form}, open_section="relist")
    flash(_("The new round is a draft. Notify the parties again (decision 28)."), "success")
    return _back(lot)


@bp.post("/lots/<int:lot_id>/variation")
@login_required
def variation(lot_id: int):
    """变卖 after the second 流拍 at the second auction's starting price (C01–C04).

    :raise 404, 403:
    """
    lot = _load_lot(lot_id, officer=True)
    form = VariationForm(prefix="variation")
    if not form.validate_on_submit():
        _invalid(form)
        return _manage(lot, bound={"variation": form}, open_section="variation")
    if _call(services.start_variation, lot_id=lot.id, deposit=form.deposit.data, start_at=form.start_at.data,
             balance_days=form.balance_days.data, taxes=tax_rows(form), court_contact=form.court_contact.data or "",
             title_and_possession=form.title_and_possession.data or "",
             defects_statement=form.defects_statement.data or "") is None:
        return _manage(lot, bound={"variation": form}, open_section="variation")
    flash(_("The 变卖 is prepared. Notify the parties, then publish it."), "success")
    return _back(lot)


@bp.post("/rounds/<int:round_id>/take-in-payment")
@login_required
def take_in_payment(round_id: int):
    """以物抵债 at a 流拍 (B04). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = _take_form(lot, formdata=True)
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.take_in_payment, round_id=rnd.id, party_id=form.party_id.data,
               top_up=form.top_up.data) is not None:
        flash(_("The creditor takes the property in payment."), "success")
    return _back(lot, "actions")


@bp.post("/rounds/<int:round_id>/variation-decision")
@login_required
def variation_decision(round_id: int):
    """The court's decision after a 变卖 without a buyer (decision 7). :raise 404, 403:"""
    rnd, lot = _load_round(round_id)
    form = NoteForm(prefix="decision")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.record_variation_decision, round_id=rnd.id, decision=form.note.data) is not None:
        flash(_("The court's decision is recorded."), "success")
    return _back(lot, "actions")


@bp.post("/rounds/<int:round_id>/emergency")
@roles_required(Role.ADMIN)
def emergency(round_id: int):
    """The platform administrator's 暂缓 on a system failure or security risk (A47); the
    officer of the case is told at once. :raise 404:"""
    rnd = db_session().get(Round, round_id)
    if rnd is None or rnd.published_at is None:
        abort(404)
    form = EmergencyForm(prefix="emergency")
    if not form.validate_on_submit():
        _invalid(form)
    elif _call(services.suspend, round_id=rnd.id, reason=form.reason.data) is not None:
        flash(_("The round is postponed; the court was told."), "success")
    return redirect(url_for("auction.lot_page", lot_id=rnd.lot_id))


@bp.get("/lots/<int:lot_id>/documents/<sha256>")
@login_required
def lot_document(lot_id: int, sha256: str):
    """A document of the lot for its court staff, the non-public ruling included.

    :raise 404: unknown, not this lot's, or not visible to this user
    """
    lot = _load_lot(lot_id)
    try:
        sha256 = check_sha256(sha256.lower())
    except MalformedHash:
        abort(404)
    doc = next((d for _r, _k, d in _lot_documents(lot, public_only=False) if d.sha256 == sha256), None)
    store = file_store(current_app)
    if doc is None or not store.exists(doc.sha256):
        abort(404)
    response = send_file(store.path(doc.sha256), mimetype=doc.media_type, download_name=f"{doc.reference}.pdf",
                         max_age=0)
    response.cache_control.private = True  # behind a login: never in a shared cache
    return response


# --- public pages -------------------------------------------------------------------------------


@bp.get("/lots")
def lots():
    """Published lots, newest announcement first, 20 a page: each lot as its latest published
    round. ``?state=`` one of :data:`PUBLIC_FILTERS`, ``?q=`` words of the title."""
    q = request.args.get("q", "").strip()[:100]
    state = request.args.get("state", "")
    page = min(max(request.args.get("page", 1, type=int), 1), 10_000)
    latest = (select(Round.lot_id, func.max(Round.seq).label("seq")).where(Round.published_at.is_not(None))
              .group_by(Round.lot_id).subquery())
    stmt = (select(Round).join(latest, and_(Round.lot_id == latest.c.lot_id, Round.seq == latest.c.seq))
            .join(Lot, Lot.id == Round.lot_id))
    if q:
        stmt = stmt.where(Lot.title.contains(q, autoescape=True))
    if state in PUBLIC_FILTERS:
        stmt = stmt.where(Round.state.in_([s.value for s in PUBLIC_FILTERS[state]]))
    total = db_session().scalar(select(func.count()).select_from(stmt.subquery()))
    rounds = db_session().scalars(stmt.order_by(Round.published_at.desc(), Round.id.desc())
                                  .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    pages = max(1, -(-total // PER_PAGE))
    photos = {}
    for r in rounds:
        first = next((la.asset.photos[0] for la in r.lot.assets if la.asset.photos), None)
        if first is not None:
            photos[r.lot_id] = first
    return render_template("auction/lots.html", rounds=rounds, photos=photos, q=q, state=state if state in PUBLIC_FILTERS else "",
                           filters=list(PUBLIC_FILTERS), page=page, pages=pages, total=total, labels=labels)


@bp.get("/lots/<int:lot_id>")
def lot_page(lot_id: int):
    """The public lot page: the publication set of the latest published round (A12, A13), its
    public events (A48), its documents and, after the close, the result. Court staff of the
    case preview a lot before it is published. Nothing identifies a bidder, and the number of
    registrants is never shown (decision 13).

    :raise 404: unknown, or not published (for anyone but the case's court staff and parties)
    """
    lot = _load_public_lot(lot_id)
    published = [r for r in lot.rounds if r.published_at is not None]
    rnd = published[-1] if published else lot.current
    t = now()
    counting_to = None
    if rnd.state in (S.ANNOUNCED, S.VARIATION_ANNOUNCED) and t < rnd.start_at:
        counting_to = ("start", int((rnd.start_at - t).total_seconds()))
    elif rnd.state in (S.BIDDING, S.VARIATION_OPEN, S.VARIATION_BIDDING) and t < rnd.end_at:
        counting_to = ("end", int((rnd.end_at - t).total_seconds()))
    staff = current_user.is_authenticated and current_user.role in STAFF \
        and case_services.can_view_case(current_user, lot.case)
    admin = current_user.is_authenticated and current_user.role == Role.ADMIN
    links = []
    for provider in current_app.extensions.get("lot_links", []):  # e.g. bidding: "Register to bid"
        links += provider(current_user, lot, rnd) or []
    return render_template(
        "auction/lot.html", lot=lot, rnd=rnd, case=lot.case, preview=not published, labels=labels, now=t,
        counting_to=counting_to, staff=staff, documents=_lot_documents(lot, public_only=True) if published else [],
        events=_timeline(lot, public=True), notices=rnd.notices, links=links,
        emergency_form=EmergencyForm(prefix="emergency") if admin and rnd.state in (S.ANNOUNCED, S.BIDDING) else None,
    )


@bp.get("/lots/<int:lot_id>/photos/<sha256>")
def lot_photo(lot_id: int, sha256: str):
    """A photo of an asset of a lot the viewer may see (published lots: everyone); the case
    staff's file route stays closed to the public. :raise 404:"""
    lot = _load_public_lot(lot_id)
    try:
        sha256 = check_sha256(sha256.lower())
    except MalformedHash:
        abort(404)
    photo = db_session().scalar(select(AssetFile).where(
        AssetFile.sha256 == sha256, AssetFile.kind == "photo",
        AssetFile.asset_id.in_([la.asset_id for la in lot.assets])).limit(1))
    store = file_store(current_app)
    if photo is None or not store.exists(sha256):
        abort(404)
    response = send_file(store.path(sha256), mimetype=photo.media_type, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not any(r.published_at for r in lot.rounds):
        response.cache_control.private = True  # a preview for the court: not for shared caches
    return response


# --- registration --------------------------------------------------------------------------------


def _case_links(user, case) -> list[tuple[str, str]]:
    if not user.is_authenticated or user.role not in STAFF:
        return []
    return [(_("Auction lots of this case"), url_for("auction.dashboard", case=case.id))]


def _asset_links(user, asset) -> list[tuple[str, str]]:
    if not user.is_authenticated or user.role not in STAFF:
        return []
    links = [(_("Auction lot: %(title)s", title=lot.title), url_for("auction.manage", lot_id=lot.id))
             for lot in db_session().scalars(select(Lot).join(LotAsset).where(LotAsset.asset_id == asset.id)
                                              .order_by(Lot.id))]
    if asset.stage == AssetStage.PRICED and case_services.can_edit_case(user, asset.case):
        links.append((_("Put up for auction"), url_for("auction.new_lot", asset_id=asset.id)))
    return links


def register_pages(app) -> None:
    """The navigation entries (public "Auctions", the staff's lots) and the links this package
    adds to the case and asset pages of ``cases`` (which must not import it). Idempotent."""
    if app.extensions.get("auction_pages"):
        return
    app.extensions["auction_pages"] = True
    from core.nav import NavEntry, register_nav

    register_nav(app, NavEntry(lambda: _("Auctions"), "auction.lots", None, order=5))
    register_nav(app, NavEntry(lambda: _("Lot management"), "auction.dashboard", STAFF, order=15))
    app.extensions.setdefault("case_links", []).append(_case_links)
    app.extensions.setdefault("asset_links", []).append(_asset_links)
