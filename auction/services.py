"""Auction use cases (RULES.md section b): create a lot from priced assets, notify, confirm
priority holders, publish, open bidding, and everything the court decides around a round:
暂缓/中止/resume/撤回/撤销, the outcome of a sale (balance, ruling, handover, 悔拍), 流拍 →
二拍 → 变卖, 以物抵债.

The close of a round is the bidding package's: it calls :func:`record_sale` or
:func:`record_no_sale` inside its own transaction. Every function here checks its actor,
writes the audit ledger on the lot's stream and commits once (``commit=False`` for callers
that own the transaction).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Role, User
from appraisal.models import Procedure, Valuation
from appraisal.rules import ProcedureState, grace_until
from auction import rules
from auction.models import BarredBidder, Lot, LotAsset, Notice, PriorityHolder, Round, RoundEvent
from auction.rules import AuctionRuleError, NoticeFacts, NoticeMethod, RoundKind, RoundState
from cases import services as case_services
from cases.models import Asset, Case, Party
from cases.rules import AssetStage, CaseRuleError, PartyKind, PartyRole, is_movable, local_today, validate_party_id
from core import audit
from core.calendar import local_date
from core.context import Context
from core.money import MoneyError, to_money
from core.notify import notify
from core.text import N_, DomainError, NotAllowed, NotFound, Refused  # noqa: F401  (shared, re-exported)

ACTIVE_STATES = {s for s in RoundState} - {RoundState.WITHDRAWN, RoundState.ANNULLED, RoundState.HANDED_OVER,
                                           RoundState.VARIATION_FAILED, RoundState.TAKEN_IN_PAYMENT}


# --- helpers ------------------------------------------------------------------------------------


def _stream(lot: Lot) -> str:
    return f"lot:{lot.id}"


def _event(session, rnd: Round, kind: str, actor: str, ctx: Context, *, reason: str = "", public: bool = True,
           payload: dict | None = None) -> None:
    event = RoundEvent(kind=kind, reason=reason, public=public, at=ctx.now, actor=actor)
    if "events" in sa_inspect(rnd).unloaded:
        session.add(event)  # no need to load every earlier event (the close adds one per round)
        event.round_id = rnd.id
    else:
        rnd.events.append(event)
    audit.record(session, stream=_stream(rnd.lot), actor=actor, action=f"round.{kind}", subject=f"round:{rnd.id}",
                 payload={"reason": reason, **(payload or {})}, now=ctx.now)


def _move(rnd: Round, event: str, *, target: RoundState | None = None) -> None:
    try:
        rnd.state = rules.next_state(rnd.state, event, target=target)
    except AuctionRuleError as exc:
        raise Refused(str(exc), state=str(rnd.state)) from None


def _officer_lot(session, actor: User, lot_id: int) -> Lot:
    # Lock the lot: two officers acting on it at once (two relists) must queue, not collide.
    lot = session.execute(select(Lot).where(Lot.id == lot_id).with_for_update(of=Lot)
                          .execution_options(populate_existing=True)).scalar_one_or_none()
    if lot is None:
        raise NotFound()
    if actor.role == Role.ADMIN:
        raise NotAllowed()  # the administrator's only act on a lot is the emergency 暂缓 (A47)
    try:
        case_services.get_case_for(session, actor, lot.case_id, edit=True)
    except case_services.CaseNotFound:
        raise NotFound() from None
    except case_services.NotAllowed:
        raise NotAllowed() from None
    return lot


def _officer_round(session, actor: User, round_id: int) -> Round:
    rnd = _locked(session, round_id)  # the state is re-read under the lock (two payments at once)
    if rnd is None:
        raise NotFound()
    _officer_lot(session, actor, rnd.lot_id)
    return rnd


def can_view_lot(user: User | None, lot: Lot) -> bool:
    """Court staff of the case (and supervisors, parties) see drafts; everyone sees a lot once
    a round has been published."""
    if any(r.published_at for r in lot.rounds):
        return True
    return user is not None and user.is_authenticated and case_services.can_view_case(user, lot.case)


# --- lots and terms -----------------------------------------------------------------------------


@dataclass
class Terms:
    """What the court (its collegiate panel, A45) fixes for a round."""

    starting_price: Decimal
    deposit: Decimal
    increment: Decimal
    start_at: datetime
    end_at: datetime
    balance_days: int = 30
    taxes: list[dict] = field(default_factory=list)
    inspection: str = ""
    panel_record: str = ""
    court_contact: str = ""
    title_and_possession: str = ""
    defects_statement: str = ""
    special_notes: str = ""


def _check_terms(lot: Lot, kind: RoundKind, t: Terms, previous_start: Decimal | None, ctx: Context) -> None:
    try:
        rules.check_terms(kind=kind, starting_price=to_money(t.starting_price), deposit=to_money(t.deposit),
                          increment=to_money(t.increment), reference_price=lot.reference_price,
                          previous_start=previous_start, rulebook=ctx.rulebook)
        if kind is not RoundKind.VARIATION:
            rules.check_schedule(start_at=t.start_at, end_at=t.end_at, rulebook=ctx.rulebook)
    except MoneyError:
        raise Refused(N_("An amount is not valid.")) from None
    except AuctionRuleError as exc:
        floor = rules.min_starting_price(kind=kind, reference_price=lot.reference_price,
                                         previous_start=previous_start, rulebook=ctx.rulebook) \
            if kind is not RoundKind.VARIATION else t.starting_price
        low, high = rules.deposit_bounds(to_money(t.starting_price), ctx.rulebook) \
            if t.starting_price > 0 else (Decimal(0), Decimal(0))
        raise Refused(str(exc), floor=f"¥{floor:,.2f}", low=f"¥{low:,.2f}", high=f"¥{high:,.2f}") from None
    if t.start_at <= ctx.now:
        raise Refused(N_("Bidding must start in the future."))
    _check_conditions(t.balance_days, t.taxes)


def _check_conditions(balance_days: int, taxes: list[dict]) -> None:
    """A39 balance period and decision 17 taxes, for auctions and 变卖 alike."""
    if not 1 <= int(balance_days) <= 365:
        raise Refused(N_("The balance payment period must be between 1 and 365 days (A39)."))
    for tax in taxes:
        if not (tax.get("tax") or "").strip() or tax.get("payer") not in ("buyer", "debtor", "court"):
            raise Refused(N_("Each tax needs its name and who bears it (decision 17)."))


def _apply_terms(rnd: Round, t: Terms) -> None:
    rnd.starting_price, rnd.deposit, rnd.increment = to_money(t.starting_price), to_money(t.deposit), to_money(t.increment)
    rnd.start_at, rnd.end_at, rnd.balance_days = t.start_at, t.end_at, int(t.balance_days)
    rnd.taxes = [{"tax": x["tax"].strip(), "payer": x["payer"]} for x in t.taxes]
    for name in ("inspection", "panel_record", "court_contact", "title_and_possession", "defects_statement",
                 "special_notes"):
        setattr(rnd, name, (getattr(t, name) or "").strip())


def _final_procedure(session, asset: Asset) -> Procedure | None:
    return session.scalar(select(Procedure).where(Procedure.asset_id == asset.id,
                                                  Procedure.state == ProcedureState.FINAL)
                          .order_by(Procedure.final_at.desc()).limit(1))


def create_lot(session: Session, *, actor: User, asset_ids: list[int], title: str, terms: Terms,
               ctx: Context) -> Lot:
    """A lot from one asset, or a bundle of one case or one series (B03), each with a final
    reference price still valid; its first round is a DRAFT with the checked terms (A05, A19,
    A26, A27).

    :raise NotAllowed, NotFound, Refused:
    """
    if not asset_ids:
        raise Refused(N_("Choose at least one asset."))
    # Lock the assets: two lots created at once for one asset must not both pass the check below.
    assets = [session.execute(select(Asset).where(Asset.id == i).with_for_update(of=Asset)).scalar_one_or_none()
              for i in dict.fromkeys(asset_ids)]
    if any(a is None for a in assets):
        raise NotFound()
    for a in assets:
        try:
            case_services.get_case_for(session, actor, a.case_id, edit=True)
        except case_services.CaseNotFound:
            raise NotFound() from None
        except case_services.NotAllowed:
            raise NotAllowed() from None
    cases = {a.case_id for a in assets}
    series = {a.case.series_id for a in assets}
    if len(cases) > 1 and (len(series) > 1 or None in series):
        raise Refused(N_("A bundle holds assets of one case or of one series (B03)."))
    procedures = []
    today = local_today(ctx.now)
    for a in assets:
        proc = _final_procedure(session, a)
        if proc is None:
            raise Refused(N_("%(asset)s has no final reference price yet."), asset=a.title)
        if proc.valid_until < today:
            raise Refused(N_("The reference price of %(asset)s has expired (E43); a new one is needed."), asset=a.title)
        if session.scalar(select(LotAsset.id).join(Lot).join(Round).where(
                LotAsset.asset_id == a.id, Round.state.in_([s.value for s in ACTIVE_STATES]))):
            raise Refused(N_("%(asset)s is already in a lot being sold."), asset=a.title)
        procedures.append(proc)
    if not (title or "").strip():
        raise Refused(N_("The lot needs a title."))
    lot = Lot(case_id=assets[0].case_id, title=title.strip()[:200],
              reference_price=to_money(sum((p.reference_price for p in procedures), Decimal(0))),
              valid_until=min(p.valid_until for p in procedures),
              movable=all(is_movable(a.category) for a in assets),
              housing=any(str(a.category) == "real_estate" for a in assets), created_at=ctx.now,
              created_by_id=actor.id)
    session.add(lot)
    for a, p in zip(assets, procedures, strict=True):
        lot.assets.append(LotAsset(asset_id=a.id, procedure_id=p.id, reference_price=p.reference_price))
    _check_terms(lot, RoundKind.FIRST, terms, None, ctx)
    rnd = Round(seq=1, kind=RoundKind.FIRST, state=RoundState.DRAFT, created_at=ctx.now)
    _apply_terms(rnd, terms)
    lot.rounds.append(rnd)
    session.flush()
    audit.record(session, stream=_stream(lot), actor=actor.actor, action="lot.created", subject=f"lot:{lot.id}",
                 payload={"assets": [a.id for a in assets], "reference_price": str(lot.reference_price),
                          "starting_price": str(rnd.starting_price), "deposit": str(rnd.deposit),
                          "increment": str(rnd.increment), "start_at": rnd.start_at.isoformat(),
                          "end_at": rnd.end_at.isoformat()}, now=ctx.now)
    session.commit()
    return lot


def update_terms(session: Session, *, actor: User, round_id: int, terms: Terms, ctx: Context) -> Round:
    """Change a round's terms before it is published. :raise Refused:"""
    rnd = _officer_round(session, actor, round_id)
    if rnd.state not in (RoundState.DRAFT, RoundState.NOTIFYING, RoundState.VARIATION_ANNOUNCED) or rnd.published_at:
        raise Refused(N_("The terms cannot change once the announcement is published."))
    _check_terms(rnd.lot, RoundKind(rnd.kind), terms, _previous_start(rnd), ctx)
    _apply_terms(rnd, terms)
    _event(session, rnd, "terms_changed", actor.actor, ctx, public=False,
           payload={"starting_price": str(rnd.starting_price), "deposit": str(rnd.deposit)})
    session.commit()
    return rnd


