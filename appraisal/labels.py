"""Names of reference-price concepts in the user's language, and what happens next in each
state (for templates). Msgids are English; the Chinese catalogue translates them."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from core.i18n import beijing_time, local_time  # noqa: F401  (beijing_time re-exported)
from core.money import format_money


def method_label(method: str) -> str:
    """The four methods of E02."""
    return {
        "negotiation": _("Negotiation between the parties (当事人议价)"),
        "directed_inquiry": _("Directed inquiry (定向询价)"),
        "online_inquiry": _("Online inquiry (网络询价)"),
        "commissioned": _("Commissioned appraisal (委托评估)"),
    }.get(str(method), str(method))


def method_help(method: str) -> str:
    """When each method applies (E04, E05, E07, E18), for the choice of method."""
    return {
        "negotiation": _("Both parties submit a figure by the deadline; identical figures become the reference "
                         "price (E04). No objection is possible afterwards (E40)."),
        "directed_inquiry": _("For property with a tax base, a government price or a government-guided price: "
                              "the chosen institution answers by the deadline (E05, E06)."),
        "online_inquiry": _("Every listed online platform is asked at once and reports within 3 days; the "
                            "on-time results are averaged (E07–E14). Not for property that needs an on-site "
                            "inspection."),
        "commissioned": _("Three agencies are chosen in order, by the parties' agreement or by a public random "
                          "draw; the first-ranked appraises the property (E18, E24–E27)."),
    }.get(str(method), "")


def state_label(state: str) -> str:
    return {
        "negotiation": _("Negotiation"), "directed_inquiry": _("Directed inquiry"),
        "online_inquiry": _("Online inquiry"), "online_extended": _("Online inquiry (extended)"),
        "agency_selection": _("Selecting agencies"), "commissioned": _("Commissioned"),
        "paused": _("Paused"), "report_review": _("Report under review"), "served": _("Served on the parties"),
        "objection": _("Objection under review"), "final": _("Reference price fixed"), "withdrawn": _("Withdrawn"),
    }.get(str(state), str(state))


def state_help(state: str) -> str:
    """What happens next, in plain words, for a procedure in ``state``."""
    return {
        "negotiation": _("Each party enters its figure before the deadline. If both figures are identical they "
                         "become the reference price at once (E04); otherwise the officer moves on to another "
                         "method."),
        "directed_inquiry": _("The institution answers before the deadline; its result is the reference price "
                              "(E06) and cannot be objected to (E40)."),
        "online_inquiry": _("Every listed platform was asked at the same time and reports within 3 days (E09, "
                            "E10). At the deadline the on-time results are averaged (E14) and served on the "
                            "parties."),
        "online_extended": _("No platform reported in time; the platforms that asked for more time have 3 more "
                             "days (E11). Without any result the procedure moves to a commissioned appraisal "
                             "(E12)."),
        "agency_selection": _("The parties may agree on three agencies in order (E24); otherwise the officer "
                              "schedules a public random draw at least one day ahead (E25, decision 14). Anyone "
                              "may watch the draw and check it afterwards."),
        "commissioned": _("The first-ranked agency accepts or declines within 3 days; a decline or silence passes "
                          "the commission to the next rank (decision 14). An accepted commission's report is due "
                          "30 days after the letter was delivered (E30, decision 24)."),
        "paused": _("The case is suspended (暂缓/中止): every clock of the procedure is stopped until the officer "
                    "resumes it (E30, E45)."),
        "report_review": _("The officer reviews the report (E34): either it is served on the parties, or the "
                           "agency must explain or correct it within 3 days."),
        "served": _("The result was served on the parties. Each party may object within 5 days (E37, E38). "
                    "When the window has closed and no objection is open, the result becomes the reference "
                    "price (E42)."),
        "objection": _("An objection is being handled (E37, E38). When every objection is decided and the "
                       "5-day window has closed, the reference price is fixed."),
        "final": _("The reference price is fixed. Selling must start within 10 days (E48); the price is valid "
                   "until the date shown (E43)."),
        "withdrawn": _("The procedure was withdrawn, or replaced by another method; it ends without a price."),
    }.get(str(state), "")


def commission_state_label(state: str) -> str:
    return {
        "offered": _("Offered, waiting for an answer"), "accepted": _("Accepted, appraising"),
        "reported": _("Report submitted"), "declined": _("Declined"), "lapsed": _("Lapsed (deadline missed)"),
        "replaced": _("Replaced after an objection"), "completed": _("Completed"), "withdrawn": _("Withdrawn"),
    }.get(str(state), str(state))


def valuation_status_label(status: str) -> str:
    return {
        "submitted": _("Waiting for the court's review"), "correction": _("Correction requested"),
        "accepted": _("Accepted and served"), "superseded": _("Superseded"),
    }.get(str(status), str(status))


def objection_kind_label(kind: str) -> str:
    return {"procedural": _("Procedural objection"), "technical": _("Technical objection")}.get(str(kind), str(kind))


def objection_kind_help(kind: str) -> str:
    """What each kind of objection covers (E37, E38)."""
    return {
        "procedural": _("Wrong basic facts about the property, scope exceeded or items missed, an agency or "
                        "appraiser without the required qualification, or a seriously unlawful procedure (E37). "
                        "The court reviews it as an enforcement objection."),
        "technical": _("The reference standard, the valuation method or the result itself (E38). The court "
                       "forwards it to the agency, which explains in writing within 5 days."),
    }.get(str(kind), "")


def objection_state_label(state: str) -> str:
    return {
        "filed": _("Filed"), "forwarded": _("Forwarded to the agency"), "answered": _("Answered by the agency"),
        "upheld": _("Upheld"), "dismissed": _("Dismissed"),
    }.get(str(state), str(state))


def extension_decision_label(decision: str) -> str:
    return {"pending": _("Waiting for the court"), "granted": _("Granted"), "refused": _("Refused")}.get(
        str(decision), str(decision))


def draw_status_label(status: str) -> str:
    return {"scheduled": _("Scheduled"), "drawn": _("Drawn"), "void": _("Cancelled")}.get(str(status), str(status))


def level_label(level: str) -> str:
    """Which regional sub-list (子库) a draw used (E19, E21)."""
    return {"city": _("City sub-list"), "province": _("Province sub-list")}.get(str(level), str(level))


def party_role_label(role: str) -> str:
    return {"applicant": _("Applicant (申请执行人)"), "debtor": _("Debtor (被执行人)")}.get(str(role), str(role))


def action_label(action: str) -> str:
    """The procedure's audit-ledger actions, as a timeline reads them."""
    return {
        "procedure.opened": _("Procedure opened"), "procedure.method_changed": _("Method changed"),
        "procedure.paused": _("Procedure paused"), "procedure.resumed": _("Procedure resumed"),
        "procedure.withdrawn": _("Procedure withdrawn"), "procedure.final": _("Reference price fixed"),
        "procedure.step_expired": _("Deadline passed without a result"),
        "negotiation.submitted": _("A party entered its figure"),
        "inquiry.answered": _("Inquiry result received"), "inquiry.extension_requested": _("A platform asked for more time"),
        "inquiry.averaged": _("Online results averaged and served"), "inquiry.extended": _("Online inquiry extended"),
        "inquiry.failed": _("No online result: moving to a commissioned appraisal"),
        "draw.scheduled": _("Draw scheduled, pool frozen"), "draw.contribution_committed": _("A party committed to a secret"),
        "draw.contribution_revealed": _("A party revealed its secret"), "draw.drawn": _("Draw performed"),
        "agencies.agreed": _("Agencies agreed by the parties recorded"),
        "commission.offered": _("Commission offered"), "commission.accepted": _("Commission accepted"),
        "commission.declined": _("Commission declined"), "commission.silent": _("No answer in 3 days: counted as declined"),
        "commission.lapsed": _("Report deadline missed"), "commission.replaced": _("Agency replaced"),
        "commission.all_failed": _("All three agencies failed: a new draw follows"),
        "extension.requested": _("Extension requested"), "extension.granted": _("Extension granted"),
        "extension.refused": _("Extension refused"),
        "valuation.submitted": _("Report submitted"), "valuation.served": _("Report accepted and served"),
        "valuation.correction_requested": _("Correction requested"),
        "valuation.correction_missed": _("Correction not made in time"),
        "objection.filed": _("Objection filed"), "objection.forwarded": _("Objection forwarded to the agency"),
        "objection.answered": _("Agency answered the objection"), "objection.upheld": _("Objection upheld"),
        "objection.dismissed": _("Objection dismissed"),
    }.get(action, action)


def action_detail(action: str, payload: dict) -> str:
    """The few facts of a timeline entry worth reading (reasons, notes, amounts, times)."""
    parts = []
    if payload.get("method"):
        parts.append(method_label(payload["method"]))
    if payload.get("to"):
        parts.append(_("to %(method)s", method=method_label(payload["to"])))
    if action == "draw.scheduled" and payload.get("at"):
        try:
            parts.append(_("at %(time)s", time=beijing_time(datetime.fromisoformat(payload["at"]))))
        except ValueError:
            pass
    for key in ("amount", "average", "reference_price"):
        if payload.get(key):
            parts.append(format_money(payload[key]))
    if payload.get("rank"):
        parts.append(_("rank %(n)s", n=payload["rank"]))
    if payload.get("days"):
        parts.append(_("%(n)s days", n=payload["days"]))
    if payload.get("kind") in ("procedural", "technical"):
        parts.append(objection_kind_label(payload["kind"]))
    if payload.get("by") in ("applicant", "debtor"):
        parts.append(party_role_label(payload["by"]))
    for key in ("reason", "note"):
        if payload.get(key):
            parts.append(str(payload[key]))
    return " · ".join(parts)
