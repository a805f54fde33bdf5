"""Pure rules of the reference-price procedure (RULES.md a.5, section c, decisions 14–16,
24–26): agency eligibility and pools, deadlines and windows, extensions, valuations, online
inquiry averages, fees. No Flask, no SQLAlchemy, no clock: ``now``/``today`` are arguments.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from cases.rules import Region, Specialty
from core.calendar import WorkCalendar, end_of_local_day, local_date, window_last_day
from core.money import round_yuan, to_money
from core.text import N_


class AppraisalRuleError(ValueError):
    """A step the rules forbid; ``str()`` is a msgid."""


# --- agencies -------------------------------------------------------------------------------


class AgencyKind(StrEnum):
    #: 评估机构: appraisal agency, drawn at random for commissioned appraisals (E19–E27).
    APPRAISAL = "appraisal"
    #: 网络询价平台: online inquiry platform (E07–E17, decision 16).
    ONLINE_PLATFORM = "online_platform"
    #: 定向询价机构: directed-inquiry institution (tax base, government price; E05–E06).
    DIRECTED_INSTITUTION = "directed_institution"


class AgencyStatus(StrEnum):
    #: Registered, waiting for a supervisor's approval; never drawn.
    PENDING = "pending"
    #: On the list (名单库): may be drawn or asked.
    LISTED = "listed"
    #: Temporarily off the list by a supervisor's decision.
    SUSPENDED = "suspended"
    #: Removed (E23/E17): barred for 5 years from the decision.
    REMOVED = "removed"


@dataclass(frozen=True)
class AgencyFacts:
    """What eligibility needs to know about an agency (plain values)."""

    id: int
    name: str
    licence: str
    status: AgencyStatus
    specialties: frozenset[str]
    regions: frozenset[str]
    #: Identity fingerprints of persons/enterprises the agency declared a relationship with.
    conflicts: frozenset[str] = frozenset()


@dataclass
class Pool:
    """The frozen pool of a draw and why every other agency is not in it (decision 15)."""

    level: str  # "city" or "province"
    region_code: str
    agencies: list[AgencyFacts] = field(default_factory=list)
    exclusions: list[tuple[int, str, str]] = field(default_factory=list)  # (id, name, reason msgid)


def _serves(agency: AgencyFacts, region_code: str) -> bool:
    return region_code in agency.regions


def draw_pool(agencies: list[AgencyFacts], *, specialty: Specialty, region: Region,
              party_fingerprints: set[str], excluded_ids: set[int], rulebook,
              requested_region: str | None = None) -> Pool:
    """The eligible agencies for a draw (E19, E21, E25, E26, decision 15).

    City 子库 first; when it has fewer than ``city_pool_min`` eligible agencies, the province.
    Both parties may jointly ask for a particular 子库 (``requested_region``). Pending,
    suspended and removed agencies, agencies of another specialty, agencies with a declared
    relationship with a party, and agencies already tried in this procedure are excluded,
    each with its reason.

    :raise AppraisalRuleError: when even the chosen list has fewer agencies than a draw needs.
    """
    def eligible_in(code: str, level: str) -> Pool:
        pool = Pool(level=level, region_code=code)
        for a in sorted(agencies, key=lambda a: a.id):
            if not _serves(a, code) or str(specialty) not in a.specialties:
                continue
            if a.status != AgencyStatus.LISTED:
                pool.exclusions.append((a.id, a.name, N_("not on the list (pending, suspended or removed)")))
            elif a.id in excluded_ids:
                pool.exclusions.append((a.id, a.name, N_("already drawn in this procedure and failed or was replaced")))
            elif a.conflicts & party_fingerprints:
                pool.exclusions.append((a.id, a.name, N_("declared a relationship with a party (conflict of interest)")))
            else:
                pool.agencies.append(a)
        return pool

    if requested_region:
        level = "city" if requested_region.endswith("00") and not requested_region.endswith("0000") else "province"
        pool = eligible_in(requested_region, level)
    else:
        pool = eligible_in(region.city_code, "city")
        if len(pool.agencies) < rulebook.city_pool_min:
            pool = eligible_in(region.province_code, "province")
    if len(pool.agencies) < rulebook.draw_size:
        raise AppraisalRuleError(N_("Not enough eligible agencies for a draw (at least 3 are needed)."))
    return pool


def bar_until(decided_on: date, rulebook) -> date:
    """A removed agency may not be listed again before this day (E23: 5 years)."""
    try:
        return decided_on.replace(year=decided_on.year + rulebook.agency_bar_years)
    except ValueError:  # 29 February
        return decided_on.replace(year=decided_on.year + rulebook.agency_bar_years, day=28)


# --- procedure ------------------------------------------------------------------------------


class Method(StrEnum):
    """The four ways to a reference price (E02)."""

    #: 当事人议价: both parties agree on a price.
    NEGOTIATION = "negotiation"
    #: 定向询价: an institution with a tax base / government price answers.
    DIRECTED_INQUIRY = "directed_inquiry"
    #: 网络询价: all listed online platforms answer within 3 days.
    ONLINE_INQUIRY = "online_inquiry"
    #: 委托评估: an agency drawn at random appraises the asset.
    COMMISSIONED = "commissioned"


class ProcedureState(StrEnum):
    """The reference-price procedure (RULES.md section c)."""

    NEGOTIATION = "negotiation"
    DIRECTED_INQUIRY = "directed_inquiry"
    ONLINE_INQUIRY = "online_inquiry"
    ONLINE_EXTENDED = "online_extended"
    #: Waiting for the parties' agreement on 3 agencies, or for the draw.
    AGENCY_SELECTION = "agency_selection"
    #: An agency holds (or is being offered) the commission.
    COMMISSIONED = "commissioned"
    #: The case is under 暂缓/中止: every clock is stopped (E30, E45).
    PAUSED = "paused"
    #: A report is in for the officer's review (E34).
    REPORT_REVIEW = "report_review"
    #: Served on the parties; objection windows run (E35–E37).
    SERVED = "served"
    #: At least one objection is being handled (E37/E38).
    OBJECTION = "objection"
    #: The reference price is fixed (E42).
    FINAL = "final"
    WITHDRAWN = "withdrawn"


OPEN_STATES = {s for s in ProcedureState if s not in (ProcedureState.FINAL, ProcedureState.WITHDRAWN)}


class CommissionState(StrEnum):
    #: Letter delivered; the agency must accept or decline within 3 days (decision 14).
    OFFERED = "offered"
    #: Accepted; the report is due 30 days after the letter's delivery (E30, decision 24).
    ACCEPTED = "accepted"
    #: The report was submitted and is under review or served.
    REPORTED = "reported"
    #: Declined (reason published), or silent for 3 days: next rank.
    DECLINED = "declined"
    #: Deadline missed without a valid extension: next rank, fee 0 (E32).
    LAPSED = "lapsed"
    #: Replaced after an upheld qualification/procedure objection (E39): fee 0.
    REPLACED = "replaced"
    #: The report became the reference price.
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


FAILED_COMMISSIONS = {CommissionState.DECLINED, CommissionState.LAPSED, CommissionState.REPLACED}


def answer_deadline(delivered_at: datetime, calendar: WorkCalendar, rulebook) -> datetime:
    """End of the window to accept or decline (decision 14: 3 days; F01 counting)."""
    last = window_last_day(local_date(delivered_at), rulebook.commission_answer_days, calendar)
    return _window_end(delivered_at, last, rulebook.commission_answer_days, rulebook)


def _window_end(start_at: datetime, last_day: date, days: int, rulebook) -> datetime:
    """The instant a day-counted window closes: midnight after its last day (Beijing), or,
    under the compressed demo rulebook, ``start + days × rulebook.day``."""
    if rulebook.day != timedelta(days=1):
        return start_at + rulebook.days(days)
    return end_of_local_day(last_day)


def inquiry_deadline(sent_at: datetime, calendar: WorkCalendar, rulebook) -> datetime:
    """E10: online platforms report within 3 days of receiving the request."""
    last = window_last_day(local_date(sent_at), rulebook.online_inquiry_days, calendar)
    return _window_end(sent_at, last, rulebook.online_inquiry_days, rulebook)


def report_due(delivered_at: datetime, *, paused_days: int, extension_days: int, calendar: WorkCalendar,
               rulebook) -> datetime:
    """The report deadline: 30 days from the letter's delivery (decision 24), plus days paused
    under 暂缓/中止 (E30) and granted extensions (E31), ending on a working day (F01)."""
    days = rulebook.report_days + paused_days + extension_days
    last = window_last_day(local_date(delivered_at), days, calendar)
    return _window_end(delivered_at, last, days, rulebook)


def check_extension_request(*, requested_at: datetime, due_at: datetime, granted: int, days: int,
                            rulebook) -> None:
    """E31: in writing, ≥ 5 days before the deadline, at most 2 extensions of ≤ 15 days.

    :raise AppraisalRuleError: with the rule's words.
    """
    if granted >= rulebook.max_report_extensions:
        raise AppraisalRuleError(N_("At most two extensions may be granted (E31)."))
    if not 1 <= days <= rulebook.max_report_extension_days:
        raise AppraisalRuleError(N_("An extension is at most 15 days (E31)."))
    if due_at - requested_at < rulebook.days(rulebook.extension_request_lead_days):
        raise AppraisalRuleError(N_("An extension must be requested at least 5 days before the deadline (E31)."))


# --- valuations -----------------------------------------------------------------------------


def check_valuation(*, amount: Decimal, effective_on: date, valid_until: date, appraiser_ids: list[int],
                    registered_ids: set[int], today: date, rulebook) -> None:
    """A report's basics (E28, E34, E43, E55).

    :raise AppraisalRuleError:
    """
    if to_money(amount) <= 0:
        raise AppraisalRuleError(N_("The appraised value must be greater than zero."))
    if effective_on > today:
        raise AppraisalRuleError(N_("The valuation date cannot be in the future."))
    if valid_until <= effective_on:
        raise AppraisalRuleError(N_("The validity period must end after the valuation date."))
    if (valid_until - effective_on).days > rulebook.valuation_validity_max_days:
        raise AppraisalRuleError(N_("A valuation is valid for at most one year (E43)."))
    signers = set(appraiser_ids)
    if len(signers) < rulebook.min_appraisers:
        raise AppraisalRuleError(N_("At least two qualified appraisers must sign the report (E55)."))
    if not signers <= registered_ids:
        raise AppraisalRuleError(N_("Every signing appraiser must be registered with the agency (E34)."))


class ObjectionKind(StrEnum):
    #: Wrong basic facts, scope, qualification or procedure (E37): a 执行异议.
    PROCEDURAL = "procedural"
    #: Reference standard, method or result (E38): the agency explains; technical review.
    TECHNICAL = "technical"


class ObjectionState(StrEnum):
    FILED = "filed"
    #: Sent to the agency for its written answer (E38: within 5 days).
    FORWARDED = "forwarded"
    ANSWERED = "answered"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


def objection_window_end(served_at: datetime, calendar: WorkCalendar, rulebook) -> datetime:
    """Each party may object within 5 days of receiving the report (E37/E38, decision 3)."""
    last = window_last_day(local_date(served_at), rulebook.objection_days, calendar)
    return _window_end(served_at, last, rulebook.objection_days, rulebook)


def objection_allowed(method: Method) -> bool:
    """E40: no objection against 议价 or 定向询价 results."""
    return Method(method) in (Method.ONLINE_INQUIRY, Method.COMMISSIONED)


def agency_answer_deadline(forwarded_at: datetime, calendar: WorkCalendar, rulebook) -> datetime:
    last = window_last_day(local_date(forwarded_at), rulebook.objection_answer_days, calendar)
    return _window_end(forwarded_at, last, rulebook.objection_answer_days, rulebook)


# --- reference price ------------------------------------------------------------------------


def negotiated_price(applicant: Decimal | None, debtor: Decimal | None) -> Decimal | None:
    """E04: the parties' two figures, when identical, are the reference price."""
    if applicant is None or debtor is None:
        return None
    return to_money(applicant) if to_money(applicant) == to_money(debtor) else None