def _previous_start(rnd: Round) -> Decimal | None:
    earlier = [r for r in rnd.lot.rounds if r.seq < rnd.seq]
    return earlier[-1].starting_price if earlier else None


# --- notices and priority holders ---------------------------------------------------------------


def record_notice(session: Session, *, actor: User, round_id: int, method: NoticeMethod, detail: str, at: datetime,
                  ctx: Context, party_id: int | None = None, holder_id: int | None = None) -> Notice:
    """Record how and when a party or priority holder was notified of the round (A15), that it
    could not be reached and the notice was published on the platform (A17), or its written
    waiver (A16). The first notice moves a DRAFT round to NOTIFYING."""
    rnd = _officer_round(session, actor, round_id)
    if rnd.state not in (RoundState.DRAFT, RoundState.NOTIFYING, RoundState.VARIATION_ANNOUNCED) or rnd.published_at:
        raise Refused(N_("Notices are recorded before the announcement is published."))
    if (party_id is None) == (holder_id is None):
        raise Refused(N_("Choose who was notified."))
    if party_id is not None:
        party = session.get(Party, party_id)
        if party is None or party.case_id != rnd.lot.case_id:
            raise NotFound()
        label = "申请执行人" if party.role == PartyRole.APPLICANT else "被执行人"
    else:
        holder = session.get(PriorityHolder, holder_id)
        if holder is None or holder.lot_id != rnd.lot_id:
            raise NotFound()
        label = "优先购买权人"
    if at > ctx.now:
        raise Refused(N_("A notice cannot be dated in the future."))
    if not (detail or "").strip():
        raise Refused(N_("Say how the notice was served, or why the recipient could not be reached."))
    n = Notice(party_id=party_id, holder_id=holder_id, recipient=label, method=NoticeMethod(method),
               detail=detail.strip()[:300], at=at, recorded_by_id=actor.id)
    rnd.notices.append(n)
    if rnd.state == RoundState.DRAFT:
        _move(rnd, "serve_notices")
    session.flush()
    _event(session, rnd, "notice_recorded", actor.actor, ctx, public=False,
           payload={"notice_id": n.id, "recipient": label, "method": str(n.method), "at": at.isoformat()})
    session.commit()
    return n


