"""The bid transcript (竞价记录, DESIGN.md §7) for the case file.

Two versions are rendered from the same data:

* the **public** one: lot, round, the rules applied, every bid by its anonymous bidder code,
  every extension, the outcome and the head of the round's ledger stream; no identity at all
  (decision 13: the public never learns who bid);
* the **sealed** one (``sealed=True``, issued ``public=False``): the same, plus an annex that
  maps each bidder code of the round to the registrant's real name, masked identity number and
  kind, for the court only.

A hot round has thousands of bids: the log is laid out as ``.rows`` of monospace blocks (the
``pad`` filter of :mod:`core.pdf`), never as a ``<table>`` (SETUP-NOTES: 10,000 table rows took
~45 s and ~1 GB). The context is built from column queries, not ORM objects, so 10,000 bids
cost milliseconds before WeasyPrint starts.

The ledger head printed on it is ``audit_streams.head_hash`` of ``round:<id>`` *at render time*:
whoever holds the PDF can check that the ledger the platform shows later still contains that
entry (``flask --app wsgi audit verify``). Rendered after the close commits, it covers the
``round.closed`` entry.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import String, exists, select
from sqlalchemy.orm import Session

from accounts.models import Identity, IdentityKind, User
from accounts.rules import mask_identity_number
from auction.models import Lot, Round
from auction.rules import RoundKind
from auction.services import round_label
from bidding.models import Bid, Registration
from core.audit import GENESIS, AuditEntry, AuditStream
from core.documents import issue_document
from core.i18n import local_time
from core.models import Document
from core.money import format_money
from core.pdf import RenderedPdf, render_pdf
from core.rulebook import SPC

TEMPLATE = "pdf/transcript.html"
PUBLIC_KIND = "bid_transcript"
SEALED_KIND = "bid_transcript_sealed"
PUBLIC_TITLE = "竞价记录"
SEALED_TITLE = "竞价记录（法院存档本）"
#: Server times are printed to the millisecond, Beijing time (A29).
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
KIND_LABELS = {IdentityKind.PERSON: "自然人", IdentityKind.ENTERPRISE: "法人或其他组织"}
#: Round events (stream ``lot:<id>``) whose payload sets the end of bidding.
SCHEDULE_ACTIONS = ("round.published", "round.bidding_opened", "round.resumed")


def ms(value: datetime | None) -> str:
    """``2026-12-01 10:00:00.123`` in Beijing time; empty for ``None``."""
    return local_time(value, TIME_FORMAT)[:-3] if value is not None else ""


def _window_text(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds % 60 == 0:
        return f"{seconds // 60} 分钟"
    return f"{seconds} 秒"


def _schedule(session: Session, rnd: Round) -> list[tuple[datetime, datetime, str]]:
    """``(at, end_at, action)`` of the round events that set its end, oldest first."""
    rows = session.execute(
        select(AuditEntry.at, AuditEntry.action, AuditEntry.payload)
        .where(AuditEntry.stream == f"lot:{rnd.lot_id}", AuditEntry.subject == f"round:{rnd.id}",
               AuditEntry.action.in_(SCHEDULE_ACTIONS))
        .order_by(AuditEntry.seq)
    ).all()
    out = []
    for at, action, payload in rows:
        end = json.loads(payload).get("end_at")
        if end:
            out.append((at, datetime.fromisoformat(end), action))
    return out


def _ledger_head(session: Session, round_id: int) -> dict:
    row = session.execute(
        select(AuditStream.head_seq, AuditStream.head_hash).where(AuditStream.name == f"round:{round_id}")
    ).one_or_none()
    seq, head = row if row is not None else (0, GENESIS)
    return {"stream": f"round:{round_id}", "seq": seq, "hash": head}


def _first_variation_end(session: Session, round_id: int) -> datetime | None:
    """变卖 (C06): the first bid opened the bidding window; its ledger entry says until when."""
    payload = session.scalar(
        select(AuditEntry.payload).where(AuditEntry.stream == f"round:{round_id}", AuditEntry.action == "bid.placed")
        .order_by(AuditEntry.seq).limit(1))
    end = json.loads(payload).get("end_at") if payload else None
    return datetime.fromisoformat(end) if end else None


def _annex(session: Session, round_id: int, bid_counts: dict[str, int]) -> list[dict]:
    rows = session.execute(
        select(Registration.code, Registration.priority_rank, Registration.qualified_at, User.display_name,
               Identity.kind, Identity.real_name, Identity.id_number_tail, Identity.legal_representative)
        .join(User, User.id == Registration.user_id)
        .outerjoin(Identity, Identity.user_id == User.id)
        .where(Registration.round_id == round_id)
        .order_by(Registration.code)
    ).all()
    annex = []
    for code, rank, qualified_at, display, kind, real_name, tail, legal_rep in rows:
        annex.append({
            "code": code,
            "name": real_name or display,
            "id_masked": mask_identity_number(tail) if tail else "",
            "kind": KIND_LABELS.get(kind, str(kind or "")),
            "legal_representative": legal_rep or "",
            "priority_rank": rank,
            "qualified": qualified_at is not None,
            "bids": bid_counts.get(code, 0),
        })
    return annex


def transcript_context(session: Session, round_id: int, *, sealed: bool, rulebook=None) -> dict:
    """The plain-data context of the transcript (what the tests and the template read).

    ``rulebook`` gives the extension window printed under the rules applied (default: the
    legal rules, :data:`core.rulebook.SPC`); pass ``ctx.rulebook``.

    :raise LookupError: when the round does not exist.
    """
    rnd = session.get(Round, round_id)
    if rnd is None:
        raise LookupError(f"no round {round_id}")
    lot: Lot = rnd.lot
    case = lot.case
    window = (rulebook or SPC).extension_window

    schedule = _schedule(session, rnd)
    bids = session.execute(
        select(Bid.seq, Bid.code, Bid.amount, Bid.received_at, Bid.extended_to, Bid.priority_rank)
        .where(Bid.round_id == round_id).order_by(Bid.seq)
    ).all()

    # Walk the round's history in time order to know the end in force before each bid, so
    # every extension says from when to when.
    scheduled_end = schedule[0][1] if schedule else None
    current_end = scheduled_end
    pending = list(schedule)
    variation_end = _first_variation_end(session, round_id) if rnd.kind == RoundKind.VARIATION and bids else None
    rows, extensions, bid_counts = [], [], {}
    for index, (seq, code, amount, received, extended_to, rank) in enumerate(bids):
        while pending and pending[0][0] <= received:
            current_end = pending.pop(0)[1]
        if index == 0 and variation_end is not None and extended_to is None:
            current_end = variation_end
        received_text = ms(received)
        to_text = ms(extended_to)
        rows.append({"seq": seq, "code": code, "amount": format_money(amount), "at": received_text,
                     "priority_rank": rank, "extended": extended_to is not None, "extended_to": to_text})
        bid_counts[code] = bid_counts.get(code, 0) + 1
        if extended_to is not None:
            extensions.append({"n": len(extensions) + 1, "seq": seq, "code": code, "at": received_text,
                               "from": ms(current_end) if current_end else "", "to": to_text})
            current_end = extended_to
    if scheduled_end is None:
        # Built without the auction's ledger entries (imported data): the end before the first
        # extension is the best witness of the schedule; without extensions, the end itself.
        scheduled_end = rnd.end_at if not extensions else None

    if rnd.closed_at is None:
        outcome = {"state": "open", "label": "竞价尚未结束"}
    elif rnd.buyer_code:
        outcome = {"state": "sold", "label": "成交", "code": rnd.buyer_code, "price": format_money(rnd.sale_price)}
    else:
        outcome = {"state": "unsold", "label": "变卖不成" if rnd.kind == RoundKind.VARIATION else "流拍"}
    outcome["closed_at"] = ms(rnd.closed_at)

    context = {
        "title": SEALED_TITLE if sealed else PUBLIC_TITLE,
        "reference": f"竞价-{lot.id}-{rnd.seq}",
        "sealed": sealed,
        "court": case.court.name,
        "case_number": case.number,
        "lot_id": lot.id,
        "lot_title": lot.title,
        "round_label": round_label(rnd),
        "round_seq": rnd.seq,
        "rules": {
            "starting_price": format_money(rnd.starting_price),
            "increment": format_money(rnd.increment),
            "deposit": format_money(rnd.deposit),
            "extension_window": _window_text(window),
            "start_at": ms(rnd.start_at),
            "scheduled_end": ms(scheduled_end),
            "final_end": ms(rnd.end_at),
            "variation": rnd.kind == RoundKind.VARIATION,
            "rescheduled": [{"at": ms(at), "end": ms(end)} for at, end, action in schedule
                            if action == "round.resumed"],
        },
        "bids": rows,
        "bid_count": len(rows),
        "bidder_count": len(bid_counts),
        "extensions": extensions,
        "outcome": outcome,
        "ledger": _ledger_head(session, round_id),
        "annex": _annex(session, round_id, bid_counts) if sealed else [],
    }
    return context


def public_context(context: dict) -> dict:
    """The public version of a (sealed) context: the same record without the identity annex."""
    return {**context, "sealed": False, "title": PUBLIC_TITLE, "annex": []}


def render_transcript(session: Session, round_id: int, *, base_url: str, sealed: bool, rulebook=None) -> RenderedPdf:
    """Render the bid transcript of ``round_id``; ``sealed=True`` adds the identity annex
    (court only). Reads the database, writes nothing."""
    context = transcript_context(session, round_id, sealed=sealed, rulebook=rulebook)
    return render_pdf(TEMPLATE, context, public_base_url=base_url)


class Transcripts(NamedTuple):
    sealed: Document
    public: Document


def _issue(session: Session, rnd: Round, sealed_pdf: RenderedPdf, public_pdf: RenderedPdf, ctx) -> Transcripts:
    lot = rnd.lot
    label = f"{lot.title}，{round_label(rnd)}"
    common = {"store": ctx.store, "subject": f"case:{lot.case_id}", "actor": "system:close", "now": ctx.now,
              "reference": transcript_reference(rnd), "commit": False}
    sealed = issue_document(session, kind=SEALED_KIND, title=f"竞价记录（{label}，含竞买人身份，法院存档）",
                            data=sealed_pdf.data, public=False, **common)
    public = issue_document(session, kind=PUBLIC_KIND, title=f"竞价记录（{label}）", data=public_pdf.data,
                            public=True, **common)
    return Transcripts(sealed=sealed, public=public)


def transcript_reference(rnd: Round) -> str:
    """文书编号 of both versions: ``竞价-<lot>-<seq>``."""
    return f"竞价-{rnd.lot_id}-{rnd.seq}"


def render_transcripts(session: Session, round_id: int, *, base_url: str, rulebook=None) -> tuple[RenderedPdf, RenderedPdf]:
    """``(sealed, public)``, rendered from one read of the database."""
    sealed_context = transcript_context(session, round_id, sealed=True, rulebook=rulebook)
    return (render_pdf(TEMPLATE, sealed_context, public_base_url=base_url),
            render_pdf(TEMPLATE, public_context(sealed_context), public_base_url=base_url))


def issue_transcripts(session: Session, round_id: int, *, ctx) -> Transcripts:
    """Render both versions and issue them to the case file (``case:<case_id>``) without
    committing: the sealed one ``public=False``, the public one ``public=True``, both with
    the reference ``竞价-<lot>-<seq>``. The caller commits.

    Run it after the close has committed (so the ledger head printed covers ``round.closed``)
    and off the request path: 10,000 bids take seconds to lay out (bench/pdf.py).
    """
    rnd = session.get(Round, round_id)
    if rnd is None:
        raise LookupError(f"no round {round_id}")
    sealed_pdf, public_pdf = render_transcripts(session, round_id, base_url=ctx.base_url, rulebook=ctx.rulebook)
    return _issue(session, rnd, sealed_pdf, public_pdf, ctx)


def _issued(session: Session, rnd: Round) -> bool:
    return session.scalar(select(Document.id).where(Document.reference == transcript_reference(rnd),
                                                    Document.kind == PUBLIC_KIND).limit(1)) is not None


def issue_due_transcripts(session: Session, ctx, *, limit: int = 1, lookback: timedelta = timedelta(days=7)) -> int:
    """A scheduler due source: issue the transcripts of up to ``limit`` rounds closed in the
    last ``lookback`` that have none yet; commits each. Returns how many rounds were done.

    Separate from the close on purpose: the close stays fast (DESIGN.md §6: ≤ 2 s after the
    end), and ``close_round`` also runs on the request path (``bidding.views._close_if_due``).
    The render happens outside any lock and outside a database transaction; the round's row
    is locked only to re-check and insert, so two runners never file the same transcript twice.
    """
    if ctx.store is None:
        return 0
    reference = "竞价-" + Lot.id.cast(String) + "-" + Round.seq.cast(String)
    filed = exists().where(Document.kind == PUBLIC_KIND, Document.reference == reference)
    round_ids = session.scalars(
        select(Round.id).join(Lot, Lot.id == Round.lot_id)
        .where(Round.closed_at.is_not(None), Round.closed_at >= ctx.now - lookback, Round.closed_at <= ctx.now,
               ~filed)
        .order_by(Round.closed_at).limit(limit)).all()
    session.rollback()
    done = 0
    for round_id in round_ids:
        sealed_pdf, public_pdf = render_transcripts(session, round_id, base_url=ctx.base_url, rulebook=ctx.rulebook)
        session.rollback()  # end the read transaction: the PDFs are plain bytes now
        rnd = session.execute(select(Round).where(Round.id == round_id).with_for_update(of=Round)).scalar_one()
        if _issued(session, rnd):
            session.rollback()
            continue
        _issue(session, rnd, sealed_pdf, public_pdf, ctx)
        session.commit()
        done += 1
    return done
