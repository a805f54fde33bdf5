"""The appraisal documents (DESIGN.md §7): the draw record (摇号记录) and the commission letter
(评估委托书). Plain-data contexts rendered by :mod:`core.pdf`."""
from __future__ import annotations

from core.pdf import RenderedPdf, render_pdf

#: The documents are Chinese; pool exclusion reasons are stored as msgids (appraisal.rules).
EXCLUSION_REASONS_ZH = {
    "not on the list (pending, suspended or removed)": "不在名单库中（待审核、暂停或除名）",
    "already drawn in this procedure and failed or was replaced": "本程序中已被选定且未完成委托或被更换",
    "declared a relationship with a party (conflict of interest)": "已申报与当事人存在利害关系（回避）",
}


def render_draw_record(draw, record: dict, *, base_url: str) -> RenderedPdf:
    """The draw record: pool, exclusions with reasons, commitment, contributions, seed,
    ranking, and how anyone can re-run it."""
    case = draw.procedure.asset.case
    names = {a["id"]: a["name"] for a in record["pool"]}
    context = {
        "title": "摇号记录", "reference": f"摇号-{draw.id}", "court": case.court.name, "case_number": case.number,
        "property_title": draw.procedure.asset.title, "specialty": record["specialty"], "level": record["level"],
        "region_code": record["region_code"], "scheduled_at": draw.scheduled_at, "drawn_at": draw.drawn_at,
        "pool": record["pool"], "exclusions": [{**e, "reason": EXCLUSION_REASONS_ZH.get(e["reason"], e["reason"])}
                       for e in record["exclusions"]], "pool_digest": record["pool_digest"],
        "seed_commitment": record["seed_commitment"], "seed": record["seed"], "combined": record["combined"],
        "contributions": record["contributions"],
        "ranking": [{"rank": i, "id": a, "name": names[a]} for i, a in enumerate(record["ranking"] or [], start=1)],
        "record_url": f"{base_url}/appraisal/draws/{draw.id}",
    }
    return render_pdf("pdf/draw_record.html", context, public_base_url=base_url)


def render_commission_letter(commission, *, base_url: str, calendar, rulebook) -> RenderedPdf:
    """The commission letter to the ranked agency (E27): the asset, its facts, the purpose,
    the deadlines."""
    from appraisal import rules

    proc = commission.procedure
    asset = proc.asset
    case = asset.case
    report_due = rules.report_due(commission.delivered_at, paused_days=0, extension_days=0, calendar=calendar,
                                  rulebook=rulebook)
    context = {
        "title": "评估委托书", "reference": f"委托-{commission.id}", "court": case.court.name,
        "case_number": case.number, "agency": commission.agency.name, "rank": commission.rank,
        "property": {"title": asset.title, "category": str(asset.category), "location": asset.location,
                  "description": asset.description, "defects": asset.defects, "encumbrances": asset.encumbrances,
                  "occupancy": asset.occupancy, "tax_notes": asset.tax_notes, "seized_on": asset.seized_on.isoformat()},
        "delivered_at": commission.delivered_at, "answer_due_at": commission.answer_due_at, "report_due_at": report_due,
        "officer": case.officer.display_name, "commission_url": f"{base_url}/appraisal/commissions/{commission.id}",
    }
    return render_pdf("pdf/commission_letter.html", context, public_base_url=base_url)