def add_priority_holder(session: Session, *, actor: User, lot_id: int, name: str, kind: PartyKind, id_number: str,
                        right: str, rank: int, ctx: Context) -> PriorityHolder:
    """Confirm a pre-emption right holder and its rank (A25, A45); 1 is the highest rank."""
    lot = _officer_lot(session, actor, lot_id)
    if any(r.published_at for r in lot.rounds if r.state in ACTIVE_STATES) and lot.current.state != RoundState.UNSOLD:
        raise Refused(N_("Priority holders are confirmed before the announcement."))
    if not (name or "").strip() or not (right or "").strip():
        raise Refused(N_("Give the holder's name and the nature of the right."))
    if not 1 <= int(rank) <= 9:
        raise Refused(N_("The rank is a number from 1 (highest) to 9."))
    try:
        number = validate_party_id(PartyKind(kind), id_number, today=local_today(ctx.now))
    except CaseRuleError as exc:
        raise Refused(str(exc)) from None
    h = PriorityHolder(name=name.strip(), id_number_encrypted=ctx.vault.seal(number),
                       id_number_hmac=ctx.vault.fingerprint(number), id_number_tail=number[-4:], right=right.strip(),
                       rank=int(rank), confirmed_at=ctx.now)
    lot.priority_holders.append(h)
    session.flush()
    audit.record(session, stream=_stream(lot), actor=actor.actor, action="priority_holder.confirmed",
                 subject=f"lot:{lot.id}", payload={"holder_id": h.id, "right": h.right, "rank": h.rank}, now=ctx.now)
    session.commit()
    return h


# --- publication -----------------------------------------------------------------------------------


def publication_check(session: Session, rnd: Round, ctx: Context) -> list[str]:
    """Every reason the round cannot be published now (msgids; empty when it can)."""
    lot = rnd.lot
    problems: list[str] = []
    if rnd.state not in (RoundState.NOTIFYING, RoundState.VARIATION_ANNOUNCED) or rnd.published_at:
        return [N_("Only a round whose notices are served can be published.")]
    notices: dict[tuple[str, int], list[Notice]] = {}
    for n in rnd.notices:
        notices.setdefault(("party", n.party_id) if n.party_id else ("holder", n.holder_id), []).append(n)
    recipients = [("party", p.id) for p in lot.case.parties] + [("holder", h.id) for h in lot.priority_holders]
    facts = []
    for key in recipients:
        if key not in notices:
            problems.append(N_("Every party and priority holder must be notified first (A15, decision 28)."))
            break
        best = max(notices[key], key=lambda n: (n.method == NoticeMethod.WAIVED, n.method == NoticeMethod.SERVED))
        facts.append(NoticeFacts(NoticeMethod(best.method), best.at))
    if not problems and not rules.notices_ready(facts, publish_at=ctx.now, rulebook=ctx.rulebook):
        problems.append(N_("Notices must be served at least 3 days before the announcement, or published for 5 days "
                           "and then 3 more days when a recipient cannot be reached (A15, A17, decision 4)."))
    try:
        rules.check_lead_time(kind=RoundKind(rnd.kind), movable=lot.movable, publish_at=ctx.now, start_at=rnd.start_at,
                              rulebook=ctx.rulebook, local_date=local_date)
    except AuctionRuleError as exc:
        problems.append(str(exc))
    try:
        rules.within_validity(valid_until=lot.valid_until, publish_day=local_today(ctx.now),
                              start_day=local_date(rnd.start_at), grace_until=grace_until(lot.valid_until, ctx.rulebook))
    except AuctionRuleError as exc:
        problems.append(str(exc))
    present = {
        "basis_document": bool(lot.case.basis_file_sha256),
        "appraisal_report": all(_report_or_basis(session, la) for la in lot.assets),
        "photos": all(la.asset.photos for la in lot.assets),
        "title_and_possession": bool(rnd.title_and_possession),
        "defects": bool(rnd.defects_statement),
        "notice_status": True,
        "taxes": bool(rnd.taxes),
        "court_contact": bool(rnd.court_contact),
        "balance_period": rnd.balance_days > 0,
    }
    problems += [N_("Missing for the announcement: %(item)s.") + "|" + item
                 for item in rules.missing_publication_items(present)]
    return problems


def _report_or_basis(session, la: LotAsset) -> bool:
    """A12(3): a copy of the appraisal report, or the pricing basis when there was none."""
    proc = session.get(Procedure, la.procedure_id)
    if proc is None:
        return False
    if proc.final_valuation_id:
        return session.get(Valuation, proc.final_valuation_id) is not None
    return proc.reference_price is not None


def publish(session: Session, *, actor: User, round_id: int, ctx: Context) -> Round:
    """Publish the announcement (A10–A13): every notice rule, the lead time, the price's
    validity and the whole publication set must hold; the announcement PDF (拍卖公告) goes
    to the case file and the public lot page.

    :raise Refused: with every missing condition.
    """
    rnd = _officer_round(session, actor, round_id)
    problems = publication_check(session, rnd, ctx)
    if problems:
        first = problems[0]
        if "|" in first:
            msg, item = first.split("|", 1)
            raise Refused(msg, item=item, days=rules.lead_days(kind=RoundKind(rnd.kind), movable=rnd.lot.movable,
                                                               rulebook=ctx.rulebook))
        raise Refused(first, days=rules.lead_days(kind=RoundKind(rnd.kind), movable=rnd.lot.movable,
                                                 rulebook=ctx.rulebook))
    if rnd.state == RoundState.NOTIFYING:
        _move(rnd, "publish")
    rnd.published_at = ctx.now
    for la in rnd.lot.assets:
        case_services.mark_asset_stage(session, la.asset,
                                       AssetStage.VARIATION if rnd.kind == RoundKind.VARIATION else AssetStage.LISTED,
                                       actor=actor.actor, now=ctx.now)
    if ctx.store is not None:
        from auction.documents import render_announcement
        from core.documents import issue_document

        pdf = render_announcement(rnd, base_url=ctx.base_url)
        doc = issue_document(session, store=ctx.store, kind="announcement",
                             title=f"拍卖公告（{rnd.lot.title}，{round_label(rnd)}）", subject=f"case:{rnd.lot.case_id}",
                             data=pdf.data, public=True, actor=actor.actor, now=ctx.now,
                             reference=f"公告-{rnd.lot_id}-{rnd.seq}", commit=False)
        rnd.announcement_sha256 = doc.sha256
    _event(session, rnd, "published", actor.actor, ctx,
           payload={"start_at": rnd.start_at.isoformat(), "end_at": rnd.end_at.isoformat(),
                    "starting_price": str(rnd.starting_price), "deposit": str(rnd.deposit)})
    session.commit()
    return rnd


