"""Pure rules of cases and assets: case numbers, asset categories (分库, lead times), region
codes, the E01 pricing deadline, CSV rows of a series import, and the case-fund ledger.

No Flask, no SQLAlchemy, no clock: ``today``/``now`` are arguments.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from accounts.rules import IdentityNumberError, validate_resident_id, validate_uscc
from core.money import MoneyError, parse_money
from core.text import N_

#: Enforcement case types (案件类型代字) that may carry seized assets.
CASE_TYPES = ("执", "执恢", "执保", "执异", "执复", "执监", "执协")
_CASE_RE = re.compile(r"^（(\d{4})）(.+?)(执恢|执保|执异|执复|执监|执协|执)(\d{1,6})号$")
FIRST_CASE_YEAR = 1990

#: Upload limits (bytes).
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_DOCUMENT_BYTES = 30 * 1024 * 1024
MAX_PHOTOS_PER_ASSET = 30
MAX_IMPORT_ROWS = 5000


class CaseRuleError(ValueError):
    """A value that breaks a case rule; ``str()`` is a msgid (see :mod:`core.text`)."""


# --- case numbers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseNumber:
    """（year）court-code type seq 号, e.g. （2026）皖02执123号."""

    year: int
    court_code: str
    case_type: str
    seq: int

    def __str__(self) -> str:
        return f"（{self.year}）{self.court_code}{self.case_type}{self.seq}号"


def normalize_case_number(text: str) -> str:
    """Full-width parentheses, no spaces: what officers type in many shapes, one stored form."""
    s = unicodedata.normalize("NFKC", text or "").strip().replace(" ", "").replace("　", "")
    # NFKC turned full-width brackets into ASCII; put the official full-width ones back.
    s = s.replace("(", "（").replace(")", "）").replace("〔", "（").replace("〕", "）")
    s = s.replace("[", "（").replace("]", "）")
    return s


def parse_case_number(text: str, *, court_code: str, today: date) -> CaseNumber:
    """Read and check a case number of the officer's court.

    :raise CaseRuleError: not the court's format, another court's code, a future year, or a
        case type that is not an enforcement type.
    """
    s = normalize_case_number(text)
    m = _CASE_RE.match(s)
    if not m:
        raise CaseRuleError(N_("The case number must look like （2026）皖02执123号."))
    year, code, case_type, seq = int(m.group(1)), m.group(2), m.group(3), int(m.group(4))
    if code != court_code:
        raise CaseRuleError(N_("The case number names another court; this court's code is %(code)s."))
    if not FIRST_CASE_YEAR <= year <= today.year:
        raise CaseRuleError(N_("The year in the case number is not possible."))
    if seq <= 0:
        raise CaseRuleError(N_("The case number must look like （2026）皖02执123号."))
    return CaseNumber(year, code, case_type, seq)


# --- assets ---------------------------------------------------------------------------------


class AssetCategory(StrEnum):
    """What was seized; decides the appraisal 分库 (E19/E20) and announcement lead time (A08)."""

    #: 不动产 (housing, commercial property): real-estate 分库, 30-day lead time.
    REAL_ESTATE = "real_estate"
    #: 土地使用权: land 分库, 30 days (a property right).
    LAND_USE_RIGHT = "land_use_right"
    #: 机动车: assets 分库, movable, 15 days.
    VEHICLE = "vehicle"
    #: 股权: assets 分库, a property right, 30 days (S6).
    EQUITY = "equity"
    #: 动产 (machinery, goods, stock): assets 分库, 15 days.
    MOVABLE = "movable"
    #: 矿业权: mining-rights 分库, a property right, 30 days.
    MINING_RIGHT = "mining_right"
    #: 珠宝玉石: jewellery/jade 分库, movable, 15 days.
    JEWELLERY = "jewellery"
    #: 其他: assets 分库; treated as a property right (30 days): a longer notice never breaks A08.
    OTHER = "other"


class Specialty(StrEnum):
    """The five specialty lists (分库) of appraisal agencies (E20)."""

    ASSETS = "assets"
    LAND = "land"
    REAL_ESTATE = "real_estate"
    MINING = "mining"
    JEWELLERY = "jewellery"


_SPECIALTY = {
    AssetCategory.REAL_ESTATE: Specialty.REAL_ESTATE,
    AssetCategory.LAND_USE_RIGHT: Specialty.LAND,
    AssetCategory.VEHICLE: Specialty.ASSETS,
    AssetCategory.EQUITY: Specialty.ASSETS,
    AssetCategory.MOVABLE: Specialty.ASSETS,
    AssetCategory.MINING_RIGHT: Specialty.MINING,
    AssetCategory.JEWELLERY: Specialty.JEWELLERY,
    AssetCategory.OTHER: Specialty.ASSETS,
}
_MOVABLE = {AssetCategory.VEHICLE, AssetCategory.MOVABLE, AssetCategory.JEWELLERY}

#: Chinese names accepted in CSV imports (and shown in the template).
CATEGORY_NAMES = {
    "不动产": AssetCategory.REAL_ESTATE, "房产": AssetCategory.REAL_ESTATE,
    "土地使用权": AssetCategory.LAND_USE_RIGHT, "机动车": AssetCategory.VEHICLE,
    "车辆": AssetCategory.VEHICLE, "股权": AssetCategory.EQUITY, "动产": AssetCategory.MOVABLE,
    "矿业权": AssetCategory.MINING_RIGHT, "珠宝玉石": AssetCategory.JEWELLERY,
    "其他": AssetCategory.OTHER,
}


def specialty_for(category: AssetCategory) -> Specialty:
    """The 分库 whose agencies may appraise an asset of this category (E19/E20)."""
    return _SPECIALTY[AssetCategory(category)]


def is_movable(category: AssetCategory) -> bool:
    """Movables get the shorter announcement lead times (A08/A09, C03)."""
    return AssetCategory(category) in _MOVABLE


def announcement_lead_days(category: AssetCategory, *, round_no: int, rulebook) -> int:
    """Minimum days between announcement and bidding start (A08 round 1, A09 round 2)."""
    movable = is_movable(category)
    if round_no == 1:
        return rulebook.lead_days_movable_r1 if movable else rulebook.lead_days_property_r1
    return rulebook.lead_days_movable_r2 if movable else rulebook.lead_days_property_r2


class AssetStage(StrEnum):
    """Where a seized asset is on its way to a sale (shown on the case page)."""

    #: Seized; the reference-price procedure must start within 30 days (E01).
    SEIZED = "seized"
    #: A reference-price procedure is under way (appraisal, inquiry…).
    PRICING = "pricing"
    #: A final reference price exists.
    PRICED = "priced"
    #: In an auction lot (announced or bidding).
    LISTED = "listed"
    SOLD = "sold"
    #: 流拍 in the last round held.
    UNSOLD = "unsold"
    #: In a 变卖 (fixed-price sale after two failed auctions).
    VARIATION = "variation"
    #: Released, withdrawn, or taken in payment: no sale by the platform.
    CLOSED = "closed"


def pricing_deadline(seized_on: date, rulebook) -> date:
    """Last day to start the reference-price procedure: seizure + 30 days (E01, F01)."""
    return seized_on + timedelta(days=rulebook.pricing_start_days)


def pricing_overdue(seized_on: date, stage: AssetStage, today: date, rulebook) -> bool:
    """E01 alert: still only seized on the day after the last allowed day (decision 25)."""
    return AssetStage(stage) == AssetStage.SEIZED and today > pricing_deadline(seized_on, rulebook)


# --- region codes (GB/T 2260) --------------------------------------------------------------

PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}


@dataclass(frozen=True)
class Region:
    """Where an asset lies: its province and city codes pick the 子库 of agencies (E19/E21)."""

    code: str

    @property
    def province_code(self) -> str:
        return self.code[:2] + "0000"

    @property
    def city_code(self) -> str:
        return self.code[:4] + "00"

    @property
    def province_name(self) -> str:
        return PROVINCES[self.code[:2]]


def parse_region_code(text: str) -> Region:
    """A six-digit administrative division code with a known province.

    :raise CaseRuleError:
    """
    code = unicodedata.normalize("NFKC", text or "").strip()
    if not (len(code) == 6 and code.isdigit()) or code[:2] not in PROVINCES or code[2:4] == "00" and code[4:] != "00":
        raise CaseRuleError(N_("The region code must be a six-digit administrative division code, e.g. 340202."))
    return Region(code)


# --- parties --------------------------------------------------------------------------------


class PartyRole(StrEnum):
    #: 申请执行人: the creditor who applied for enforcement.
    APPLICANT = "applicant"
    #: 被执行人: the debtor whose property is sold.
    DEBTOR = "debtor"


class PartyKind(StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"


KIND_NAMES = {"自然人": PartyKind.PERSON, "个人": PartyKind.PERSON, "企业": PartyKind.ENTERPRISE,
              "法人": PartyKind.ENTERPRISE, "单位": PartyKind.ENTERPRISE}


def validate_party_id(kind: PartyKind, number: str, *, today: date) -> str:
    """The normalised resident ID (persons) or credit code (enterprises).

    :raise CaseRuleError: with the reason.
    """
    try:
        if PartyKind(kind) == PartyKind.PERSON:
            return validate_resident_id(number, today=today)
        return validate_uscc(number)
    except IdentityNumberError as exc:
        raise CaseRuleError(str(exc)) from None


# --- dates ----------------------------------------------------------------------------------

_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


def parse_date(text: str) -> date:
    """``2026-03-01``, ``2026/3/1``, ``2026.3.1`` or ``2026年3月1日``.

    :raise CaseRuleError:
    """
    m = _DATE_RE.match(unicodedata.normalize("NFKC", text or "").strip())
    if not m:
        raise CaseRuleError(N_("Dates are written like 2026-03-01."))
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise CaseRuleError(N_("Dates are written like 2026-03-01.")) from None


# --- CSV import of a series -----------------------------------------------------------------

#: Columns of the import template, in order: (header, key, required).
IMPORT_COLUMNS: list[tuple[str, str, bool]] = [
    ("案号", "case_number", True),
    ("执行依据", "basis", True),
    ("立案日期", "filed_on", True),
    ("申请执行人", "applicant_name", True),
    ("申请执行人类型", "applicant_kind", True),
    ("申请执行人证件号码", "applicant_id", True),
    ("被执行人", "debtor_name", True),
    ("被执行人类型", "debtor_kind", True),
    ("被执行人证件号码", "debtor_id", True),
    ("申请执行标的额", "claim_amount", True),
    ("财产类别", "category", True),
    ("财产名称", "asset_title", True),
    ("财产描述", "asset_description", False),
    ("所在地行政区划代码", "region_code", True),
    ("财产所在地址", "location", True),
    ("查封日期", "seized_on", True),
]
IMPORT_HEADERS = [c[0] for c in IMPORT_COLUMNS]


@dataclass
class ImportRow:
    """One checked row: its values (typed) and the problems found (msgids with params)."""

    line: int
    values: dict = field(default_factory=dict)
    #: The case number as typed (shown next to the problems when it is not valid).
    raw_number: str = ""
    problems: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_header(header: list[str]) -> list[tuple[str, dict]]:
    """Problems with the header row (missing or unknown columns)."""
    cleaned = [unicodedata.normalize("NFKC", h or "").strip().lstrip("\ufeff") for h in header]
    problems = []
    missing = [h for h in IMPORT_HEADERS if h not in cleaned]
    if missing:
        problems.append((N_("Missing columns: %(columns)s."), {"columns": "、".join(missing)}))
    unknown = [h for h in cleaned if h and h not in IMPORT_HEADERS]
    if unknown:
        problems.append((N_("Unknown columns: %(columns)s."), {"columns": "、".join(unknown)}))
    return problems


def check_import_row(line: int, raw: dict[str, str], *, court_code: str, today: date) -> ImportRow:
    """Check one CSV row (keyed by Chinese header) and type its values; never raises."""
    row = ImportRow(line)
    get = {key: (raw.get(header) or "").strip() for header, key, _ in IMPORT_COLUMNS}
    row.raw_number = get["case_number"]

    def problem(msg: str, **params):
        row.problems.append((msg, params))

    for header, key, required in IMPORT_COLUMNS:
        if required and not get[key]:
            problem(N_("%(column)s is empty."), column=header)
    if row.problems:
        return row
    try:
        row.values["case_number"] = str(parse_case_number(get["case_number"], court_code=court_code, today=today))
    except CaseRuleError as exc:
        problem(str(exc), code=court_code)
    for key in ("filed_on", "seized_on"):
        try:
            row.values[key] = parse_date(get[key])
            if row.values[key] > today:
                problem(N_("%(column)s is in the future."), column=dict((k, h) for h, k, _ in IMPORT_COLUMNS)[key])
        except CaseRuleError as exc:
            problem(str(exc))
    for who in ("applicant", "debtor"):
        kind = KIND_NAMES.get(get[f"{who}_kind"])
        header_kind = dict((k, h) for h, k, _ in IMPORT_COLUMNS)[f"{who}_kind"]
        if kind is None:
            problem(N_("%(column)s must be 自然人 or 企业."), column=header_kind)
            continue
        row.values[f"{who}_kind"] = kind
        row.values[f"{who}_name"] = get[f"{who}_name"]
        try:
            row.values[f"{who}_id"] = validate_party_id(kind, get[f"{who}_id"], today=today)
        except CaseRuleError as exc:
            problem(N_("%(column)s: %(reason)s."),
                    column=dict((k, h) for h, k, _ in IMPORT_COLUMNS)[f"{who}_id"], reason=str(exc))
    try:
        row.values["claim_amount"] = parse_money(get["claim_amount"])
    except MoneyError:
        problem(N_("%(column)s is not an amount."), column="申请执行标的额")
    category = CATEGORY_NAMES.get(get["category"])
    if category is None:
        problem(N_("Unknown asset category %(value)s; use one of %(choices)s."),
                value=get["category"], choices="、".join(CATEGORY_NAMES))
    else:
        row.values["category"] = category
    try:
        row.values["region_code"] = parse_region_code(get["region_code"]).code
    except CaseRuleError as exc:
        problem(str(exc))
    row.values["basis"] = get["basis"]
    row.values["asset_title"] = get["asset_title"]
    row.values["asset_description"] = get["asset_description"]
    row.values["location"] = get["location"]
    return row


def check_import_consistency(rows: list[ImportRow], *, existing_numbers: set[str]) -> None:
    """Cross-row checks, added to the rows' problems: a case already on the platform, the same
    asset twice, and one case described differently on two rows."""
    first: dict[str, ImportRow] = {}
    assets: set[tuple[str, str, str]] = set()
    case_keys = ("basis", "filed_on", "applicant_name", "applicant_id", "debtor_name", "debtor_id",
                 "claim_amount")
    for row in rows:
        number = row.values.get("case_number")
        if not number:
            continue
        if number in existing_numbers:
            row.problems.append((N_("Case %(number)s is already on the platform."), {"number": number}))
            continue
        key = (number, row.values.get("asset_title", ""), row.values.get("location", ""))
        if key in assets:
            row.problems.append((N_("Duplicate row: the same asset of case %(number)s appears twice."),
                                 {"number": number}))
        assets.add(key)
        if number in first:
            other = first[number]
            if any(other.values.get(k) != row.values.get(k) for k in case_keys):
                row.problems.append((N_("Case %(number)s is described differently on line %(line)s."),
                                     {"number": number, "line": other.line}))
        else:
            first[number] = row


# --- case-fund ledger -----------------------------------------------------------------------


class FundAccount(StrEnum):
    """Where the money of a case is (double entry: every movement leaves one, enters another)."""

    #: Outside the case: payers and payees (bidders, buyers, the applicant, agencies).
    OUTSIDE = "outside"
    #: Deposits held for the case's lots (entered at the close, as amounts, decision 21).
    DEPOSITS = "deposits"
    #: Money of the case in the court's account: sale proceeds, forfeited deposits.
    COURT = "court"


class FundMovement(StrEnum):
    """What a fund entry records; each kind has one legal direction (see :data:`DIRECTIONS`)."""

    #: A deposit held for a lot enters the case's ledger (at the close).
    DEPOSIT_HELD = "deposit_held"
    #: A held deposit is refunded to its payer (A36/A37, within 24 h).
    DEPOSIT_REFUNDED = "deposit_refunded"
    #: The winner's deposit becomes part of the price (A36/A38).
    DEPOSIT_APPLIED = "deposit_applied"
    #: A defaulter's deposit is forfeited (A40).
    DEPOSIT_FORFEITED = "deposit_forfeited"
    #: The buyer's balance payment, or any other sum received by the court for the case.
    RECEIVED = "received"
    #: Paid out of the court account: to the applicant, taxes, fees (E49–E51), costs.
    PAID_OUT = "paid_out"


DIRECTIONS: dict[FundMovement, tuple[FundAccount, FundAccount]] = {
    FundMovement.DEPOSIT_HELD: (FundAccount.OUTSIDE, FundAccount.DEPOSITS),
    FundMovement.DEPOSIT_REFUNDED: (FundAccount.DEPOSITS, FundAccount.OUTSIDE),
    FundMovement.DEPOSIT_APPLIED: (FundAccount.DEPOSITS, FundAccount.COURT),
    FundMovement.DEPOSIT_FORFEITED: (FundAccount.DEPOSITS, FundAccount.COURT),
    FundMovement.RECEIVED: (FundAccount.OUTSIDE, FundAccount.COURT),
    FundMovement.PAID_OUT: (FundAccount.COURT, FundAccount.OUTSIDE),
}


def apply_movement(balances: dict[FundAccount, Decimal], kind: FundMovement,
                   amount: Decimal) -> dict[FundAccount, Decimal]:
    """New balances after a movement.

    :raise CaseRuleError: for a non-positive amount or a movement that would overdraw the
        deposits or the court account (money cannot leave before it arrived).
    """
    if amount <= 0:
        raise CaseRuleError(N_("An amount must be greater than zero."))
    source, target = DIRECTIONS[FundMovement(kind)]
    new = dict(balances)
    new[source] = new.get(source, Decimal("0")) - amount
    new[target] = new.get(target, Decimal("0")) + amount
    if source is not FundAccount.OUTSIDE and new[source] < 0:
        raise CaseRuleError(N_("Not enough money held for this case to do that."))
    return new


def balances_of(movements: list[tuple[FundMovement, Decimal]]) -> dict[FundAccount, Decimal]:
    """Replay movements from zero; what the case's balances must be."""
    balances = {a: Decimal("0.00") for a in FundAccount}
    for kind, amount in movements:
        balances = apply_movement(balances, kind, amount)
    return balances


def pricing_deadline_passed_days(seized_on: date, today: date, rulebook) -> int:
    """Days past the E01 deadline (0 when not overdue)."""
    return max(0, (today - pricing_deadline(seized_on, rulebook)).days)


def local_today(now: datetime) -> date:
    """The calendar day in Asia/Shanghai (decision 3 counts days there)."""
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo("Asia/Shanghai")).date()
