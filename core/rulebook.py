"""Every number of the law the platform enforces, in one place, with the rule it comes from.

Rule ids (``A05``, ``E30``, decision ``D2`` …) refer to ``shared/RULES.md``. Code never writes
these numbers as literals: it asks the active :class:`Rulebook` (``current_app`` holds it as
``app.extensions["rulebook"]``; services receive it as an argument).

Two profiles exist: ``spc`` (the default, the law as written) and ``demo`` (the same rules with
durations compressed so a whole auction, from announcement to close, runs in minutes). Only
durations differ between them; percentages and counts never do.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from decimal import Decimal


def _rule(value, rule_id: str, text: str):
    return field(default=value, metadata={"rule": rule_id, "text": text})


@dataclass(frozen=True)
class Rulebook:
    """The legal numbers. Each field's metadata names its rule id and says what it means."""

    name: str = "spc"

    # --- a.1 online auction --------------------------------------------------------------
    start_price_floor_pct: Decimal = _rule(Decimal("70"), "A05", "起拍价 ≥ 70 % of the reference price")
    lead_days_movable_r1: int = _rule(15, "A08", "announcement ≥ 15 days before a first auction of movables")
    lead_days_property_r1: int = _rule(30, "A08", "announcement ≥ 30 days before a first auction of real estate / property rights")
    lead_days_movable_r2: int = _rule(7, "A09", "re-auction announcement ≥ 7 days ahead (movables)")
    lead_days_property_r2: int = _rule(15, "A09", "re-auction announcement ≥ 15 days ahead (real estate / rights)")
    notice_days_before_announcement: int = _rule(3, "A15", "parties notified ≥ 3 days before the announcement")
    unreachable_publication_days: int = _rule(5, "A17", "publication deems notice after 5 days")
    deposit_min_pct: Decimal = _rule(Decimal("5"), "A19", "deposit ≥ 5 % of the 起拍价")
    deposit_max_pct: Decimal = _rule(Decimal("20"), "A19", "deposit ≤ 20 % of the 起拍价")
    min_bidding_period: timedelta = _rule(timedelta(hours=24), "A27", "bidding lasts ≥ 24 hours")
    extension_window: timedelta = _rule(timedelta(minutes=5), "A28", "a bid in the last 5 minutes extends the end to bid time + 5 minutes")
    refund_deadline: timedelta = _rule(timedelta(hours=24), "A36/A37", "deposits refunded ≤ 24 h after bidding ends")
    winner_deposit_transfer: timedelta = _rule(timedelta(hours=24), "A38", "winner's frozen deposit moved to the court ≤ 24 h after the sale")
    resume_days: int = _rule(5, "A49", "resume ≤ 5 days after a 暂缓 / 中止 cause ends")
    resumed_min_bidding_period: timedelta = _rule(timedelta(hours=24), "decision 8", "a resumed round bids again ≥ 24 h")
    relist_within_days: int = _rule(30, "A43", "round 2 announced ≤ 30 days after 流拍")
    round2_max_cut_pct: Decimal = _rule(Decimal("20"), "A43", "round-2 起拍价 cut ≤ 20 % of the round-1 起拍价")
    data_retention_years: int = _rule(10, "A50", "auction data kept ≥ 10 years")

    # --- a.2 fallback (S3) ----------------------------------------------------------------
    futile_auction_reply_days: int = _rule(5, "B01", "applicant may ask to continue a futile auction within 5 days")
    ruling_after_payment_days: int = _rule(10, "B07", "成交裁定 served ≤ 10 days after full payment")
    handover_after_ruling_days: int = _rule(15, "B08", "property handed over ≤ 15 days after the ruling is served")
    variation_min_price_pct: Decimal = _rule(Decimal("50"), "B10", "offline 变卖 price never below ½ of the appraisal")

    # --- a.3 变卖 -------------------------------------------------------------------------
    variation_announce_within_days: int = _rule(15, "C01", "变卖 announced ≤ 15 days after the second 流拍")
    variation_period_days: int = _rule(60, "C02", "变卖 period 60 days")
    variation_lead_days_property: int = _rule(15, "C03", "变卖 announcement 15 days ahead (real estate)")
    variation_lead_days_movable: int = _rule(7, "C03", "变卖 announcement 7 days ahead (movables)")
    variation_bidding_window: timedelta = _rule(timedelta(hours=24), "C06", "first 变卖 bid opens a 24 h window")

    # --- a.5 reference price ----------------------------------------------------------------
    pricing_start_days: int = _rule(30, "E01", "参考价 procedure starts ≤ 30 days after seizure")
    online_inquiry_days: int = _rule(3, "E10", "网络询价 report within 3 days")
    online_inquiry_extension_days: int = _rule(3, "E11", "+3 days when all platforms are late")
    online_inquiry_correction_days: int = _rule(3, "E13", "网络询价 correction within 3 days")
    online_inquiry_reissue_days: int = _rule(3, "E15", "网络询价 re-issued within 3 days")
    draw_size: int = _rule(3, "E24/E25", "3 agencies, ranked")
    city_pool_min: int = _rule(3, "E21", "a city 子库 needs ≥ 3 agencies, else the province")
    province_pool_min: int = _rule(10, "E21", "a province 子库 needs ≥ 10 agencies (青海/西藏 ≥ 5)")
    province_pool_min_small: int = _rule(5, "E21", "青海, 西藏 province 子库 ≥ 5 agencies")
    report_days: int = _rule(30, "E30", "appraisal report due in 30 days (暂缓/中止 excluded)")
    extension_request_lead_days: int = _rule(5, "E31", "extension asked ≥ 5 days before the deadline")
    max_report_extensions: int = _rule(2, "E31", "at most 2 extensions")
    max_report_extension_days: int = _rule(15, "E31", "each extension ≤ 15 days")
    materials_return_days: int = _rule(3, "E32", "late agency returns materials within 3 days")
    reissue_days: int = _rule(15, "E33", "expired report re-issued within 15 days")
    reissue_fee_pct: Decimal = _rule(Decimal("30"), "E33/E50", "a re-issued report is paid 30 %")
    report_correction_days: int = _rule(3, "E34", "agency explains or corrects within 3 days")
    report_service_days: int = _rule(3, "E35", "report sent to parties within 3 days of receipt")
    unreachable_report_publication_days: int = _rule(15, "E36", "publication deems receipt after 15 days")
    objection_days: int = _rule(5, "E37/E38", "objection within 5 days of receiving the report")
    objection_forward_days: int = _rule(3, "E38", "court forwards a technical objection within 3 days")
    objection_answer_days: int = _rule(5, "E38", "agency answers in writing within 5 days")
    procedural_objection_review_days: int = _rule(15, "E37", "执行异议 reviewed within 15 days")
    valuation_validity_max_days: int = _rule(365, "E43", "a valuation is valid ≤ 1 year")
    validity_grace_months: int = _rule(6, "E44", "auction held ≤ 6 months after expiry needs no new price")
    selling_start_days: int = _rule(10, "E48", "selling starts ≤ 10 days after the 参考价 is fixed")
    fee_advance_pct: Decimal = _rule(Decimal("50"), "E52", "applicant advances 50 % of the estimated fee")
    min_appraisers: int = _rule(2, "E55", "≥ 2 qualified appraisers sign a report")
    agency_bar_years: int = _rule(5, "E23", "a removed agency is barred for 5 years")

    # --- decisions ----------------------------------------------------------------------------
    draw_notice_days: int = _rule(1, "decision 14", "parties notified of a draw ≥ 1 day ahead")
    commission_answer_days: int = _rule(3, "decision 14", "rank-1 agency accepts or declines within 3 days")

    #: How long one "day" of a duration-counted window lasts; 1 day in ``spc``. In ``demo``
    #: day-counted windows run as this many real seconds so a demo takes minutes.
    day: timedelta = _rule(timedelta(days=1), "profile", "length of a day for day-counted windows")

    def days(self, n: int) -> timedelta:
        """``n`` days as a duration under this profile (compressed in ``demo``)."""
        return self.day * n

    def explain(self, name: str) -> str:
        """``"A05: 起拍价 ≥ 70 % of the reference price"`` for a field name."""
        for f in fields(self):
            if f.name == name:
                return f"{f.metadata.get('rule', '')}: {f.metadata.get('text', '')}"
        raise KeyError(name)


SPC = Rulebook()

#: Same rules, time compressed: one legal day lasts 10 seconds, bidding rounds last minutes
#: and the extension window is 30 seconds, so ``make run`` shows a lot open and close.
DEMO = replace(
    SPC,
    name="demo",
    min_bidding_period=timedelta(minutes=3),
    extension_window=timedelta(seconds=30),
    refund_deadline=timedelta(minutes=2),
    winner_deposit_transfer=timedelta(minutes=2),
    resumed_min_bidding_period=timedelta(minutes=3),
    variation_bidding_window=timedelta(minutes=3),
    day=timedelta(seconds=10),
)

PROFILES = {"spc": SPC, "demo": DEMO}


def get_rulebook(name: str) -> Rulebook:
    """The profile called ``name`` (``spc`` or ``demo``)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown rulebook {name!r}; choose one of {sorted(PROFILES)}") from None