def round_label(rnd: Round) -> str:
    return {RoundKind.FIRST: "第一次拍卖", RoundKind.SECOND: "第二次拍卖", RoundKind.RESALE: "重新拍卖",
            RoundKind.VARIATION: "变卖"}[RoundKind(rnd.kind)]


# --- 暂缓 / 中止 / resume / 撤回 / 撤销 ---------------------------------------------------------------


def suspend(session: Session, *, actor: User, round_id: int, reason: str, ctx: Context, halt: bool = False) -> Round:
    """暂缓 (A46) or, with ``halt``, 中止 by ruling: bidding stops and the reason is published
    at once (A48). The administrator may only suspend, for a platform emergency (A47), and
    the officer is told at once."""
    rnd = _locked(session, round_id)
    if rnd is None:
        raise NotFound()
    emergency = actor.role == Role.ADMIN
    if emergency:
        if halt:
            raise NotAllowed()
    else:
        _officer_round(session, actor, round_id)
    if not (reason or "").strip():
        raise Refused(N_("Give the reason; it is published at once (A48)."))
    paused_from = str(rnd.state)
    _move(rnd, "halt" if halt else "suspend")
    rnd.paused_from, rnd.paused_at, rnd.emergency, rnd.resume_by = paused_from, ctx.now, emergency, None
    _event(session, rnd, "halted" if halt else "suspended", actor.actor, ctx, reason=reason.strip(),
           payload={"emergency": emergency})
    if emergency:
        notify(session, user_id=rnd.lot.case.officer_id, now=ctx.now, subject=f"平台紧急暂缓：{rnd.lot.title}",
               body=f"平台因系统故障或安全风险先行暂缓拍卖（A47），原因：{reason.strip()}。请及时决定后续处理。")
    session.commit()
    return rnd


def record_cause_ended(session: Session, *, actor: User, round_id: int, ctx: Context) -> Round:
    """The officer records that the cause of the 暂缓/中止 has ended: resumption is due within
    5 days (A49, decision 30)."""
    rnd = _officer_round(session, actor, round_id)
    if rnd.state not in (RoundState.SUSPENDED, RoundState.HALTED):
        raise Refused(N_("This round is not suspended."))
    rnd.resume_by = rules.resume_deadline(local_today(ctx.now), ctx.rulebook)
    _event(session, rnd, "cause_ended", actor.actor, ctx, public=False, payload={"resume_by": rnd.resume_by.isoformat()})
    session.commit()
    return rnd


def resume(session: Session, *, actor: User, round_id: int, ctx: Context, new_end_at: datetime | None = None) -> Round:
    """Resume a suspended round. Bids placed before stand; a round that was bidding runs again
    for at least 24 hours from now (decision 8). The administrator cannot resume (A47)."""
    rnd = _officer_round(session, actor, round_id)
    if rnd.state not in (RoundState.SUSPENDED, RoundState.HALTED):
        raise Refused(N_("This round is not suspended."))
    back_to = RoundState(rnd.paused_from)
    if back_to == RoundState.BIDDING or (back_to == RoundState.ANNOUNCED and rnd.start_at <= ctx.now):
        minimum = ctx.now + ctx.rulebook.resumed_min_bidding_period
        end = new_end_at or minimum
        if end < minimum:
            raise Refused(N_("A resumed round must bid again for at least 24 hours (decision 8)."))
        rnd.end_at = end
        target = RoundState.BIDDING
    else:
        target = RoundState.ANNOUNCED
    _move(rnd, "resume", target=target)
    rnd.paused_from = rnd.paused_at = None
    rnd.resume_by, rnd.emergency = None, False
    _event(session, rnd, "resumed", actor.actor, ctx, payload={"end_at": rnd.end_at.isoformat(), "state": str(target)})
    session.commit()
    return rnd


#: A52: the grounds on which a sale is annulled.
ANNUL_GROUNDS = ("misdescription", "system_failure", "collusion", "unqualified_buyer", "unequal_conditions",
                 "procedure")
WITHDRAW_GROUNDS = ("basis_revoked", "application_withdrawn", "debt_paid", "settlement", "third_party_objection",
                    "collusion", "other")


def withdraw(session: Session, *, actor: User, round_id: int, ground: str, reason: str, ctx: Context) -> Round:
    """撤回 before a sale on a ground of B05/B06; deposits are refunded (the bidding package
    listens for the ``withdrawn`` event)."""
    rnd = _officer_round(session, actor, round_id)
    if ground not in WITHDRAW_GROUNDS or not (reason or "").strip():
        raise Refused(N_("Choose the ground of the withdrawal (B05/B06) and explain it."))
    _move(rnd, "withdraw")
    for la in rnd.lot.assets:
        case_services.mark_asset_stage(session, la.asset, AssetStage.CLOSED, actor=actor.actor, now=ctx.now)
    _event(session, rnd, "withdrawn", actor.actor, ctx, reason=reason.strip(), payload={"ground": ground})
    session.commit()
    return rnd


def annul(session: Session, *, actor: User, round_id: int, ground: str, reason: str, ctx: Context) -> Round:
    """撤销 after a sale on an upheld objection (A52 grounds 1–6)."""
    rnd = _officer_round(session, actor, round_id)
    if ground not in ANNUL_GROUNDS or not (reason or "").strip():
        raise Refused(N_("Choose the ground of A52 and explain the ruling."))
    _move(rnd, "annul")
    for la in rnd.lot.assets:
        case_services.mark_asset_stage(session, la.asset, AssetStage.PRICED, actor=actor.actor, now=ctx.now)
    _event(session, rnd, "annulled", actor.actor, ctx, reason=reason.strip(), payload={"ground": ground})
    session.commit()
    return rnd


# --- the outcome of a round (called by bidding's close) --------------------------------------------


