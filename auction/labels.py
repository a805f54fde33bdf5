"""Names of auction concepts in the user's language, for the pages (msgids are English; the
Chinese catalogue translates them). No rule is decided here."""
from __future__ import annotations

from flask_babel import gettext as _

from core.i18n import translate_message


def state_label(state: str) -> str:
    """The round states of RULES.md section b.1."""
    return {
        "draft": _("Draft"), "notifying": _("Notifying the parties"), "announced": _("Announced"),
        "bidding": _("Bidding"), "suspended": _("Postponed (暂缓)"), "halted": _("Suspended (中止)"),
        "withdrawn": _("Withdrawn (撤回)"), "sold": _("Sold"), "unsold": _("No sale (流拍)"),
        "awaiting_balance": _("Sold, balance awaited"), "paid": _("Sold, price paid"),
        "ruled": _("Sold, ruling served"), "handed_over": _("Sold, handed over"),
        "defaulted": _("Buyer defaulted (悔拍)"), "annulled": _("Annulled (撤销)"),
        "taken_in_payment": _("Taken in payment (以物抵债)"),
        "variation_announced": _("变卖 announced"), "variation_open": _("变卖 open"),
        "variation_bidding": _("变卖 bidding"), "variation_failed": _("变卖 without a buyer"),
    }.get(str(state), str(state))


def state_help(state: str) -> str:
    """What the officer does next in each state (the manage page)."""
    return {
        "draft": _("Record how each party and priority holder was notified (A15–A17). Notices must be at least "
                   "3 days old when the announcement is published."),
        "notifying": _("When the checklist is complete, publish the announcement: the publication set goes to "
                       "the public lot page and the announcement to the case file (A10–A13)."),
        "announced": _("Bidders register and pay deposits. Bidding opens by itself at the start time."),
        "bidding": _("Bidding is open. The round closes by itself at the end time, extended by 5 minutes after "
                     "each late bid (A28)."),
        "suspended": _("Record when the cause of the postponement ends, then resume within 5 days (A49)."),
        "halted": _("Record when the cause of the suspension ends, then resume within 5 days (A49)."),
        "unsold": _("Announce the next round within the deadline (A43, C01), or let a creditor take the property "
                    "in payment (B04)."),
        "awaiting_balance": _("The buyer pays the balance within the announced period (A39); otherwise the "
                              "deposit is forfeited (A40)."),
        "paid": _("Issue and serve the ruling within 10 days of full payment (B07)."),
        "ruled": _("Hand the property over within 15 days of the ruling (B08)."),
        "defaulted": _("The buyer did not pay: the deposit is forfeited (A40). A new auction may follow; the "
                       "defaulter may not bid (A41)."),
        "variation_announced": _("The 60-day 变卖 period opens by itself at its start (C02)."),
        "variation_open": _("Waiting for the first bid at the 变卖 price (C06)."),
        "variation_bidding": _("The first bid opened a 24-hour window (C06)."),
        "variation_failed": _("No bid in 60 days: record the court's decision (decision 7)."),
    }.get(str(state), "")


def kind_label(kind: str) -> str:
    """The kinds of round (一拍, 二拍, resale after 悔拍, 变卖)."""
    return {
        "first": _("First auction (一拍)"), "second": _("Second auction (二拍)"),
        "resale": _("Resale after a default"), "variation": _("Fixed-price sale (变卖)"),
    }.get(str(kind), str(kind))


def method_label(method: str) -> str:
    """How a recipient was notified (A15–A17)."""
    return {
        "served": _("Served"), "published": _("Unreachable: published on the platform"),
        "waived": _("Waived in writing"),
    }.get(str(method), str(method))


def recipient_label(recipient: str) -> str:
    """The public label a notice carries."""
    return {
        "申请执行人": _("Applicant (申请执行人)"), "被执行人": _("Debtor (被执行人)"),
        "优先购买权人": _("Priority holder (优先购买权人)"),
    }.get(recipient, recipient)


def party_role_label(role: str) -> str:
    return {"applicant": _("Applicant (申请执行人)"), "debtor": _("Debtor (被执行人)")}.get(str(role), str(role))


def payer_label(payer: str) -> str:
    """Who bears a tax (decision 17)."""
    return {"buyer": _("The buyer (买受人)"), "debtor": _("The debtor (被执行人)"),
            "court": _("Decided by the court (由法院依法确定)")}.get(str(payer), str(payer))


