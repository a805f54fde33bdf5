"""The auction documents (DESIGN.md §7): the announcement (拍卖公告), the confirmation
(成交确认书, with the buyer's real identity, A34), the ruling (拍卖成交裁定) and the 流拍 record."""
from __future__ import annotations

from core.pdf import RenderedPdf, render_pdf

PAYERS = {"buyer": "买受人", "debtor": "被执行人", "court": "由法院依法确定"}


def _round_context(rnd, base_url: str) -> dict:
    from auction.services import round_label

    lot = rnd.lot
    return {
        "court": lot.case.court.name, "case_number": lot.case.number, "lot_title": lot.title,
        "round_label": round_label(rnd), "reference_price": lot.reference_price,
        "starting_price": rnd.starting_price, "deposit": rnd.deposit, "increment": rnd.increment,
        "start_at": rnd.start_at, "end_at": rnd.end_at, "balance_days": rnd.balance_days,
        "assets": [{"title": la.asset.title, "location": la.asset.location, "description": la.asset.description,
                    "reference_price": la.reference_price} for la in lot.assets],
        "taxes": [{"tax": t["tax"], "payer": PAYERS.get(t["payer"], t["payer"])} for t in rnd.taxes],
        "inspection": rnd.inspection, "title_and_possession": rnd.title_and_possession,
        "defects": rnd.defects_statement, "special_notes": rnd.special_notes, "court_contact": rnd.court_contact,
        "priority_holders": [{"right": h.right, "rank": h.rank} for h in lot.priority_holders],
        "notices": [{"recipient": n.recipient, "method": str(n.method), "at": n.at} for n in rnd.notices],
        "variation": str(rnd.kind) == "variation", "housing": lot.housing,
        "lot_url": f"{base_url}/auction/lots/{lot.id}",
    }


def render_announcement(rnd, *, base_url: str) -> RenderedPdf:
    """拍卖公告 with the publication set of A12 and the special notices of A13."""
    ctx = _round_context(rnd, base_url)
    ctx.update(title="拍卖公告", reference=f"公告-{rnd.lot_id}-{rnd.seq}")
    return render_pdf("pdf/announcement.html", ctx, public_base_url=base_url)


def _buyer(session, rnd) -> dict:
    from accounts.models import User
    from accounts.rules import mask_identity_number

    buyer = session.get(User, rnd.buyer_id)
    identity = buyer.identity if buyer else None
    return {"name": identity.real_name if identity else (buyer.display_name if buyer else ""),
            "id_masked": mask_identity_number(identity.id_number_tail) if identity else "",
            "code": rnd.buyer_code or ""}


def render_confirmation(session, rnd, *, ctx) -> RenderedPdf:
    """成交确认书: generated at the close with the buyer's real identity and published (A34)."""
    data = _round_context(rnd, ctx.base_url)
    data.update(title="成交确认书", reference=f"确认-{rnd.lot_id}-{rnd.seq}", buyer=_buyer(session, rnd),
                sale_price=rnd.sale_price, closed_at=rnd.closed_at, balance_due_at=rnd.balance_due_at)
    return render_pdf("pdf/confirmation.html", data, public_base_url=ctx.base_url)


def render_ruling(session, rnd, *, ctx) -> RenderedPdf:
    """拍卖成交裁定: ownership passes when it is served (A35)."""
    data = _round_context(rnd, ctx.base_url)
    data.update(title="执行裁定书（拍卖成交）", reference=f"裁定-{rnd.lot_id}-{rnd.seq}", buyer=_buyer(session, rnd),
                sale_price=rnd.sale_price, closed_at=rnd.closed_at, paid_at=rnd.paid_at, served_at=ctx.now)
    return render_pdf("pdf/ruling.html", data, public_base_url=ctx.base_url)


def render_unsold_record(rnd, *, ctx) -> RenderedPdf:
    """流拍记录: no valid bid in the bidding period (A42)."""
    data = _round_context(rnd, ctx.base_url)
    data.update(title="流拍记录", reference=f"流拍-{rnd.lot_id}-{rnd.seq}", closed_at=rnd.closed_at)
    return render_pdf("pdf/unsold_record.html", data, public_base_url=ctx.base_url)