def record_sale(session: Session, *, round_id: int, buyer_id: int, buyer_code: str, price: Decimal, ctx: Context,
                commit: bool = False, documents: bool = True) -> Round:
    """The close found a winner: SOLD, then AWAITING_BALANCE with the balance due date (A39);
    the 成交确认书 with the buyer's real identity is generated and published (A34). Runs in
    the caller's (the close's) transaction."""
    rnd = session.get(Round, round_id)
    _move(rnd, "close_sold")
    rnd.closed_at, rnd.sale_price, rnd.buyer_id, rnd.buyer_code = ctx.now, to_money(price), buyer_id, buyer_code
    _event(session, rnd, "sold", "system:close", ctx, payload={"price": str(rnd.sale_price), "buyer_code": buyer_code})
    _move(rnd, "await_balance")
    rnd.balance_due_at = ctx.now + ctx.rulebook.days(rnd.balance_days)
    for la in rnd.lot.assets:
        case_services.mark_asset_stage(session, la.asset, AssetStage.SOLD, actor="system:close", now=ctx.now)
    if documents and ctx.store is not None:
        _issue_confirmation(session, rnd, ctx)
    notify(session, user_id=buyer_id, now=ctx.now, subject=f"竞买成功：{rnd.lot.title}",
           body=f"成交价 ¥{rnd.sale_price:,.2f}。请于 {rnd.balance_due_at.isoformat()} 前缴清余款。")
    notify(session, user_id=rnd.lot.case.officer_id, now=ctx.now, subject=f"拍卖成交：{rnd.lot.title}",
           body=f"成交价 ¥{rnd.sale_price:,.2f}，竞买代码 {buyer_code}。")
    if commit:
        session.commit()
    return rnd


def record_no_sale(session: Session, *, round_id: int, ctx: Context, commit: bool = False,
                   documents: bool = True) -> Round:
    """The close found no valid bid: 流拍 (A42). The relist (30 days, A43) or 变卖 (15 days,
    C01) deadline starts."""
    rnd = session.get(Round, round_id)
    _move(rnd, "close_unsold")
    rnd.closed_at = rnd.unsold_at = ctx.now
    for la in rnd.lot.assets:
        case_services.mark_asset_stage(session, la.asset, AssetStage.UNSOLD, actor="system:close", now=ctx.now)
    _event(session, rnd, "unsold", "system:close", ctx)
    if documents and ctx.store is not None:
        _issue_unsold_record(session, rnd, ctx)
    notify(session, user_id=rnd.lot.case.officer_id, now=ctx.now, subject=f"流拍：{rnd.lot.title}",
           body="本轮拍卖无人出价。第一次流拍后应于30日内公告第二次拍卖；第二次流拍后应于15日内公告变卖。")
    if commit:
        session.commit()
    return rnd


def _issue_confirmation(session, rnd: Round, ctx: Context) -> None:
    from auction.documents import render_confirmation
    from core.documents import issue_document

    pdf = render_confirmation(session, rnd, ctx=ctx)
    doc = issue_document(session, store=ctx.store, kind="confirmation", title=f"成交确认书（{rnd.lot.title}）",
                         subject=f"case:{rnd.lot.case_id}", data=pdf.data, public=True, actor="system:close",
                         now=ctx.now, reference=f"确认-{rnd.lot_id}-{rnd.seq}", commit=False)
    rnd.confirmation_sha256 = doc.sha256


def _unsold_reference(rnd: Round) -> str:
    return f"流拍-{rnd.lot_id}-{rnd.seq}"


def _issue_unsold_record(session, rnd: Round, ctx: Context) -> None:
    from auction.documents import render_unsold_record
    from core.documents import issue_document

    pdf = render_unsold_record(rnd, ctx=ctx)
    issue_document(session, store=ctx.store, kind="unsold_record", title=f"流拍记录（{rnd.lot.title}）",
                   subject=f"case:{rnd.lot.case_id}", data=pdf.data, public=True, actor="system:close",
                   now=ctx.now, reference=_unsold_reference(rnd), commit=False)


def issue_close_documents(session: Session, ctx: Context, *, limit: int = 20) -> int:
    """The scheduler files the 成交确认书 (A34) or the 流拍 record of rounds the bidding close
    left without one: rendering a PDF takes ~0.2 s, too long to hold inside the close of a
    round when hundreds end in the same minute. Idempotent: each round is re-checked under its
    lock."""
    from core.models import Document

    done = 0
    sold = session.scalars(select(Round.id).where(Round.closed_at.is_not(None), Round.buyer_id.is_not(None),
                                                  Round.confirmation_sha256.is_(None)).limit(limit)).all()
    for rid in sold:
        rnd = _locked(session, rid)
        if rnd is not None and rnd.confirmation_sha256 is None and ctx.store is not None:
            _issue_confirmation(session, rnd, ctx)
            session.commit()
            done += 1
        else:
            session.rollback()
    unsold = session.scalars(select(Round.id).where(Round.state == RoundState.UNSOLD, Round.closed_at.is_not(None))
                             .limit(200)).all()
    for rid in unsold:
        rnd = session.get(Round, rid)
        if session.scalar(select(Document.id).where(Document.reference == _unsold_reference(rnd))) is not None:
            continue
        rnd = _locked(session, rid)
        if ctx.store is not None and session.scalar(
                select(Document.id).where(Document.reference == _unsold_reference(rnd))) is None:
            _issue_unsold_record(session, rnd, ctx)
            session.commit()
            done += 1
        else:
            session.rollback()
        if done >= limit:
            break
    return done


def record_balance_paid(session: Session, *, actor: User, round_id: int, amount: Decimal, ctx: Context) -> Round:
    """The buyer paid the balance (sale price minus the deposit already applied); the case
    funds receive it. Within the announced period only (A39)."""
    rnd = _officer_round(session, actor, round_id)
    if rnd.state != RoundState.AWAITING_BALANCE:
        raise Refused(N_("No balance is awaited for this round."))
    if ctx.now > rnd.balance_due_at:
        raise Refused(N_("The balance period has passed; the buyer is in default (A40)."))
    try:
        amount = to_money(amount)
    except MoneyError:
        raise Refused(N_("An amount is not valid.")) from None
    if amount <= 0 or amount > rnd.sale_price:
        raise Refused(N_("The balance must be positive and at most the sale price."))
    from cases.rules import FundMovement

    case_services.record_fund_movement(session, case_id=rnd.lot.case_id, kind=FundMovement.RECEIVED, amount=amount,
                                       source=f"round:{rnd.id}", memo="买受人缴纳余款", actor=actor.actor, now=ctx.now,
                                       commit=False)
    _move(rnd, "balance_paid")
    rnd.paid_at = ctx.now
    _event(session, rnd, "paid", actor.actor, ctx, payload={"amount": str(amount)})
    session.commit()
    return rnd


