"""Reference-price use cases (RULES.md a.5 and section c): open a procedure, the four
methods, the draw, the commission's lifecycle, valuations, objections, the final price.

Every public function takes the session and ``now``, checks its actor, writes the audit
ledger on the case's stream and commits once. ``run_due`` functions are the scheduler's:
idempotent, they claim each due row by re-checking its state inside the transaction.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Role, User
from appraisal import draw as protocol
from appraisal import rules
from appraisal.agencies import agency_facts, agency_of
from appraisal.models import (
    Agency, Commission, Draw, DrawContribution, ExtensionRequest, Objection, PriceSubmission, Procedure, Valuation,
)
from appraisal.rules import (
    AgencyKind, AgencyStatus, AppraisalRuleError, CommissionState, Method, ObjectionKind, ObjectionState,
    ProcedureState,
)
from cases import services as case_services
from cases.models import Asset, Case, Party
from cases.rules import AssetStage, PartyRole, Region, local_today, specialty_for
from core import audit
from core.context import Context
from core.i18n import beijing_time
from core.money import MoneyError, to_money
from core.notify import notify
from core.text import N_, DomainError, NotAllowed, NotFound, Refused  # noqa: F401  (shared, re-exported)


#: Longest deadline an officer may give the parties or an institution (a year: E43's horizon).
MAX_STEP_DAYS = 365


def _stream(proc: Procedure) -> str:
    return f"case:{proc.asset.case_id}"


def _record(session, proc: Procedure, actor: str, action: str, payload: dict, ctx: Context) -> None:
    audit.record(session, stream=_stream(proc), actor=actor, action=action, subject=f"procedure:{proc.id}",
                 payload=payload, now=ctx.now)


def _officer_for(session, actor: User, proc: Procedure) -> Case:
    try:
        return case_services.get_case_for(session, actor, proc.asset.case_id, edit=True)
    except case_services.CaseNotFound:
        raise NotFound() from None
    except case_services.NotAllowed:
        raise NotAllowed() from None


def get_procedure(session: Session, proc_id: int) -> Procedure:
    proc = session.get(Procedure, proc_id)
    if proc is None:
        raise NotFound()
    return proc


def can_view_procedure(user: User, proc: Procedure, session: Session) -> bool:
    """Court staff and supervisors as for the case, the case's parties, and agencies that hold
    or were offered a commission in it (never other agencies' drafts)."""
    if user.role == Role.AGENCY:
        agency = session.scalar(select(Agency).where(Agency.user_id == user.id))
        return agency is not None and (
            any(c.agency_id == agency.id for c in proc.commissions)
            or any(s.agency_id == agency.id for s in proc.submissions))
    return case_services.can_view_case(user, proc.asset.case)


def _set_state(proc: Procedure, state: ProcedureState) -> None:
    proc.state = state


# --- opening ----------------------------------------------------------------------------------


def open_procedure(session: Session, *, actor: User, asset_id: int, method: Method, ctx: Context,
                   deadline_days: int | None = None, institution_id: int | None = None) -> Procedure:
    """Start the reference-price procedure of an asset with one of the four methods (E02).

    * 议价: the parties submit their figures by ``deadline_days`` (E04).
    * 定向询价: ``institution_id`` answers by ``deadline_days`` (E05/E06).
    * 网络询价: every listed platform is asked at once; 3-day deadline (E09/E10).
    * 委托评估: agency selection (agreement or draw) follows (E24/E25).

    :raise NotAllowed, NotFound, Refused:
    """
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound()
    try:
        case_services.get_case_for(session, actor, asset.case_id, edit=True)
    except case_services.CaseNotFound:
        raise NotFound() from None
    except case_services.NotAllowed:
        raise NotAllowed() from None
    if deadline_days is not None and not 1 <= deadline_days <= MAX_STEP_DAYS:
        raise Refused(N_("The deadline must be between 1 and 365 days."))
    if session.scalar(select(Procedure.id).where(Procedure.asset_id == asset.id,
                                                 Procedure.state.in_([s.value for s in rules.OPEN_STATES]))):
        raise Refused(N_("A reference-price procedure is already under way for this asset."))
    method = Method(method)
    proc = Procedure(asset_id=asset.id, method=method, opened_at=ctx.now, opened_by_id=actor.id, note="")
    if method is Method.NEGOTIATION:
        proc.state = ProcedureState.NEGOTIATION
        proc.step_due_at = ctx.now + ctx.rulebook.days(deadline_days or 10)
    elif method is Method.DIRECTED_INQUIRY:
        institution = session.get(Agency, institution_id or 0)
        if institution is None or institution.kind != AgencyKind.DIRECTED_INSTITUTION \
                or institution.status != AgencyStatus.LISTED:
            raise Refused(N_("Choose a listed directed-inquiry institution."))
        proc.state = ProcedureState.DIRECTED_INQUIRY
        proc.step_due_at = ctx.now + ctx.rulebook.days(deadline_days or 10)
    elif method is Method.ONLINE_INQUIRY:
        platforms = session.scalars(select(Agency).where(Agency.kind == AgencyKind.ONLINE_PLATFORM,
                                                         Agency.status == AgencyStatus.LISTED)).all()
        if not platforms:
            raise Refused(N_("No online inquiry platform is listed; use another method."))
        proc.state = ProcedureState.ONLINE_INQUIRY
        proc.step_due_at = rules.inquiry_deadline(ctx.now, ctx.calendar, ctx.rulebook)
    else:
        proc.state = ProcedureState.AGENCY_SELECTION
    session.add(proc)
    session.flush()
    if method is Method.DIRECTED_INQUIRY:
        proc.submissions.append(PriceSubmission(agency_id=institution.id))
        notify(session, user_id=institution.user_id, email=institution.user.email, now=ctx.now,
               subject=f"定向询价：{asset.title}", body=f"请于期限内提交询价结果：{ctx.base_url}/appraisal/inquiries/{proc.id}")
    elif method is Method.ONLINE_INQUIRY:
        for p in platforms:  # E09: simultaneously to all
            proc.submissions.append(PriceSubmission(agency_id=p.id))
            notify(session, user_id=p.user_id, email=p.user.email, now=ctx.now, subject=f"网络询价：{asset.title}",
                   body=f"请在3日内提交询价报告：{ctx.base_url}/appraisal/inquiries/{proc.id}")
    case_services.mark_asset_stage(session, asset, AssetStage.PRICING, actor=actor.actor, now=ctx.now)
    _record(session, proc, actor.actor, "procedure.opened",
            {"asset_id": asset.id, "method": str(method), "due": proc.step_due_at.isoformat() if proc.step_due_at else None},
            ctx)
    session.commit()
    return proc


def _finalise(session, proc: Procedure, *, price: Decimal, valid_until: date, actor: str, ctx: Context,
              valuation: Valuation | None = None) -> None:
    proc.state = ProcedureState.FINAL
    proc.reference_price = to_money(price)
    proc.valid_until = valid_until
    proc.final_at = ctx.now
    proc.step_due_at = None
    if valuation is not None:
        proc.final_valuation_id = valuation.id
        valuation.commission.state = CommissionState.COMPLETED
    case_services.mark_asset_stage(session, proc.asset, AssetStage.PRICED, actor=actor, now=ctx.now)
    _record(session, proc, actor, "procedure.final",
            {"reference_price": str(proc.reference_price), "valid_until": valid_until.isoformat(),
             "selling_start_by": rules.selling_start_deadline(local_today(ctx.now), ctx.rulebook).isoformat()}, ctx)
    for party in proc.asset.case.parties:
        if party.user_id or party.email:
            notify(session, user_id=party.user_id, email=party.email, now=ctx.now,
                   subject=f"参考价已确定：{proc.asset.title}",
                   body=f"{proc.asset.case.number}：参考价 ¥{proc.reference_price:,.2f}，有效期至 {valid_until}。")


def _validity_default(ctx: Context) -> date:
    return local_today(ctx.now) + timedelta(days=ctx.rulebook.valuation_validity_max_days)


# --- 议价 and 定向询价 -------------------------------------------------------------------------


def submit_negotiated_price(session: Session, *, actor: User, procedure_id: int, party_id: int, amount: Decimal,
                            ctx: Context, valid_until: date | None = None) -> Procedure:
    """A party's figure in a negotiation (entered by the party, or by the officer from the
    party's written submission). Identical figures from both sides fix the price (E04); no
    objection is possible (E40).

    :raise NotAllowed, Refused:
    """
    proc = get_procedure(session, procedure_id)
    party = session.get(Party, party_id)
    if party is None or party.case_id != proc.asset.case_id:
        raise NotFound()
    if not (actor.role == Role.PARTY and party.user_id == actor.id) and \
            not case_services.can_edit_case(actor, proc.asset.case):
        raise NotAllowed()
    if proc.state != ProcedureState.NEGOTIATION:
        raise Refused(N_("This procedure is not in negotiation."))
    if ctx.now > proc.step_due_at:
        raise Refused(N_("The deadline for submissions has passed."))
    try:
        amount = to_money(amount)
    except MoneyError:
        raise Refused(N_("The amount is not valid.")) from None
    if amount <= 0:
        raise Refused(N_("The amount must be greater than zero."))
    sub = session.scalar(select(PriceSubmission).where(PriceSubmission.procedure_id == proc.id,
                                                       PriceSubmission.party_id == party.id))
    if sub is None:
        sub = PriceSubmission(party_id=party.id)
        proc.submissions.append(sub)
    sub.amount, sub.submitted_at, sub.on_time = amount, ctx.now, True
    session.flush()
    _record(session, proc, actor.actor, "negotiation.submitted", {"party_role": str(party.role), "amount": str(amount)}, ctx)
    by_role: dict[str, set[Decimal]] = {}
    for s in proc.submissions:
        if s.party is not None and s.amount is not None:
            by_role.setdefault(str(s.party.role), set()).add(s.amount)
    values = by_role.get(PartyRole.APPLICANT, set()) | by_role.get(PartyRole.DEBTOR, set())
    if PartyRole.APPLICANT in by_role and PartyRole.DEBTOR in by_role and len(values) == 1:
        _finalise(session, proc, price=values.pop(), valid_until=valid_until or _validity_default(ctx),
                  actor=actor.actor, ctx=ctx)
    session.commit()
    return proc


def submit_inquiry_result(session: Session, *, actor: User, procedure_id: int, amount: Decimal, ctx: Context,
                          report: bytes | None = None, valid_until: date | None = None) -> PriceSubmission:
    """A directed-inquiry institution or an online platform answers (E06, E10). A directed
    result in time is the reference price at once (no objection, E40).

    :raise NotAllowed, Refused:
    """
    proc = get_procedure(session, procedure_id)
    agency = agency_of(session, actor)
    sub = session.scalar(select(PriceSubmission).where(PriceSubmission.procedure_id == proc.id,
                                                       PriceSubmission.agency_id == agency.id))
    if sub is None:
        raise NotAllowed()
    if proc.state not in (ProcedureState.DIRECTED_INQUIRY, ProcedureState.ONLINE_INQUIRY, ProcedureState.ONLINE_EXTENDED):
        raise Refused(N_("This inquiry is closed."))
    if sub.submitted_at is not None:
        raise Refused(N_("Your result was already submitted."))
    if ctx.now >= proc.step_due_at:
        raise Refused(N_("The deadline has passed."))
    if proc.state == ProcedureState.ONLINE_EXTENDED and sub.extension_requested_at is None:
        raise Refused(N_("Only platforms that asked for more time may answer now (E11)."))
    try:
        amount = to_money(amount)
    except MoneyError:
        raise Refused(N_("The amount is not valid.")) from None
    if amount <= 0:
        raise Refused(N_("The amount must be greater than zero."))
    if report:
        from cases.uploads import check_document

        check_document("report.pdf", report)
        sub.report_sha256 = ctx.store.put(report)
    sub.amount, sub.submitted_at, sub.on_time = amount, ctx.now, True
    _record(session, proc, actor.actor, "inquiry.answered", {"agency_id": agency.id, "amount": str(amount)}, ctx)
    if proc.state == ProcedureState.DIRECTED_INQUIRY:
        _finalise(session, proc, price=amount, valid_until=valid_until or _validity_default(ctx), actor=actor.actor, ctx=ctx)
    session.commit()
    return sub


def request_online_extension(session: Session, *, actor: User, procedure_id: int, ctx: Context) -> None:
    """E11: a platform asks for more time before the 3-day deadline."""
    proc = get_procedure(session, procedure_id)
    agency = agency_of(session, actor)
    sub = session.scalar(select(PriceSubmission).where(PriceSubmission.procedure_id == proc.id,
                                                       PriceSubmission.agency_id == agency.id))
    if sub is None or proc.state != ProcedureState.ONLINE_INQUIRY:
        raise Refused(N_("An extension can only be asked during the online inquiry."))
    if ctx.now >= proc.step_due_at:
        raise Refused(N_("An extension must be asked before the deadline (E11)."))
    sub.extension_requested_at = ctx.now
    _record(session, proc, actor.actor, "inquiry.extension_requested", {"agency_id": agency.id}, ctx)
    session.commit()


def _close_online_step(session, proc: Procedure, ctx: Context) -> None:
    """E11–E14 at the end of the 3 days (or of the extension)."""
    answered = [s for s in proc.submissions if s.agency_id and s.submitted_at is not None]
    if answered:
        proc.proposed_price = rules.online_average([s.amount for s in answered])
        proc.state = ProcedureState.SERVED
        proc.served_at = ctx.now
        proc.objections_close_at = rules.objection_window_end(ctx.now, ctx.calendar, ctx.rulebook)
        proc.step_due_at = None
        _record(session, proc, "system:scheduler", "inquiry.averaged",
                {"results": len(answered), "average": str(proc.proposed_price)}, ctx)
        _serve_notice(session, proc, ctx, f"网络询价结果（{len(answered)}份报告平均）¥{proc.proposed_price:,.2f}")
        return
    askers = [s for s in proc.submissions if s.extension_requested_at is not None]
    if proc.state == ProcedureState.ONLINE_INQUIRY and askers:
        proc.state = ProcedureState.ONLINE_EXTENDED
        proc.step_due_at = proc.step_due_at + ctx.rulebook.days(ctx.rulebook.online_inquiry_extension_days)
        _record(session, proc, "system:scheduler", "inquiry.extended", {"platforms": len(askers)}, ctx)
        return
    # E12: nothing in time and no valid extension: commissioned appraisal.
    proc.method, proc.state, proc.step_due_at = Method.COMMISSIONED, ProcedureState.AGENCY_SELECTION, None
    _record(session, proc, "system:scheduler", "inquiry.failed", {"next": "commissioned"}, ctx)
    notify(session, user_id=proc.asset.case.officer_id, now=ctx.now, subject=f"网络询价无结果：{proc.asset.title}",
           body="所有平台均未按期出具报告，请组织委托评估（摇号）。")


def _serve_notice(session, proc: Procedure, ctx: Context, what: str) -> None:
    for party in proc.asset.case.parties:
        if party.user_id or party.email:
            notify(session, user_id=party.user_id, email=party.email, now=ctx.now,
                   subject=f"参考价结果送达：{proc.asset.title}",
                   body=f"{proc.asset.case.number}：{what}。如有异议，请于5日内提出：{ctx.base_url}/appraisal/procedures/{proc.id}")


# --- the draw ----------------------------------------------------------------------------------


def _party_fingerprints(proc: Procedure) -> set[str]:
    return {p.id_number_hmac for p in proc.asset.case.parties}


def _tried_agencies(proc: Procedure) -> set[int]:
    return {c.agency_id for c in proc.commissions}


def schedule_draw(session: Session, *, actor: User | None, procedure_id: int, draw_at: datetime, ctx: Context,
                  requested_region: str | None = None) -> Draw:
    """Freeze the pool and commit to the platform's seed; the draw runs at ``draw_at``, at
    least one day after the parties are notified (decision 14).

    :raise NotAllowed, Refused:
    """
    proc = get_procedure(session, procedure_id)
    if actor is not None:
        _officer_for(session, actor, proc)
    if proc.state != ProcedureState.AGENCY_SELECTION:
        raise Refused(N_("A draw can only be scheduled while agencies are being selected."))
    if any(d.status == "scheduled" for d in proc.draws):
        raise Refused(N_("A draw is already scheduled."))
    if draw_at - ctx.now < ctx.rulebook.days(ctx.rulebook.draw_notice_days):
        raise Refused(N_("Parties must be notified at least one day before the draw (decision 14)."))
    d = _freeze_draw(session, proc, draw_at, ctx, actor=actor.actor if actor else "system:scheduler",
                     requested_region=requested_region or proc.requested_region)
    session.commit()
    return d


def commit_contribution(session: Session, *, actor: User, draw_id: int, commitment: str, ctx: Context) -> DrawContribution:
    """A party commits to its own random secret before the draw (hash only)."""
    d = session.get(Draw, draw_id)
    if d is None:
        raise NotFound()
    party = _party_of(session, actor, d)
    if d.status != "scheduled" or ctx.now >= d.scheduled_at:
        raise Refused(N_("Contributions are closed for this draw."))
    commitment = (commitment or "").strip().lower()
    if len(commitment) != 64 or any(c not in "0123456789abcdef" for c in commitment):
        raise Refused(N_("A commitment is 64 hexadecimal characters (SHA-256)."))
    c = session.scalar(select(DrawContribution).where(DrawContribution.draw_id == d.id,
                                                      DrawContribution.party_id == party.id))
    if c is not None:
        raise Refused(N_("You have already committed to a contribution for this draw."))
    c = DrawContribution(party_id=party.id, label=str(party.role), commitment=commitment, committed_at=ctx.now)
    d.contributions.append(c)
    _record(session, d.procedure, actor.actor, "draw.contribution_committed",
            {"draw_id": d.id, "by": str(party.role), "commitment": commitment}, ctx)
    session.commit()
    return c


def reveal_contribution(session: Session, *, actor: User, draw_id: int, secret: str, ctx: Context) -> DrawContribution:
    """A party reveals its secret (before the draw time); it must match the commitment."""
    d = session.get(Draw, draw_id)
    if d is None:
        raise NotFound()
    party = _party_of(session, actor, d)
    c = session.scalar(select(DrawContribution).where(DrawContribution.draw_id == d.id,
                                                      DrawContribution.party_id == party.id))
    if c is None:
        raise Refused(N_("Commit to a contribution first."))
    if d.status != "scheduled" or ctx.now >= d.scheduled_at:
        raise Refused(N_("Contributions are closed for this draw."))
    if protocol.contribution_commitment(d.id, secret) != c.commitment:
        raise Refused(N_("This secret does not match your commitment."))
    c.secret, c.revealed_at = secret, ctx.now
    _record(session, d.procedure, actor.actor, "draw.contribution_revealed", {"draw_id": d.id, "by": c.label}, ctx)
    session.commit()
    return c


def _party_of(session, actor: User, d: Draw) -> Party:
    party = session.scalar(select(Party).where(Party.case_id == d.procedure.asset.case_id, Party.user_id == actor.id))
    if actor.role != Role.PARTY or party is None:
        raise NotAllowed()
    return party


def draw_record(d: Draw) -> dict:
    """The public, self-contained record of a draw (what the verifier checks)."""
    return {
        "protocol": protocol.PROTOCOL, "draw_id": d.id, "size": protocol.DRAW_SIZE,
        "case": d.procedure.asset.case.number, "asset": d.procedure.asset.title, "specialty": d.specialty,
        "level": d.level, "region_code": d.region_code, "scheduled_at": d.scheduled_at.isoformat(),
        "drawn_at": d.drawn_at.isoformat() if d.drawn_at else None, "pool": d.pool, "pool_digest": d.pool_digest,
        "exclusions": d.exclusions, "seed_commitment": d.seed_commitment, "seed": d.seed,
        "contributions": [{"by": c.label, "commitment": c.commitment, "secret": c.secret} for c in d.contributions],
        "combined": d.combined, "ranking": d.ranking,
    }


def run_draw(session: Session, *, draw_id: int, ctx: Context) -> Draw | None:
    """Perform a due draw (idempotent: a drawn draw is left alone). Reveals the seed, ranks
    three agencies and offers the commission to rank 1. Commits."""
    d = session.execute(select(Draw).where(Draw.id == draw_id).with_for_update(of=Draw)).scalar_one_or_none()
    if d is None or d.status != "scheduled" or d.scheduled_at > ctx.now:
        session.rollback()
        return None
    seed = ctx.vault.reveal(d.seed_encrypted)
    contributions = [{"by": c.label, "commitment": c.commitment, "secret": c.secret} for c in d.contributions]
    result = protocol.run_draw(draw_id=d.id, pool=d.pool, seed_hex=seed, contributions=contributions)
    d.seed, d.combined, d.ranking, d.drawn_at, d.status = seed, result["combined"], result["ranking"], ctx.now, "drawn"
    proc = d.procedure
    _record(session, proc, "system:draw", "draw.drawn",
            {"draw_id": d.id, "seed": seed, "combined": d.combined, "ranking": d.ranking}, ctx)
    session.flush()
    _offer(session, proc, d, rank=1, ctx=ctx)
    _issue_draw_document(session, d, ctx)
    session.commit()
    return d


def _issue_draw_document(session, d: Draw, ctx: Context) -> None:
    if ctx.store is None:
        return
    from appraisal.documents import render_draw_record
    from core.documents import issue_document

    pdf = render_draw_record(d, draw_record(d), base_url=ctx.base_url)
    issue_document(session, store=ctx.store, kind="draw_record", title=f"摇号记录（{d.procedure.asset.title}）",
                   subject=f"case:{d.procedure.asset.case_id}", data=pdf.data, public=True, actor="system:draw",
                   now=ctx.now, reference=f"摇号-{d.id}", commit=False)


# --- commissions -----------------------------------------------------------------------------


def record_agreed_agencies(session: Session, *, actor: User, procedure_id: int, agency_ids: list[int],
                           ctx: Context) -> Commission:
    """E24: the parties agreed on 3 agencies in order; the officer records them; rank 1 is
    offered the commission."""
    proc = get_procedure(session, procedure_id)
    _officer_for(session, actor, proc)
    if proc.state != ProcedureState.AGENCY_SELECTION:
        raise Refused(N_("Agencies can only be chosen during agency selection."))
    if len(agency_ids) != 3 or len(set(agency_ids)) != 3:
        raise Refused(N_("Choose three different agencies in order."))
    specialty = str(specialty_for(proc.asset.category))
    for agency_id in agency_ids:
        a = session.get(Agency, agency_id)
        if a is None or a.kind != AgencyKind.APPRAISAL or a.status != AgencyStatus.LISTED \
                or specialty not in (a.specialties or []):
            raise Refused(N_("Every agreed agency must be a listed agency of the right specialty list."))
    proc.note = "agreed:" + ",".join(map(str, agency_ids))
    _record(session, proc, actor.actor, "agencies.agreed", {"ranking": agency_ids}, ctx)
    c = _offer(session, proc, None, rank=1, ctx=ctx, ranking=agency_ids)
    session.commit()
    return c


def _ranking_of(proc: Procedure, d: Draw | None) -> list[int]:
    if d is not None:
        return list(d.ranking or [])
    if proc.note.startswith("agreed:"):
        return [int(x) for x in proc.note[len("agreed:"):].split(",")]
    return []


def _offer(session, proc: Procedure, d: Draw | None, *, rank: int, ctx: Context,
           ranking: list[int] | None = None) -> Commission | None:
    """Offer the commission to the agency of ``rank``; past rank 3, schedule a new draw
    excluding every agency tried (decision 14)."""
    ranking = ranking or _ranking_of(proc, d)
    if rank > len(ranking):
        proc.state = ProcedureState.AGENCY_SELECTION
        session.flush()
        at = ctx.now + ctx.rulebook.days(ctx.rulebook.draw_notice_days) + timedelta(minutes=1)
        _record(session, proc, "system:scheduler", "commission.all_failed", {"next": "redraw", "at": at.isoformat()}, ctx)
        try:
            _schedule_redraw(session, proc, at, ctx)
        except Refused:
            notify(session, user_id=proc.asset.case.officer_id, now=ctx.now, subject=f"无法重新摇号：{proc.asset.title}",
                   body="可选评估机构不足三家，请与监督部门联系。")
        return None
    agency = session.get(Agency, ranking[rank - 1])
    c = Commission(draw_id=d.id if d else None, agency_id=agency.id, rank=rank,
                   state=CommissionState.OFFERED, delivered_at=ctx.now,
                   answer_due_at=rules.answer_deadline(ctx.now, ctx.calendar, ctx.rulebook),
                   paused_days=0, extensions_granted=0, extension_days=0)
    proc.commissions.append(c)
    session.flush()
    proc.state = ProcedureState.COMMISSIONED
    if ctx.store is not None:
        from appraisal.documents import render_commission_letter
        from core.documents import issue_document

        pdf = render_commission_letter(c, base_url=ctx.base_url, calendar=ctx.calendar, rulebook=ctx.rulebook)
        doc = issue_document(session, store=ctx.store, kind="commission_letter",
                             title=f"评估委托书（{proc.asset.title}，第{rank}顺位）", subject=f"case:{proc.asset.case_id}",
                             data=pdf.data, public=False, actor="system:appraisal", now=ctx.now,
                             reference=f"委托-{c.id}", commit=False)
        c.letter_sha256 = doc.sha256
    _record(session, proc, "system:appraisal", "commission.offered",
            {"commission_id": c.id, "agency_id": agency.id, "rank": rank, "answer_due": c.answer_due_at.isoformat()}, ctx)
    notify(session, user_id=agency.user_id, email=agency.user.email, now=ctx.now,
           subject=f"评估委托：{proc.asset.case.number}",
           body=f"贵机构在摇号中位列第{rank}顺位，请于 {beijing_time(c.answer_due_at)}（北京时间） 前接受或拒绝委托："
                f"{ctx.base_url}/appraisal/commissions/{c.id}")
    return c


def _schedule_redraw(session, proc: Procedure, at: datetime, ctx: Context) -> Draw:
    session.flush()
    return schedule_draw_in_tx(session, proc, at, ctx)


def schedule_draw_in_tx(session, proc: Procedure, at: datetime, ctx: Context) -> Draw:
    """Like :func:`schedule_draw` for the system (a redraw, decision 14), without committing."""
    return _freeze_draw(session, proc, at, ctx, actor="system:scheduler", requested_region=proc.requested_region)


def _freeze_draw(session, proc: Procedure, at: datetime, ctx: Context, *, actor: str,
                 requested_region: str | None) -> Draw:
    """Freeze the eligible pool, commit to a fresh seed, record both in the ledger and notify
    the parties (decision 14). No commit.

    :raise Refused: when the pool is too small.
    """
    asset = proc.asset
    try:
        pool = rules.draw_pool(agency_facts(session), specialty=specialty_for(asset.category),
                               region=Region(asset.region_code), party_fingerprints=_party_fingerprints(proc),
                               excluded_ids=_tried_agencies(proc), rulebook=ctx.rulebook,
                               requested_region=requested_region)
    except AppraisalRuleError as exc:
        raise Refused(str(exc)) from None
    seed = protocol.new_seed()
    members = [{"id": a.id, "name": a.name, "licence": a.licence} for a in pool.agencies]
    d = Draw(specialty=str(specialty_for(asset.category)), level=pool.level,
             region_code=pool.region_code, scheduled_at=at, status="scheduled", pool=members,
             exclusions=[{"id": i, "name": n, "reason": r} for i, n, r in pool.exclusions],
             pool_digest=protocol.pool_digest(members), seed_commitment=protocol.seed_commitment(seed),
             seed_encrypted=ctx.vault.seal(seed), created_at=ctx.now)
    proc.draws.append(d)
    session.flush()
    _record(session, proc, actor, "draw.scheduled",
            {"draw_id": d.id, "at": at.isoformat(), "pool": [m["id"] for m in members],
             "pool_digest": d.pool_digest, "seed_commitment": d.seed_commitment, "level": pool.level,
             "exclusions": [[i, r] for i, _, r in pool.exclusions]}, ctx)
    for party in asset.case.parties:
        notify(session, user_id=party.user_id, email=party.email, now=ctx.now,
               subject=f"摇号通知：{asset.case.number}",
               body=f"将于 {beijing_time(at)}（北京时间） 在线摇号选定评估机构；您可在摇号前提交自己的随机数并在线观看："
                    f"{ctx.base_url}/appraisal/draws/{d.id}")
    return d


def _commission_for_agency(session, actor: User, commission_id: int) -> Commission:
    c = session.get(Commission, commission_id)
    if c is None:
        raise NotFound()
    agency = agency_of(session, actor)
    if c.agency_id != agency.id:
        raise NotFound()  # agencies never learn about other agencies' commissions
    return c


def answer_commission(session: Session, *, actor: User, commission_id: int, accept: bool, reason: str,
                      ctx: Context) -> Commission:
    """The offered agency accepts, or declines with a reason that is published (decision 14).

    :raise NotFound, Refused:
    """
    c = _commission_for_agency(session, actor, commission_id)
    if c.state != CommissionState.OFFERED:
        raise Refused(N_("This commission has already been answered."))
    if ctx.now >= c.answer_due_at:
        raise Refused(N_("The time to answer has passed."))
    proc = c.procedure
    c.answered_at = ctx.now
    if accept:
        c.state = CommissionState.ACCEPTED
        c.report_due_at = rules.report_due(c.delivered_at, paused_days=0, extension_days=0, calendar=ctx.calendar,
                                           rulebook=ctx.rulebook)
        _record(session, proc, actor.actor, "commission.accepted",
                {"commission_id": c.id, "report_due": c.report_due_at.isoformat()}, ctx)
    else:
        if not (reason or "").strip():
            raise Refused(N_("Give the reason for declining; it is published."))
        c.state, c.decline_reason, c.fee = CommissionState.DECLINED, reason.strip(), Decimal("0.00")
        _record(session, proc, actor.actor, "commission.declined", {"commission_id": c.id, "reason": reason.strip()}, ctx)
        _offer(session, proc, session.get(Draw, c.draw_id) if c.draw_id else None, rank=c.rank + 1, ctx=ctx)
    session.commit()
    return c


def request_extension(session: Session, *, actor: User, commission_id: int, days: int, reason: str,
                      ctx: Context) -> ExtensionRequest:
    """E31: a written request ≥ 5 days before the deadline; at most 2, ≤ 15 days each."""
    c = _commission_for_agency(session, actor, commission_id)
    if c.state != CommissionState.ACCEPTED:
        raise Refused(N_("Only an accepted commission can be extended."))
    if any(e.decision == "pending" for e in c.extensions):
        raise Refused(N_("An extension request is already waiting for the court."))
    if not (reason or "").strip():
        raise Refused(N_("Give the reason for the extension."))
    try:
        rules.check_extension_request(requested_at=ctx.now, due_at=c.report_due_at, granted=c.extensions_granted,
                                      days=days, rulebook=ctx.rulebook)
    except AppraisalRuleError as exc:
        raise Refused(str(exc)) from None
    e = ExtensionRequest(days=days, reason=reason.strip(), requested_at=ctx.now)
    c.extensions.append(e)
    session.flush()
    _record(session, c.procedure, actor.actor, "extension.requested", {"commission_id": c.id, "days": days}, ctx)
    notify(session, user_id=c.procedure.asset.case.officer_id, now=ctx.now, subject="评估机构申请延期",
           body=f"{c.agency.name} 申请延期 {days} 日：{reason.strip()}")
    session.commit()
    return e


def decide_extension(session: Session, *, actor: User, request_id: int, grant: bool, ctx: Context) -> ExtensionRequest:
    """The officer grants or refuses an extension; a grant moves the report deadline."""
    e = session.get(ExtensionRequest, request_id)
    if e is None:
        raise NotFound()
    c = e.commission
    _officer_for(session, actor, c.procedure)
    if e.decision != "pending" or c.state != CommissionState.ACCEPTED:
        raise Refused(N_("This request has already been decided."))
    e.decision, e.decided_at = ("granted" if grant else "refused"), ctx.now
    if grant:
        c.extensions_granted += 1
        c.extension_days += e.days
        c.report_due_at = rules.report_due(c.delivered_at, paused_days=c.paused_days, extension_days=c.extension_days,
                                           calendar=ctx.calendar, rulebook=ctx.rulebook)
    _record(session, c.procedure, actor.actor, f"extension.{e.decision}",
            {"commission_id": c.id, "days": e.days, "report_due": c.report_due_at.isoformat()}, ctx)
    notify(session, user_id=c.agency.user_id, now=ctx.now, subject="延期申请结果",
           body=("准予延期，新的报告期限：" + beijing_time(c.report_due_at) + "（北京时间）") if grant else "延期申请未获准许。")
    session.commit()
    return e


def pause(session: Session, *, actor: User, procedure_id: int, reason: str, ctx: Context) -> Procedure:
    """The case is under 暂缓/中止: every clock of the procedure stops (E30, E45)."""
    proc = get_procedure(session, procedure_id)
    _officer_for(session, actor, proc)
    if proc.state not in rules.OPEN_STATES or proc.state == ProcedureState.PAUSED:
        raise Refused(N_("Only a running procedure can be paused."))
    proc.paused_from, proc.paused_at, proc.state = str(proc.state), ctx.now, ProcedureState.PAUSED
    _record(session, proc, actor.actor, "procedure.paused", {"reason": (reason or "").strip()}, ctx)
    session.commit()
    return proc


def resume(session: Session, *, actor: User, procedure_id: int, ctx: Context) -> Procedure:
    """The cause ended: clocks resume with the days remaining (E30)."""
    proc = get_procedure(session, procedure_id)
    _officer_for(session, actor, proc)
    if proc.state != ProcedureState.PAUSED:
        raise Refused(N_("This procedure is not paused."))
    paused = ctx.now - proc.paused_at
    whole_days = -(-paused // ctx.rulebook.day)  # any part of a day counts as a day
    for c in proc.commissions:
        if c.state == CommissionState.OFFERED and c.answer_due_at:
            c.answer_due_at += paused
        if c.state == CommissionState.ACCEPTED:
            c.paused_days += whole_days
            c.report_due_at = rules.report_due(c.delivered_at, paused_days=c.paused_days,
                                               extension_days=c.extension_days, calendar=ctx.calendar,
                                               rulebook=ctx.rulebook)
    if proc.step_due_at:
        proc.step_due_at += paused
    for d in proc.draws:
        if d.status == "scheduled" and d.scheduled_at < ctx.now + ctx.rulebook.days(ctx.rulebook.draw_notice_days):
            d.scheduled_at = ctx.now + ctx.rulebook.days(ctx.rulebook.draw_notice_days)
    proc.state, proc.paused_from, proc.paused_at = ProcedureState(proc.paused_from), None, None
    _record(session, proc, actor.actor, "procedure.resumed", {"paused_days": whole_days}, ctx)
    session.commit()
    return proc


def withdraw(session: Session, *, actor: User, procedure_id: int, reason: str, ctx: Context) -> Procedure:
    """撤回 (E46/E47): the procedure ends without a price."""
    proc = get_procedure(session, procedure_id)
    _officer_for(session, actor, proc)
    if proc.state not in rules.OPEN_STATES:
        raise Refused(N_("This procedure has already ended."))
    if not (reason or "").strip():
        raise Refused(N_("Give the ground for the withdrawal."))
    proc.state = ProcedureState.WITHDRAWN
    for c in proc.commissions:
        if c.state in (CommissionState.OFFERED, CommissionState.ACCEPTED, CommissionState.REPORTED):
            c.state = CommissionState.WITHDRAWN
    for d in proc.draws:
        if d.status == "scheduled":
            d.status = "void"
    case_services.mark_asset_stage(session, proc.asset, AssetStage.SEIZED, actor=actor.actor, now=ctx.now)
    _record(session, proc, actor.actor, "procedure.withdrawn", {"reason": reason.strip()}, ctx)
    session.commit()
    return proc


# --- valuations and objections ---------------------------------------------------------------


def submit_valuation(session: Session, *, actor: User, commission_id: int, amount: Decimal, effective_on: date,
                     valid_until: date, appraiser_ids: list[int], report: bytes, ctx: Context) -> Valuation:
    """The commissioned agency submits its report: value, dates, two registered signing
    appraisers, the report PDF (E28, E34, E43, E55)."""
    c = _commission_for_agency(session, actor, commission_id)
    proc = c.procedure
    open_review = [v for v in c.valuations if v.status == "correction"]
    if c.state != CommissionState.ACCEPTED and not (c.state == CommissionState.REPORTED and open_review):
        raise Refused(N_("A report can only be submitted for an accepted commission."))
    if proc.state == ProcedureState.PAUSED:
        raise Refused(N_("The procedure is paused."))
    due = open_review[-1].correction_due_at if open_review else c.report_due_at
    if ctx.now >= due:
        raise Refused(N_("The deadline has passed."))
    registered = {a.id for a in c.agency.appraisers if a.active}
    try:
        rules.check_valuation(amount=to_money(amount), effective_on=effective_on, valid_until=valid_until,
                              appraiser_ids=appraiser_ids, registered_ids=registered, today=local_today(ctx.now),
                              rulebook=ctx.rulebook)
    except MoneyError:
        raise Refused(N_("The amount is not valid.")) from None
    except AppraisalRuleError as exc:
        raise Refused(str(exc)) from None
    from cases.uploads import check_document

    check_document("report.pdf", report)
    sha = ctx.store.put(report)
    for v in open_review:
        v.status = "superseded"
    v = Valuation(amount=to_money(amount), effective_on=effective_on, valid_until=valid_until,
                  appraiser_ids=sorted(set(appraiser_ids)), report_sha256=sha, submitted_at=ctx.now, status="submitted")
    c.valuations.append(v)
    c.state = CommissionState.REPORTED
    proc.state = ProcedureState.REPORT_REVIEW
    session.flush()
    _record(session, proc, actor.actor, "valuation.submitted",
            {"valuation_id": v.id, "amount": str(v.amount), "valid_until": valid_until.isoformat(), "report": sha}, ctx)
    notify(session, user_id=proc.asset.case.officer_id, now=ctx.now, subject=f"评估报告已提交：{proc.asset.title}",
           body=f"{c.agency.name} 提交评估报告，评估价 ¥{v.amount:,.2f}，请审查。")
    session.commit()
    return v


def review_valuation(session: Session, *, actor: User, valuation_id: int, accept: bool, note: str,
                     ctx: Context) -> Valuation:
    """The officer reviews a report: a defect (E34) asks the agency to correct or explain
    within 3 days; an accepted report is served on the parties at once (E35), which opens
    each party's 5-day objection window."""
    v = session.get(Valuation, valuation_id)
    if v is None:
        raise NotFound()
    proc = v.commission.procedure
    _officer_for(session, actor, proc)
    if v.status != "submitted" or proc.state != ProcedureState.REPORT_REVIEW:
        raise Refused(N_("This report is not waiting for review."))
    if accept:
        v.status, v.review_note, v.served_at = "accepted", (note or "").strip() or None, ctx.now
        v.objections_close_at = rules.objection_window_end(ctx.now, ctx.calendar, ctx.rulebook)
        proc.state, proc.proposed_price = ProcedureState.SERVED, v.amount
        _record(session, proc, actor.actor, "valuation.served",
                {"valuation_id": v.id, "objections_close": v.objections_close_at.isoformat()}, ctx)
        _serve_notice(session, proc, ctx, f"评估报告（评估价 ¥{v.amount:,.2f}）")
    else:
        if not (note or "").strip():
            raise Refused(N_("Say what must be corrected."))
        v.status, v.review_note = "correction", note.strip()
        v.correction_due_at = ctx.now + ctx.rulebook.days(ctx.rulebook.report_correction_days)
        proc.state = ProcedureState.COMMISSIONED
        _record(session, proc, actor.actor, "valuation.correction_requested",
                {"valuation_id": v.id, "due": v.correction_due_at.isoformat(), "note": note.strip()}, ctx)
        notify(session, user_id=v.commission.agency.user_id, now=ctx.now, subject="评估报告需补正",
               body=f"请于 {beijing_time(v.correction_due_at)}（北京时间） 前书面说明或补正：{note.strip()}")
    session.commit()
    return v


def file_objection(session: Session, *, actor: User, procedure_id: int, kind: ObjectionKind, grounds: str,
                   ctx: Context, submission_id: int | None = None) -> Objection:
    """A party objects within 5 days of receiving the result (E37/E38). Refused for 议价 and
    定向询价 results (E40) and after the window."""
    proc = get_procedure(session, procedure_id)
    party = session.scalar(select(Party).where(Party.case_id == proc.asset.case_id, Party.user_id == actor.id))
    if actor.role != Role.PARTY or party is None:
        raise NotAllowed()
    if not rules.objection_allowed(proc.method):
        raise Refused(N_("No objection can be raised against a negotiated or directed-inquiry price (E40)."))
    valuation = session.get(Valuation, proc.final_valuation_id) if proc.final_valuation_id else None
    if proc.method == Method.COMMISSIONED:
        valuation = next((v for c in proc.commissions for v in c.valuations if v.status == "accepted"), None)
        close_at = valuation.objections_close_at if valuation else None
    else:
        close_at = proc.objections_close_at
    if proc.state not in (ProcedureState.SERVED, ProcedureState.OBJECTION) or close_at is None:
        raise Refused(N_("There is no result to object to now."))
    if ctx.now >= close_at:
        raise Refused(N_("The 5-day objection period has passed (E37); the objection is not accepted."))
    if not (grounds or "").strip():
        raise Refused(N_("State the grounds of the objection."))
    if submission_id is not None:
        sub = session.get(PriceSubmission, submission_id)
        if sub is None or sub.procedure_id != proc.id or sub.agency_id is None or sub.submitted_at is None:
            raise NotFound()
    o = Objection(procedure_id=proc.id, submission_id=submission_id, party_id=party.id, kind=ObjectionKind(kind),
                  grounds=grounds.strip(), filed_at=ctx.now, state=ObjectionState.FILED)
    if valuation is not None:
        valuation.objections.append(o)
    else:
        session.add(o)
    proc.state = ProcedureState.OBJECTION
    session.flush()
    _record(session, proc, actor.actor, "objection.filed", {"objection_id": o.id, "kind": str(o.kind), "by": str(party.role)}, ctx)
    notify(session, user_id=proc.asset.case.officer_id, now=ctx.now, subject=f"对参考价结果提出异议：{proc.asset.title}",
           body=f"{party.name}（{'申请执行人' if party.role == PartyRole.APPLICANT else '被执行人'}）提出异议：{grounds.strip()}")
    session.commit()
    return o


def forward_objection(session: Session, *, actor: User, objection_id: int, ctx: Context) -> Objection:
    """E38: the court forwards a technical objection to the agency (answer within 5 days)."""
    o = session.get(Objection, objection_id)
    if o is None:
        raise NotFound()
    _officer_for(session, actor, session.get(Procedure, o.procedure_id))
    if o.state != ObjectionState.FILED or o.valuation is None:
        raise Refused(N_("Only a new objection to an appraisal report can be forwarded."))
    o.state, o.forwarded_at = ObjectionState.FORWARDED, ctx.now
    o.answer_due_at = rules.agency_answer_deadline(ctx.now, ctx.calendar, ctx.rulebook)
    proc = session.get(Procedure, o.procedure_id)
    _record(session, proc, actor.actor, "objection.forwarded", {"objection_id": o.id, "answer_due": o.answer_due_at.isoformat()}, ctx)
    notify(session, user_id=o.valuation.commission.agency.user_id, now=ctx.now, subject="评估报告异议",
           body=f"当事人对评估报告提出异议，请于 {beijing_time(o.answer_due_at)}（北京时间） 前书面说明：{o.grounds}")
    session.commit()
    return o


def answer_objection(session: Session, *, actor: User, objection_id: int, answer: str, ctx: Context) -> Objection:
    """The agency's written explanation (E38)."""
    o = session.get(Objection, objection_id)
    if o is None or o.valuation is None:
        raise NotFound()
    agency = agency_of(session, actor)
    if o.valuation.commission.agency_id != agency.id:
        raise NotFound()
    if o.state != ObjectionState.FORWARDED:
        raise Refused(N_("This objection is not waiting for your answer."))
    if not (answer or "").strip():
        raise Refused(N_("Write the explanation."))
    o.state, o.answer, o.answered_at = ObjectionState.ANSWERED, answer.strip(), ctx.now
    _record(session, session.get(Procedure, o.procedure_id), actor.actor, "objection.answered", {"objection_id": o.id}, ctx)
    session.commit()
    return o


def decide_objection(session: Session, *, actor: User, objection_id: int, uphold: bool, note: str,
                     ctx: Context, corrected_amount: Decimal | None = None) -> Objection:
    """The officer decides. Upheld procedural/qualification objection to an appraisal → the
    next-ranked agency re-appraises (E39); upheld technical one → the corrected value stands
    (E38/E42); upheld objection to one online result → that result leaves the average (E14).
    Dismissed → the result stands. When no objection remains open the price is final."""
    o = session.get(Objection, objection_id)
    if o is None:
        raise NotFound()
    proc = session.get(Procedure, o.procedure_id)
    _officer_for(session, actor, proc)
    if o.state in (ObjectionState.UPHELD, ObjectionState.DISMISSED):
        raise Refused(N_("This objection has already been decided."))
    if not (note or "").strip():
        raise Refused(N_("Give the reasons for the decision."))
    o.state, o.decision_note, o.decided_at = (ObjectionState.UPHELD if uphold else ObjectionState.DISMISSED), note.strip(), ctx.now
    _record(session, proc, actor.actor, f"objection.{o.state}", {"objection_id": o.id, "note": note.strip()}, ctx)
    if uphold and o.valuation is not None and o.kind == ObjectionKind.PROCEDURAL:
        c = o.valuation.commission
        c.state, c.fee = CommissionState.REPLACED, Decimal("0.00")
        o.valuation.status = "superseded"
        for other in open_objections(session, proc):
            other.state, other.decision_note, other.decided_at = ObjectionState.DISMISSED, "报告已被替换", ctx.now
        _record(session, proc, actor.actor, "commission.replaced", {"commission_id": c.id}, ctx)
        _offer(session, proc, session.get(Draw, c.draw_id) if c.draw_id else None, rank=c.rank + 1, ctx=ctx)
        session.commit()
        return o
    if uphold and o.valuation is not None and corrected_amount is not None:
        o.valuation.amount = to_money(corrected_amount)
        proc.proposed_price = o.valuation.amount
    if uphold and o.submission is not None:
        remaining = [s.amount for s in proc.submissions
                     if s.agency_id and s.submitted_at and s.id not in _upheld_submissions(session, proc)]
        if remaining:
            proc.proposed_price = rules.online_average(remaining)
    if not open_objections(session, proc):
        proc.state = ProcedureState.SERVED
        close_at = objections_close_at(proc)
        if close_at is not None and ctx.now >= close_at:
            _finish_served(session, proc, ctx)
    session.commit()
    return o


def _upheld_submissions(session, proc: Procedure) -> set[int]:
    return set(session.scalars(select(Objection.submission_id).where(
        Objection.procedure_id == proc.id, Objection.state == ObjectionState.UPHELD,
        Objection.submission_id.is_not(None))))


def open_objections(session, proc: Procedure) -> list[Objection]:
    """Objections of the procedure still waiting for a decision."""
    return list(session.scalars(select(Objection).where(
        Objection.procedure_id == proc.id,
        Objection.state.in_([ObjectionState.FILED, ObjectionState.FORWARDED, ObjectionState.ANSWERED]))))


def objections_close_at(proc: Procedure) -> datetime | None:
    """When the objection window of the served result closes (``None`` if nothing is served)."""
    if proc.method == Method.COMMISSIONED:
        v = next((v for c in proc.commissions for v in c.valuations if v.status == "accepted"), None)
        return v.objections_close_at if v else None
    return proc.objections_close_at


def _finish_served(session, proc: Procedure, ctx: Context) -> None:
    if proc.method == Method.COMMISSIONED:
        v = next(v for c in proc.commissions for v in c.valuations if v.status == "accepted")
        _finalise(session, proc, price=v.amount, valid_until=v.valid_until, actor="system:scheduler", ctx=ctx, valuation=v)
    else:
        _finalise(session, proc, price=proc.proposed_price, valid_until=_validity_default(ctx),
                  actor="system:scheduler", ctx=ctx)


# --- the scheduler's work ----------------------------------------------------------------------


def run_due(session: Session, ctx: Context) -> int:
    """Everything in the appraisal procedures that became due at ``ctx.now``: draws, answer
    windows (silence = decline), report deadlines (E32), reminders, objection windows,
    inquiry deadlines. Idempotent."""
    done = 0
    for draw_id in session.scalars(select(Draw.id).where(Draw.status == "scheduled", Draw.scheduled_at <= ctx.now)).all():
        if run_draw(session, draw_id=draw_id, ctx=ctx):
            done += 1
    for cid in session.scalars(select(Commission.id).where(Commission.state == CommissionState.OFFERED,
                                                          Commission.answer_due_at <= ctx.now)).all():
        c = session.get(Commission, cid)
        if c.state == CommissionState.OFFERED and c.answer_due_at <= ctx.now and c.procedure.state != ProcedureState.PAUSED:
            c.state, c.decline_reason, c.fee = CommissionState.DECLINED, "逾期未答复，视为拒绝（决定14）", Decimal("0.00")
            _record(session, c.procedure, "system:scheduler", "commission.silent", {"commission_id": c.id}, ctx)
            _offer(session, c.procedure, session.get(Draw, c.draw_id) if c.draw_id else None, rank=c.rank + 1, ctx=ctx)
            session.commit()
            done += 1
    for cid in session.scalars(select(Commission.id).where(Commission.state == CommissionState.ACCEPTED,
                                                          Commission.report_due_at <= ctx.now)).all():
        c = session.get(Commission, cid)
        if c.state == CommissionState.ACCEPTED and c.procedure.state != ProcedureState.PAUSED \
                and not any(e.decision == "pending" for e in c.extensions):
            c.state, c.fee = CommissionState.LAPSED, Decimal("0.00")
            _record(session, c.procedure, "system:scheduler", "commission.lapsed",
                    {"commission_id": c.id, "materials_return_days": ctx.rulebook.materials_return_days}, ctx)
            notify(session, user_id=c.agency.user_id, now=ctx.now, subject="评估期限届满",
                   body="贵机构未在期限内出具报告且无有效延期，委托终止，请于3日内退回材料（E32）。")
            _offer(session, c.procedure, session.get(Draw, c.draw_id) if c.draw_id else None, rank=c.rank + 1, ctx=ctx)
            session.commit()
            done += 1
    done += _send_reminders(session, ctx)
    for v in session.scalars(select(Valuation).where(Valuation.status == "correction",
                                                    Valuation.correction_due_at <= ctx.now)).all():
        c = v.commission
        if c.state == CommissionState.REPORTED and c.procedure.state == ProcedureState.COMMISSIONED:
            v.status, c.state, c.fee = "superseded", CommissionState.LAPSED, Decimal("0.00")
            _record(session, c.procedure, "system:scheduler", "valuation.correction_missed", {"valuation_id": v.id}, ctx)
            _offer(session, c.procedure, session.get(Draw, c.draw_id) if c.draw_id else None, rank=c.rank + 1, ctx=ctx)
            session.commit()
            done += 1
    for proc in session.scalars(select(Procedure).where(Procedure.state == ProcedureState.SERVED)).all():
        close_at = objections_close_at(proc)
        if close_at is not None and close_at <= ctx.now and not open_objections(session, proc):
            _finish_served(session, proc, ctx)
            session.commit()
            done += 1
    for proc in session.scalars(select(Procedure).where(
            Procedure.state.in_([ProcedureState.ONLINE_INQUIRY, ProcedureState.ONLINE_EXTENDED]),
            Procedure.step_due_at <= ctx.now)).all():
        _close_online_step(session, proc, ctx)
        session.commit()
        done += 1
    for proc in session.scalars(select(Procedure).where(
            Procedure.state.in_([ProcedureState.NEGOTIATION, ProcedureState.DIRECTED_INQUIRY]),
            Procedure.step_due_at <= ctx.now, Procedure.note.not_like("%deadline-noted%"))).all():
        proc.note = (proc.note + " deadline-noted").strip()
        _record(session, proc, "system:scheduler", "procedure.step_expired", {"state": str(proc.state)}, ctx)
        notify(session, user_id=proc.asset.case.officer_id, now=ctx.now, subject=f"参考价程序期限届满：{proc.asset.title}",
               body="议价或定向询价未在期限内形成结果，请选择下一种确定参考价的方式（E05、E07、E18）。")
        session.commit()
    session.rollback()
    return done


def _send_reminders(session: Session, ctx: Context) -> int:
    """Remind before every deadline an agency can miss: the answer (1 day ahead), the report
    (3 days ahead) and the answer to an objection (1 day ahead). Each is sent once."""
    sent = 0
    one_day, three_days = ctx.rulebook.days(1), ctx.rulebook.days(3)
    for c in session.scalars(select(Commission).where(Commission.state == CommissionState.OFFERED,
                                                     Commission.answer_reminded_at.is_(None),
                                                     Commission.answer_due_at <= ctx.now + one_day)).all():
        c.answer_reminded_at = ctx.now
        notify(session, user_id=c.agency.user_id, email=c.agency.user.email, now=ctx.now, subject="请答复评估委托",
               body=f"请于 {beijing_time(c.answer_due_at)}（北京时间） 前接受或拒绝委托；逾期未答复视为拒绝。")
        sent += 1
    for c in session.scalars(select(Commission).where(Commission.state == CommissionState.ACCEPTED,
                                                     Commission.report_reminded_at.is_(None),
                                                     Commission.report_due_at <= ctx.now + three_days)).all():
        c.report_reminded_at = ctx.now
        notify(session, user_id=c.agency.user_id, email=c.agency.user.email, now=ctx.now, subject="评估报告即将到期",
               body=f"报告期限：{beijing_time(c.report_due_at)}（北京时间）。如需延期，应至少提前5日书面申请（E31）。")
        sent += 1
    for o in session.scalars(select(Objection).where(Objection.state == ObjectionState.FORWARDED,
                                                    Objection.reminded_at.is_(None),
                                                    Objection.answer_due_at <= ctx.now + one_day)).all():
        o.reminded_at = ctx.now
        agency = o.valuation.commission.agency
        notify(session, user_id=agency.user_id, email=agency.user.email, now=ctx.now, subject="请答复评估报告异议",
               body=f"请于 {beijing_time(o.answer_due_at)}（北京时间） 前书面说明（E38）。")
        sent += 1
    if sent:
        session.commit()
    return sent


def upcoming(session: Session) -> list[datetime]:
    """Due times to arm precise timers for."""
    times = list(session.scalars(select(Draw.scheduled_at).where(Draw.status == "scheduled")))
    times += list(session.scalars(select(Commission.answer_due_at).where(Commission.state == CommissionState.OFFERED)))
    times += list(session.scalars(select(Commission.report_due_at).where(Commission.state == CommissionState.ACCEPTED)))
    times += [t for t in session.scalars(select(Valuation.objections_close_at).where(Valuation.status == "accepted")) if t]
    times += [t for t in session.scalars(select(Procedure.step_due_at).where(Procedure.step_due_at.is_not(None))) if t]
    return times


def switch_method(session: Session, *, actor: User, procedure_id: int, method: Method, ctx: Context,
                  deadline_days: int | None = None, institution_id: int | None = None) -> Procedure:
    """When 议价 or 定向询价 fails, the officer moves on to the next method (section c)."""
    proc = get_procedure(session, procedure_id)
    _officer_for(session, actor, proc)
    if proc.state not in (ProcedureState.NEGOTIATION, ProcedureState.DIRECTED_INQUIRY):
        raise Refused(N_("The method can only be changed after a negotiation or directed inquiry."))
    proc.state = ProcedureState.WITHDRAWN
    _record(session, proc, actor.actor, "procedure.method_changed", {"to": str(method)}, ctx)
    session.flush()
    return open_procedure(session, actor=actor, asset_id=proc.asset_id, method=method, ctx=ctx,
                          deadline_days=deadline_days, institution_id=institution_id)


# --- fees (E49–E52) ----------------------------------------------------------------------------


def record_fee_advance(session: Session, *, actor: User, commission_id: int, estimated_fee: Decimal,
                       ctx: Context) -> Decimal:
    """E51/E52: the applicant advances 50 % of the estimated appraisal fee into the court
    account; the case-fund ledger records it (source ``commission:<id>``). Returns the amount."""
    c = session.get(Commission, commission_id)
    if c is None:
        raise NotFound()
    _officer_for(session, actor, c.procedure)
    if c.state not in (CommissionState.ACCEPTED, CommissionState.REPORTED, CommissionState.COMPLETED):
        raise Refused(N_("An advance is paid for an accepted commission."))
    try:
        advance = rules.fee_advance(to_money(estimated_fee), ctx.rulebook)
    except MoneyError:
        raise Refused(N_("The amount is not valid.")) from None
    if advance <= 0:
        raise Refused(N_("The amount must be greater than zero."))
    from cases.rules import FundMovement

    case_services.record_fund_movement(session, case_id=c.procedure.asset.case_id, kind=FundMovement.RECEIVED,
                                       amount=advance, source=f"commission:{c.id}",
                                       memo="申请执行人预交评估费（50%）", actor=actor.actor, now=ctx.now, commit=False)
    _record(session, c.procedure, actor.actor, "fee.advance_received",
            {"commission_id": c.id, "estimated_fee": str(to_money(estimated_fee)), "advance": str(advance)}, ctx)
    session.commit()
    return advance


def settle_appraisal_fee(session: Session, *, actor: User, commission_id: int, fee: Decimal, ctx: Context) -> Decimal:
    """Pay the agency its fee out of the court account (E50: computed by the officer on the
    base given by :func:`appraisal.rules.appraisal_fee_base`; a late or replaced agency is paid
    nothing)."""
    c = session.get(Commission, commission_id)
    if c is None:
        raise NotFound()
    _officer_for(session, actor, c.procedure)
    if c.state in rules.FAILED_COMMISSIONS:
        raise Refused(N_("A declined, late or replaced agency is paid nothing (E32, E50)."))
    if c.state != CommissionState.COMPLETED:
        raise Refused(N_("The fee is settled once the report has become the reference price."))
    try:
        fee = to_money(fee)
    except MoneyError:
        raise Refused(N_("The amount is not valid.")) from None
    from cases.rules import FundMovement

    try:
        case_services.record_fund_movement(session, case_id=c.procedure.asset.case_id, kind=FundMovement.PAID_OUT,
                                           amount=fee, source=f"commission:{c.id}", memo=f"评估费：{c.agency.name}",
                                           actor=actor.actor, now=ctx.now, commit=False)
    except case_services.InvalidCase as exc:
        raise Refused(exc.message) from None
    c.fee = fee
    _record(session, c.procedure, actor.actor, "fee.paid", {"commission_id": c.id, "fee": str(fee)}, ctx)
    session.commit()
    return fee


def settle_online_inquiry_fee(session: Session, *, actor: User, procedure_id: int, sale_price: Decimal,
                              fee: Decimal, ctx: Context) -> dict[int, Decimal]:
    """E49: the inquiry fee goes only to the platform(s) whose result was closest to the final
    sale price, split equally on a tie; paid out of the case funds. Returns ``{agency_id: amount}``.

    :raise Refused: not a final online inquiry, bad amounts, already paid, or not enough funds.
    """
    proc = get_procedure(session, procedure_id)
    _officer_for(session, actor, proc)
    if proc.method != Method.ONLINE_INQUIRY or proc.state != ProcedureState.FINAL:
        raise Refused(N_("The inquiry fee is settled for a final online-inquiry price."))
    if "fee-paid" in (proc.note or ""):
        raise Refused(N_("The inquiry fee has already been paid."))
    try:
        sale_price, fee = to_money(sale_price), to_money(fee)
    except MoneyError:
        raise Refused(N_("The amount is not valid.")) from None
    if sale_price <= 0 or fee <= 0:
        raise Refused(N_("The amount must be greater than zero."))
    results = {s.agency_id: s.amount for s in proc.submissions if s.agency_id and s.submitted_at and s.on_time}
    winners = rules.online_fee_winners(results, sale_price)
    if not winners:
        raise Refused(N_("No platform delivered a result in time: no inquiry fee is due (E49)."))
    share = to_money(fee / len(winners))
    from cases.rules import FundMovement

    paid: dict[int, Decimal] = {}
    for i, agency_id in enumerate(winners):
        amount = fee - share * (len(winners) - 1) if i == len(winners) - 1 else share  # cents add up
        try:
            case_services.record_fund_movement(session, case_id=proc.asset.case_id, kind=FundMovement.PAID_OUT,
                                               amount=amount, source=f"inquiry:{proc.id}:{agency_id}",
                                               memo="网络询价费（E49）", actor=actor.actor, now=ctx.now, commit=False)
        except case_services.InvalidCase as exc:
            raise Refused(exc.message) from None
        paid[agency_id] = amount
    proc.note = ((proc.note or "") + " fee-paid").strip()
    _record(session, proc, actor.actor, "fee.inquiry_paid",
            {"sale_price": str(sale_price), "winners": winners, "fee": str(fee)}, ctx)
    session.commit()
    return paid