def online_average(results: list[Decimal]) -> Decimal:
    """E14 and decision 26: the mean of the valid results, rounded to the yuan, halves up."""
    if not results:
        raise AppraisalRuleError(N_("No valid results to average."))
    return round_yuan(sum(results, Decimal("0")) / len(results)).quantize(Decimal("0.01"))


def selling_start_deadline(final_on: date, rulebook) -> date:
    """E48: selling must start ≤ 10 days after the reference price is fixed."""
    return final_on + timedelta(days=rulebook.selling_start_days)


def grace_until(valid_until: date, rulebook) -> date:
    """E44: an auction announced within validity may be held up to 6 months after expiry."""
    month = valid_until.month - 1 + rulebook.validity_grace_months
    year, month = valid_until.year + month // 12, month % 12 + 1
    day = min(valid_until.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
                                31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])
    return date(year, month, day)


# --- fees -----------------------------------------------------------------------------------


def appraisal_fee_base(*, appraised: Decimal, sale_price: Decimal | None) -> Decimal | None:
    """E50: the amount the fee standard applies to: the appraisal when sold above it, the sale
    price when sold below; ``None`` when unsold (then reasonable actual costs are paid)."""
    if sale_price is None:
        return None
    return min(to_money(appraised), to_money(sale_price))


def fee_advance(estimated_fee: Decimal, rulebook) -> Decimal:
    """E52: the applicant advances 50 % of the estimated fee."""
    return to_money(Decimal(estimated_fee) * rulebook.fee_advance_pct / 100)


def online_fee_winners(results: dict[int, Decimal], sale_price: Decimal) -> list[int]:
    """E49: the platform(s) whose result is closest to the final sale price are paid (ties split)."""
    if not results:
        return []
    best = min(abs(v - sale_price) for v in results.values())
    return sorted(k for k, v in results.items() if abs(v - sale_price) == best)