def record_qualification_check(session: Session, *, actor: User, round_id: int, note: str, ctx: Context) -> Round:
    """D01 / decision 18: for housing, the officer records that the buyer qualified
    continuously from application to ruling."""
    rnd = _officer_round(session, actor, round_id)
    if rnd.state not in (RoundState.AWAITING_BALANCE, RoundState.PAID):
        raise Refused(N_("The qualification is checked after the sale and before the ruling."))
    if not (note or "").strip():
        raise Refused(N_("Record what was checked."))
    rnd.qualification_checked_at = ctx.now
    _event(session, rnd, "qualification_checked", actor.actor, ctx, public=False, reason=note.strip())
    session.commit()
    return rnd


def issue_ruling(session: Session, *, actor: User, round_id: int, ctx: Context) -> Round:
    """The 拍卖成交裁定 (A35): ownership passes when it is served, within 10 days of full
    payment (B07). Housing needs the qualification check first (D01)."""
    rnd = _officer_round(session, actor, round_id)
    if rnd.state != RoundState.PAID:
        raise Refused(N_("The ruling is issued once the price is paid in full."))
    if rnd.lot.housing and rnd.qualification_checked_at is None:
        raise Refused(N_("Record the buyer's continuous purchase qualification first (D01)."))
    _move(rnd, "rule")
    rnd.ruling_served_at = ctx.now
    if ctx.store is not None:
        from auction.documents import render_ruling
        from core.documents import issue_document

        pdf = render_ruling(session, rnd, ctx=ctx)
        doc = issue_document(session, store=ctx.store, kind="ruling", title=f"拍卖成交裁定（{rnd.lot.title}）",
                             subject=f"case:{rnd.lot.case_id}", data=pdf.data, public=False, actor=actor.actor,
                             now=ctx.now, reference=f"裁定-{rnd.lot_id}-{rnd.seq}", commit=False)
        rnd.ruling_sha256 = doc.sha256
    _event(session, rnd, "ruled", actor.actor, ctx)
    session.commit()
    return rnd


def record_handover(session: Session, *, actor: User, round_id: int, note: str, ctx: Context) -> Round:
    """The property is handed over (B08: within 15 days of the ruling)."""
    rnd = _officer_round(session, actor, round_id)
    _move(rnd, "hand_over")
    rnd.handed_over_at = ctx.now
    for la in rnd.lot.assets:
        case_services.mark_asset_stage(session, la.asset, AssetStage.CLOSED, actor=actor.actor, now=ctx.now)
    _event(session, rnd, "handed_over", actor.actor, ctx, reason=(note or "").strip())
    session.commit()
    return rnd


def _default(session, rnd: Round, ctx: Context) -> None:
    """悔拍: the balance period passed unpaid. The deposit is forfeited (A40, the bidding
    package moves the money); the defaulter's identity is barred from this lot (A41,
    decision 5)."""
    _move(rnd, "default")
    rnd.defaulted_at = ctx.now
    buyer = session.get(User, rnd.buyer_id)
    if buyer is not None and buyer.identity is not None:
        session.add(BarredBidder(lot_id=rnd.lot_id, fingerprint=buyer.identity.id_number_hmac,
                                 reason="悔拍（A41）", at=ctx.now))
    for la in rnd.lot.assets:
        case_services.mark_asset_stage(session, la.asset, AssetStage.PRICED, actor="system:scheduler", now=ctx.now)
    _event(session, rnd, "defaulted", "system:scheduler", ctx, payload={"buyer_code": rnd.buyer_code})
    notify(session, user_id=rnd.lot.case.officer_id, now=ctx.now, subject=f"买受人悔拍：{rnd.lot.title}",
           body="买受人未在期限内缴清余款，保证金不予退还（A40），可重新拍卖，原买受人不得参加（A41）。")


def is_barred(session: Session, *, lot_id: int, fingerprint: str) -> bool:
    """Whether an identity is barred from bidding on this lot (the bidding package asks)."""
    return session.scalar(select(BarredBidder.id).where(BarredBidder.lot_id == lot_id,
                                                        BarredBidder.fingerprint == fingerprint)) is not None


# --- next rounds ------------------------------------------------------------------------------------


def _new_round(session, lot: Lot, kind: RoundKind, terms: Terms, ctx: Context, actor: User) -> Round:
    _check_terms(lot, kind, terms, lot.current.starting_price if lot.current else None, ctx)
    rnd = Round(seq=len(lot.rounds) + 1, kind=kind, state=RoundState.DRAFT, created_at=ctx.now)
    _apply_terms(rnd, terms)
    lot.rounds.append(rnd)
    session.flush()
    audit.record(session, stream=_stream(lot), actor=actor.actor, action="round.created", subject=f"round:{rnd.id}",
                 payload={"kind": str(kind), "starting_price": str(rnd.starting_price)}, now=ctx.now)
    return rnd


def relist(session: Session, *, actor: User, lot_id: int, terms: Terms, ctx: Context) -> Round:
    """After a 流拍 of the first auction: the second auction, its starting price cut by at
    most 20 % (A43); after a 悔拍: a resale with the same round's rules (decision 6)."""
    lot = _officer_lot(session, actor, lot_id)
    last = lot.current
    if last.state == RoundState.UNSOLD and last.kind == RoundKind.FIRST:
        kind = RoundKind.SECOND
    elif last.state == RoundState.DEFAULTED:
        kind = RoundKind.RESALE
        if last.kind == RoundKind.SECOND:
            kind = RoundKind.SECOND  # a resale of the second auction keeps its floor
    else:
        raise Refused(N_("A new auction follows a 流拍 of the first auction or a buyer's default."))
    rnd = _new_round(session, lot, kind, terms, ctx, actor)
    session.commit()
    return rnd