def withdraw_ground_label(ground: str) -> str:
    """The grounds of a withdrawal before the sale (B05/B06)."""
    return {
        "basis_revoked": _("The enforcement basis was revoked"),
        "application_withdrawn": _("The application was withdrawn"),
        "debt_paid": _("The debtor paid in full (B06)"),
        "settlement": _("A settlement makes the sale unnecessary"),
        "third_party_objection": _("A well-founded objection of a third party"),
        "collusion": _("Collusion between the auctioneer and a bidder"),
        "other": _("Other ground (B05)"),
    }.get(str(ground), str(ground))


def annul_ground_label(ground: str) -> str:
    """The grounds of A52 to annul a sale."""
    return {
        "misdescription": _("(1) Seriously untrue description causing a material mistake"),
        "system_failure": _("(2) System failure, virus, hack or data error causing a wrong result"),
        "collusion": _("(3) Collusion between bidders, or with the platform"),
        "unqualified_buyer": _("(4) The buyer lacks the qualification"),
        "unequal_conditions": _("(5) Unlawful restriction of bidders or unequal conditions"),
        "procedure": _("(6) Other serious procedural breach"),
    }.get(str(ground), str(ground))


def event_label(kind: str) -> str:
    """A round's events (the timeline and the public record, A48)."""
    return {
        "published": _("Announcement published"), "notice_recorded": _("Notice recorded"),
        "terms_changed": _("Terms changed"), "bidding_opened": _("Bidding opened"),
        "suspended": _("Postponed (暂缓)"), "halted": _("Suspended by ruling (中止)"),
        "cause_ended": _("Cause of the pause ended"), "resumed": _("Resumed"), "withdrawn": _("Withdrawn (撤回)"),
        "annulled": _("Sale annulled (撤销)"), "sold": _("Sold"), "unsold": _("No sale (流拍)"),
        "paid": _("Balance paid"), "qualification_checked": _("Purchase qualification checked (D01)"),
        "ruled": _("Ruling issued and served"), "handed_over": _("Property handed over"),
        "defaulted": _("Buyer defaulted (悔拍)"), "variation_opened": _("变卖 period opened"),
        "variation_failed": _("变卖 period ended without a bid"),
        "taken_in_payment": _("Taken in payment by a creditor (以物抵债)"),
        "variation_decided": _("Court's decision after the 变卖"),
    }.get(str(kind), str(kind))


def problem_text(problem: str, *, days: int) -> str:
    """One item of ``services.publication_check``, translated: a msgid, or ``msgid|item`` for a
    missing item of the publication set; ``days`` fills the lead-time rule."""
    message, _sep, item = problem.partition("|")
    return translate_message(message, {"item": item, "days": days} if item else {"days": days})


def special_notices() -> list[str]:
    """The special notices every announcement carries (A13, S1 Art. 14)."""
    return [
        _("Bidders must have full civil capacity and meet any qualification the law requires (A13(1))."),
        _("A proxy bidder must be confirmed by the court before bidding starts (A13(2))."),
        _("The property is sold as it stands; bidders may ask to inspect it (A13(4))."),
        _("Bidding means accepting every known and unknown defect of the property (A13(5))."),
        _("The confirmation of sale showing the buyer's real identity is published on the platform (A13(6))."),
        _("A buyer who does not pay loses the deposit (A13(7), A40)."),
    ]


def document_label(kind: str) -> str:
    """The documents of a round."""
    return {
        "announcement": _("Announcement (拍卖公告)"), "confirmation": _("Confirmation of sale (成交确认书)"),
        "ruling": _("Ruling (拍卖成交裁定)"), "unsold_record": _("No-sale record (流拍记录)"),
        "bid_transcript": _("Bid transcript (竞价记录)"),
        "bid_transcript_sealed": _("Bid transcript with the sealed identity annex (court only)"),
    }.get(str(kind), str(kind))


def filter_label(name: str) -> str:
    """The public listing's filter."""
    return {
        "upcoming": _("Upcoming"), "bidding": _("Bidding now"), "paused": _("Postponed or suspended"),
        "sold": _("Sold"), "unsold": _("No sale"), "ended": _("Withdrawn, annulled or defaulted"),
    }.get(name, name)


def group_label(name: str) -> str:
    """The sections of the officers' dashboard."""
    return {
        "preparation": _("In preparation"), "announced": _("Announced"), "bidding": _("Bidding"),
        "paused": _("Postponed or suspended"), "after_sale": _("After the sale"),
        "next_step": _("Waiting for the court's next step"), "closed": _("Closed"),
    }.get(name, name)