def start_variation(session: Session, *, actor: User, lot_id: int, deposit: Decimal, start_at: datetime,
                    balance_days: int, taxes: list[dict], court_contact: str, title_and_possession: str,
                    defects_statement: str, ctx: Context) -> Round:
    """After the second 流拍: 变卖 at the second auction's starting price (C04, decision 7),
    a 60-day period (C02) opening after the lead time; a bidder pays the full price to qualify
    (C05); ``deposit`` is the portion forfeited on default."""
    lot = _officer_lot(session, actor, lot_id)
    last = lot.current
    if not (last.state == RoundState.UNSOLD and last.kind == RoundKind.SECOND):
        raise Refused(N_("变卖 follows the second auction's 流拍 (A44)."))
    price = rules.variation_price(last.starting_price)
    terms = Terms(starting_price=price, deposit=deposit, increment=last.increment, start_at=start_at,
                  end_at=start_at + ctx.rulebook.days(ctx.rulebook.variation_period_days),
                  balance_days=balance_days, taxes=taxes, court_contact=court_contact,
                  title_and_possession=title_and_possession, defects_statement=defects_statement,
                  panel_record=last.panel_record, inspection=last.inspection)
    try:
        deposit = to_money(deposit)
    except MoneyError:
        raise Refused(N_("An amount is not valid.")) from None
    if not 0 < deposit <= price:
        raise Refused(N_("The forfeitable portion must be positive and at most the 变卖 price."))
    if start_at <= ctx.now:
        raise Refused(N_("The 变卖 period must start in the future."))
    _check_conditions(balance_days, taxes)
    rnd = Round(seq=len(lot.rounds) + 1, kind=RoundKind.VARIATION, state=RoundState.VARIATION_ANNOUNCED,
                created_at=ctx.now)
    _apply_terms(rnd, terms)
    lot.rounds.append(rnd)
    session.flush()
    audit.record(session, stream=_stream(lot), actor=actor.actor, action="round.created", subject=f"round:{rnd.id}",
                 payload={"kind": "variation", "price": str(price), "start_at": start_at.isoformat()}, now=ctx.now)
    session.commit()
    return rnd


def take_in_payment(session: Session, *, actor: User, round_id: int, party_id: int, top_up: Decimal, ctx: Context) -> Round:
    """以物抵债 (B04): at a 流拍 a creditor takes the property at that round's starting price,
    topping up any surplus over its claim."""
    rnd = _officer_round(session, actor, round_id)
    party = session.get(Party, party_id)
    if party is None or party.case_id != rnd.lot.case_id or party.role != PartyRole.APPLICANT:
        raise Refused(N_("Only an applicant of the case may take the property in payment."))
    try:
        top_up = to_money(top_up)
    except MoneyError:
        raise Refused(N_("An amount is not valid.")) from None
    expected = max(Decimal("0.00"), rnd.starting_price - rnd.lot.case.claim_amount)
    if top_up != expected:
        raise Refused(N_("The creditor must top up the surplus over its claim: %(amount)s (B04)."),
                      amount=f"¥{expected:,.2f}")
    _move(rnd, "take_in_payment")
    if top_up > 0:
        from cases.rules import FundMovement

        case_services.record_fund_movement(session, case_id=rnd.lot.case_id, kind=FundMovement.RECEIVED, amount=top_up,
                                           source=f"round:{rnd.id}", memo="以物抵债补足差额", actor=actor.actor,
                                           now=ctx.now, commit=False)
    for la in rnd.lot.assets:
        case_services.mark_asset_stage(session, la.asset, AssetStage.CLOSED, actor=actor.actor, now=ctx.now)
    _event(session, rnd, "taken_in_payment", actor.actor, ctx,
           payload={"price": str(rnd.starting_price), "top_up": str(top_up)})
    session.commit()
    return rnd


def record_variation_decision(session: Session, *, actor: User, round_id: int, decision: str, ctx: Context) -> Round:
    """Decision 7: after a failed 变卖 the officer records the court's decision (抵债, release
    of the seizure, other measures); nothing re-auctions by itself."""
    rnd = _officer_round(session, actor, round_id)
    if rnd.state != RoundState.VARIATION_FAILED:
        raise Refused(N_("Only a failed 变卖 awaits the court's decision."))
    if not (decision or "").strip():
        raise Refused(N_("Record the court's decision."))
    for la in rnd.lot.assets:
        case_services.mark_asset_stage(session, la.asset, AssetStage.CLOSED, actor=actor.actor, now=ctx.now)
    _event(session, rnd, "variation_decided", actor.actor, ctx, reason=decision.strip())
    session.commit()
    return rnd


# --- the scheduler ----------------------------------------------------------------------------------


def run_due(session: Session, ctx: Context) -> int:
    """Open bidding at ``start_at`` (A27), open a 变卖 period and record its failure after 60
    days without a bid (C02, C08), and default buyers whose balance period passed (A40).
    Idempotent: each row is re-checked under its lock."""
    done = 0
    for rid in session.scalars(select(Round.id).where(Round.state == RoundState.ANNOUNCED,
                                                      Round.start_at <= ctx.now)).all():
        rnd = _locked(session, rid)
        if rnd and rnd.state == RoundState.ANNOUNCED and rnd.start_at <= ctx.now:
            _move(rnd, "open_bidding")
            _event(session, rnd, "bidding_opened", "system:scheduler", ctx, payload={"end_at": rnd.end_at.isoformat()})
            session.commit()
            done += 1
        else:
            session.rollback()
    for rid in session.scalars(select(Round.id).where(Round.state == RoundState.VARIATION_ANNOUNCED,
                                                      Round.published_at.is_not(None),
                                                      Round.start_at <= ctx.now)).all():
        rnd = _locked(session, rid)
        if rnd and rnd.state == RoundState.VARIATION_ANNOUNCED:
            _move(rnd, "variation_open")
            _event(session, rnd, "variation_opened", "system:scheduler", ctx)
            session.commit()
            done += 1
        else:
            session.rollback()
    for rid in session.scalars(select(Round.id).where(Round.state == RoundState.VARIATION_OPEN,
                                                      Round.end_at <= ctx.now)).all():
        rnd = _locked(session, rid)
        if rnd and rnd.state == RoundState.VARIATION_OPEN and rnd.end_at <= ctx.now:
            _move(rnd, "variation_failed")
            rnd.closed_at = rnd.unsold_at = ctx.now
            _event(session, rnd, "variation_failed", "system:scheduler", ctx)
            notify(session, user_id=rnd.lot.case.officer_id, now=ctx.now, subject=f"变卖期满无人购买：{rnd.lot.title}",
                   body="60日变卖期内无人出价，请记录法院的处理决定（以物抵债、解除查封或其他措施）。")
            session.commit()
            done += 1
        else:
            session.rollback()
    for rid in session.scalars(select(Round.id).where(Round.state == RoundState.AWAITING_BALANCE,
                                                      Round.balance_due_at <= ctx.now)).all():
        rnd = _locked(session, rid)
        if rnd and rnd.state == RoundState.AWAITING_BALANCE and rnd.balance_due_at <= ctx.now:
            _default(session, rnd, ctx)
            session.commit()
            done += 1
        else:
            session.rollback()
    return done


def _locked(session, round_id: int) -> Round | None:
    return session.execute(select(Round).where(Round.id == round_id).with_for_update(of=Round)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def upcoming(session: Session) -> list[datetime]:
    times = list(session.scalars(select(Round.start_at).where(
        Round.state.in_([RoundState.ANNOUNCED, RoundState.VARIATION_ANNOUNCED]))))
    times += list(session.scalars(select(Round.end_at).where(Round.state == RoundState.VARIATION_OPEN)))
    times += [t for t in session.scalars(select(Round.balance_due_at).where(
        Round.state == RoundState.AWAITING_BALANCE)) if t]
    return times


# --- what is late ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    round: Round | None
    what: str  # msgid
    deadline: object
    #: For alerts about an asset not yet in a lot (E48).
    asset: Asset | None = None


def alerts(session: Session, *, user: User, today, rulebook) -> list[Alert]:
    """Deadlines of section b that passed (decision 25: the day after the last allowed day):
    relist ≤ 30 days, 变卖 ≤ 15 days, ruling ≤ 10 days after payment, handover ≤ 15 days after
    the ruling, resume ≤ 5 days after the cause ended."""
    stmt = select(Round).join(Lot).join(Case)
    if user.role in (Role.OFFICER, Role.FINANCE):
        stmt = stmt.where(Case.court_id == user.court_id)
    elif user.role != Role.SUPERVISOR:
        return []
    out = []
    for rnd in session.scalars(stmt.where(Round.state.in_([RoundState.UNSOLD, RoundState.PAID, RoundState.RULED,
                                                           RoundState.SUSPENDED, RoundState.HALTED]))):
        if rnd.lot.current.id != rnd.id:
            continue
        if rnd.state == RoundState.UNSOLD and rnd.unsold_at:
            if rnd.kind == RoundKind.FIRST:
                d = rules.relist_deadline(local_date(rnd.unsold_at), rulebook)
                if rules.overdue(d, today):
                    out.append(Alert(rnd, N_("Second auction not announced within 30 days of the 流拍 (A43)"), d))
            elif rnd.kind == RoundKind.SECOND:
                d = rules.variation_deadline(local_date(rnd.unsold_at), rulebook)
                if rules.overdue(d, today):
                    out.append(Alert(rnd, N_("变卖 not announced within 15 days of the second 流拍 (C01)"), d))
        elif rnd.state == RoundState.PAID and rnd.paid_at:
            d = rules.ruling_deadline(local_date(rnd.paid_at), rulebook)
            if rules.overdue(d, today):
                out.append(Alert(rnd, N_("Ruling not served within 10 days of full payment (B07)"), d))
        elif rnd.state == RoundState.RULED and rnd.ruling_served_at:
            d = rules.handover_deadline(local_date(rnd.ruling_served_at), rulebook)
            if rules.overdue(d, today):
                out.append(Alert(rnd, N_("Property not handed over within 15 days of the ruling (B08)"), d))
        elif rnd.state in (RoundState.SUSPENDED, RoundState.HALTED) and rnd.resume_by \
                and rules.overdue(rnd.resume_by, today):
            out.append(Alert(rnd, N_("Not resumed within 5 days after the cause ended (A49)"), rnd.resume_by))
    out += _selling_not_started(session, user=user, today=today, rulebook=rulebook)
    return out


def _selling_not_started(session: Session, *, user: User, today, rulebook) -> list[Alert]:
    """E48: selling must start ≤ 10 days after the reference price is fixed; a priced asset
    still not in a lot is flagged the day after."""
    from appraisal.rules import selling_start_deadline

    stmt = (select(Procedure, Asset).join(Asset, Procedure.asset_id == Asset.id).join(Case, Asset.case_id == Case.id)
            .where(Procedure.state == ProcedureState.FINAL, Asset.stage == AssetStage.PRICED))
    if user.role in (Role.OFFICER, Role.FINANCE):
        stmt = stmt.where(Case.court_id == user.court_id)
    out = []
    for proc, asset in session.execute(stmt):
        if session.scalar(select(LotAsset.id).where(LotAsset.asset_id == asset.id)) is not None:
            continue
        d = selling_start_deadline(local_date(proc.final_at), rulebook)
        if rules.overdue(d, today):
            out.append(Alert(None, N_("Selling not started within 10 days of the reference price (E48)"), d, asset))
    return out


def evidence(session: Session, *, user: User, round_id: int) -> dict:
    """The record of a round for an objection or an annulment (A52): terms, notices, public
    and internal events, documents with their hashes, and every ledger entry of the lot's and
    the round's streams (bids appear by code: identities stay in the sealed transcript)."""
    rnd = session.get(Round, round_id)
    if rnd is None:
        raise NotFound()
    try:
        case_services.get_case_for(session, user, rnd.lot.case_id)
    except case_services.CaseNotFound:
        raise NotFound() from None
    if user.role == Role.PARTY:
        raise NotAllowed()
    from core.audit import AuditEntry
    from core.models import Document

    entries = session.scalars(select(AuditEntry).where(AuditEntry.stream.in_([f"lot:{rnd.lot_id}", f"round:{rnd.id}"]))
                              .order_by(AuditEntry.at, AuditEntry.id)).all()
    docs = session.scalars(select(Document).where(Document.subject == f"case:{rnd.lot.case_id}",
                                                  Document.reference.like(f"%-{rnd.lot_id}-{rnd.seq}"))).all()
    return {
        "lot": {"id": rnd.lot_id, "title": rnd.lot.title, "case": rnd.lot.case.number,
                "reference_price": str(rnd.lot.reference_price)},
        "round": {"id": rnd.id, "seq": rnd.seq, "kind": str(rnd.kind), "state": str(rnd.state),
                  "starting_price": str(rnd.starting_price), "deposit": str(rnd.deposit),
                  "increment": str(rnd.increment), "start_at": rnd.start_at.isoformat(),
                  "end_at": rnd.end_at.isoformat(), "published_at": rnd.published_at.isoformat() if rnd.published_at else None,
                  "closed_at": rnd.closed_at.isoformat() if rnd.closed_at else None,
                  "sale_price": str(rnd.sale_price) if rnd.sale_price is not None else None,
                  "buyer_code": rnd.buyer_code},
        "notices": [{"recipient": n.recipient, "method": str(n.method), "detail": n.detail, "at": n.at.isoformat()}
                    for n in rnd.notices],
        "events": [{"kind": e.kind, "reason": e.reason, "public": e.public, "at": e.at.isoformat(), "actor": e.actor}
                   for e in rnd.events],
        "documents": [{"kind": d.kind, "title": d.title, "reference": d.reference, "sha256": d.sha256} for d in docs],
        "ledger": [{"stream": e.stream, "seq": e.seq, "action": e.action, "at": e.at.isoformat(), "actor": e.actor,
                    "payload": e.payload, "hash": e.hash} for e in entries],
    }
