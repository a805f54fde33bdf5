"""The court's list of restricted persons (RULES.md decision 19) and of the persons A53 bars.

Officers import the list from a CSV file or through the JSON API: every row is checked first
and every problem reported with its line; then all rows are written in one transaction, or
none. Importing a row again (same number, kind and source) updates its entry. Officers of every
court see the list (it is a national list) and may lift an entry, with a reason. Registration
asks :func:`restriction_for` whether an active entry bars the bidder from the lot.

Identity numbers are never stored nor written to the ledger: an entry keeps the keyed hash that
matches a bidder's or a party's (decision record 0005) and a masked form for officers
(decision record 0011). Imports and lifts go to the ``restrictions`` stream of the ledger.
"""
from __future__ import annotations

import csv
import io
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from accounts.identity import IdentityVault
from accounts.models import IdentityKind, Role, User
from accounts.rules import IdentityNumberError, normalize_code, validate_resident_id, validate_uscc
from bidding.models import RestrictedPerson, RestrictionKind
from cases.rules import AssetCategory, CaseRuleError, local_today, parse_date
from core import audit
from core.text import N_, DomainError, NotAllowed, NotFound, Refused

#: An import is at most this many rows and (CSV) this many bytes: split a longer list.
MAX_ROWS = 10_000
MAX_BYTES = 2 * 1024 * 1024
STREAM = "restrictions"
NAME_LEN = 120
SOURCE_LEN = 200
REASON_LEN = 500
#: Bound of the ``IN`` lists that find the existing entries of an import.
_CHUNK = 500

#: Decision 19 (SPC rules on restricting high consumption, Art. 3): a dishonest or restricted
#: debtor may not buy real estate (不动产: land use rights are real estate in Chinese law) nor
#: vehicles. Staff and their close relatives (A53) may buy nothing.
PROPERTY_AND_VEHICLES = frozenset({AssetCategory.REAL_ESTATE, AssetCategory.LAND_USE_RIGHT,
                                   AssetCategory.VEHICLE})

KIND_LABELS = {
    RestrictionKind.DISHONEST: N_("List of dishonest judgment debtors"),
    RestrictionKind.CONSUMPTION: N_("Order restricting high consumption"),
    RestrictionKind.STAFF: N_("Staff or close relative (A53)"),
}
#: What the kind column may say: the names the court's documents use, or the English keys.
KIND_NAMES = {
    "失信被执行人": RestrictionKind.DISHONEST, "失信被执行人名单": RestrictionKind.DISHONEST,
    "限制消费令": RestrictionKind.CONSUMPTION, "限制消费": RestrictionKind.CONSUMPTION,
    "限制高消费": RestrictionKind.CONSUMPTION,
    "工作人员及近亲属": RestrictionKind.STAFF, "工作人员": RestrictionKind.STAFF, "近亲属": RestrictionKind.STAFF,
    **{k.value: k for k in RestrictionKind},
}
IDENTITY_KIND_NAMES = {
    "自然人": IdentityKind.PERSON, "个人": IdentityKind.PERSON, "企业": IdentityKind.ENTERPRISE,
    "法人": IdentityKind.ENTERPRISE, "单位": IdentityKind.ENTERPRISE, **{k.value: k for k in IdentityKind},
}


@dataclass(frozen=True)
class Column:
    key: str
    #: The header of the template (Chinese, as courts write their lists).
    header: str
    required: bool
    #: How problems name the column (a msgid).
    label: str
    aliases: tuple[str, ...] = ()


COLUMNS = [
    Column("name", "姓名", True, N_("Name"), ("名称", "姓名/名称", "姓名或名称")),
    Column("id_number", "证件号码", True, N_("Identity number"), ("身份证号码", "证件号")),
    Column("kind", "类型", True, N_("Kind"), ("名单类型",)),
    Column("source", "来源", True, N_("Source"), ("文书号", "来源文书")),
    Column("listed_on", "列入日期", True, N_("Listed on"), ("发布日期",)),
    Column("lifted_on", "解除日期", False, N_("Lifted on"), ("屏蔽日期",)),
    Column("identity_kind", "主体类型", False, N_("Person or enterprise (column)"), ("证件类型",)),
]
KEYS = [c.key for c in COLUMNS]
LABELS = {c.key: c.label for c in COLUMNS}
_HEADERS = {name.lower(): c.key for c in COLUMNS for name in (c.key, c.header, *c.aliases)}


# --- errors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One problem of an imported list: a msgid with its params, at ``line`` (the CSV file's
    line, the header being line 1; in the API the row's number from 1; 0 for the whole list)."""

    line: int
    message: str
    params: dict = field(default_factory=dict)


class ListRefused(DomainError):
    """The list has problems: nothing was imported. ``problems`` lists every one of them."""

    message = N_("Problems found: %(n)s. Nothing was imported; correct them and import the list again.")

    def __init__(self, problems: list[Problem]):
        super().__init__(n=len(problems))
        self.problems = problems


class ListTooLarge(DomainError):
    """More rows or bytes than one import may carry (:data:`MAX_ROWS`, :data:`MAX_BYTES`)."""

    message = N_("The list is too large: at most %(rows)s rows and %(mb)s MB per import. Split it into "
                 "several files.")

    def __init__(self):
        super().__init__(rows=MAX_ROWS, mb=MAX_BYTES // (1024 * 1024))


# --- reading and checking rows (no database) -------------------------------------------------------


@dataclass(frozen=True)
class EntryInput:
    """A checked row: the number normalised, the kind and dates typed. Never stored as such:
    the number is hashed and masked on import."""

    line: int
    name: str
    id_number: str
    identity_kind: IdentityKind
    kind: RestrictionKind
    source: str
    listed_on: date
    lifted_on: date | None = None


#: Read in NFKC (full-width digits, letters and dashes as ASCII); names and sources are kept as
#: written, since a document number's full-width brackets （2026） are part of it.
_NFKC_KEYS = ("id_number", "kind", "listed_on", "lifted_on", "identity_kind")


def _clean(value, *, nfkc: bool = False) -> str:
    """Without surrounding or repeated blanks (full-width spaces included)."""
    value = value or ""
    return " ".join((unicodedata.normalize("NFKC", value) if nfkc else value).split())


def _identity(text: str, kind: IdentityKind | None, today: date) -> tuple[str, IdentityKind]:
    """The normalised number and whose it is: the kind given, else a resident ID if it is a
    valid one, else a unified social credit code. :raise IdentityNumberError: with the reason
    of the kind the number looks like."""
    if kind == IdentityKind.PERSON:
        return validate_resident_id(text, today=today), kind
    if kind == IdentityKind.ENTERPRISE:
        return validate_uscc(text), kind
    try:
        return validate_resident_id(text, today=today), IdentityKind.PERSON
    except IdentityNumberError as person_error:
        resident_shape = normalize_code(text)[:17].isdigit()
        try:
            code = validate_uscc(text)
        except IdentityNumberError as enterprise_error:
            # Seventeen digits first: a resident ID with a typo, not a credit code.
            raise (person_error if resident_shape else enterprise_error) from None
        if resident_shape:
            # A mistyped resident ID passes as a credit code about once in 31: taken for an
            # enterprise, the row would bar nobody. The list must say which it is.
            raise IdentityNumberError(
                N_("a resident ID with a wrong check digit, or an all-digit credit code: give 自然人 or 企业 "
                   "in the person-or-enterprise column")) from None
        return code, IdentityKind.ENTERPRISE


def check_row(line: int, raw: dict, *, today: date, problems: list[Problem]) -> EntryInput | None:
    """Check one row (``raw`` keyed by :data:`KEYS`, values as typed); append its problems to
    ``problems`` and return the typed row when it has none. Never raises."""
    get = {key: _clean(raw.get(key), nfkc=key in _NFKC_KEYS) for key in KEYS}
    found: list[Problem] = []

    def problem(message: str, **params) -> None:
        found.append(Problem(line, message, params))

    for c in COLUMNS:
        if c.required and not get[c.key]:
            problem(N_("%(column)s is empty."), column=c.label)
    for key, most in (("name", NAME_LEN), ("source", SOURCE_LEN)):
        if len(get[key]) > most:
            problem(N_("%(column)s is too long (at most %(max)s characters)."), column=LABELS[key], max=most)
    kind = KIND_NAMES.get(get["kind"].lower())
    if get["kind"] and kind is None:
        problem(N_("Unknown kind %(value)s; use one of %(choices)s."), value=get["kind"],
                choices="、".join(("失信被执行人", "限制消费令", "工作人员及近亲属")))
    identity_kind = IDENTITY_KIND_NAMES.get(get["identity_kind"].lower())
    if get["identity_kind"] and identity_kind is None:
        problem(N_("%(column)s must be 自然人 or 企业."), column=LABELS["identity_kind"])
    number = None
    if get["id_number"] and not (get["identity_kind"] and identity_kind is None):
        try:
            number, identity_kind = _identity(get["id_number"], identity_kind, today)
        except IdentityNumberError as exc:
            problem(N_("%(column)s: %(reason)s."), column=LABELS["id_number"], reason=str(exc))
    dates: dict[str, date] = {}
    for key in ("listed_on", "lifted_on"):
        if not get[key]:
            continue
        try:
            dates[key] = parse_date(get[key])
        except CaseRuleError as exc:
            problem(N_("%(column)s: %(reason)s"), column=LABELS[key], reason=str(exc))
    if dates.get("listed_on") and dates["listed_on"] > today:
        problem(N_("%(column)s is in the future."), column=LABELS["listed_on"])
    if dates.get("listed_on") and dates.get("lifted_on") and dates["lifted_on"] < dates["listed_on"]:
        problem(N_("The lift date is before the listing date."))
    problems.extend(found)
    if found:
        return None
    return EntryInput(line=line, name=get["name"], id_number=number, identity_kind=identity_kind, kind=kind,
                      source=get["source"], listed_on=dates["listed_on"], lifted_on=dates.get("lifted_on"))


def check_rows(rows: list[tuple[int, dict]], *, today: date, problems: list[Problem] | None = None
               ) -> list[EntryInput]:
    """Check every row and the list as a whole (no row twice).

    :raise ListRefused: with every problem found (``problems`` found earlier included);
        :raise ListTooLarge: more than :data:`MAX_ROWS` rows.
    """
    problems = list(problems or [])
    if len(rows) > MAX_ROWS:
        raise ListTooLarge()
    entries = [e for line, raw in rows if (e := check_row(line, raw, today=today, problems=problems))]
    first: dict[tuple, int] = {}
    for e in entries:
        key = (e.id_number, e.kind, e.source)
        if key in first:
            problems.append(Problem(e.line, N_("This row repeats line %(first)s (same number, kind and source)."),
                                    {"first": first[key]}))
        first.setdefault(key, e.line)
    if not rows and not problems:
        problems.append(Problem(0, N_("The list has no rows.")))
    if problems:
        raise ListRefused(sorted(problems, key=lambda p: p.line))
    return entries


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GBK/GB18030 (what Excel writes on Chinese Windows)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise ListRefused([Problem(0, N_("The file is not a CSV text file (UTF-8 or GBK)."))])


def _header(values: list[str]) -> tuple[dict[int, str], list[Problem]]:
    """Column index → key, and the header's problems (missing, unknown or repeated columns)."""
    columns: dict[int, str] = {}
    problems = []
    for i, value in enumerate(values):
        name = _clean(value, nfkc=True).lstrip("\ufeff")
        key = _HEADERS.get(name.lower())
        if not name:
            continue
        if key is None:
            problems.append(Problem(1, N_("Unknown column %(column)s."), {"column": name}))
        elif key in columns.values():
            problems.append(Problem(1, N_("The column %(column)s appears twice."), {"column": name}))
        else:
            columns[i] = key
    missing = [c.header for c in COLUMNS if c.required and c.key not in columns.values()]
    if missing:
        problems.append(Problem(1, N_("Missing columns: %(columns)s."), {"columns": "、".join(missing)}))
    return columns, problems


def read_csv(data: bytes, *, today: date) -> list[EntryInput]:
    """Read and check a CSV list: a header row (Chinese or English names, any order), then one
    row per entry; blank lines are skipped.

    :raise ListTooLarge: over :data:`MAX_BYTES` or :data:`MAX_ROWS`; :raise ListRefused: with
        every problem of the file and of its rows.
    """
    if len(data) > MAX_BYTES:
        raise ListTooLarge()
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    rows: list[tuple[int, dict]] = []
    problems: list[Problem] = []
    try:
        header = next(reader, None)
        if header is None:
            raise ListRefused([Problem(0, N_("The file is empty."))])
        columns, problems = _header(header)
        if problems:
            raise ListRefused(problems)
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise ListTooLarge()
            if any(v.strip() for v in values[len(header):]):
                problems.append(Problem(reader.line_num, N_("The row has more values than the header has columns.")))
            rows.append((reader.line_num, {key: values[i] if i < len(values) else "" for i, key in columns.items()}))
    except csv.Error:
        problems.append(Problem(reader.line_num, N_("The line cannot be read as CSV (check its quotation marks).")))
    return check_rows(rows, today=today, problems=problems)


def template_csv() -> bytes:
    """The CSV template (UTF-8 with BOM, so Excel opens it in Chinese) with example rows."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([c.header for c in COLUMNS])
    w.writerow(["王某某", "11010519491231002X", "失信被执行人", "最高人民法院失信被执行人名单", "2026-03-01", "", "自然人"])
    w.writerow(["芜湖某某贸易有限公司", "91350100M000100Y43", "限制消费令", "（2026）皖02执100号限制消费令",
                "2026-04-15", "", "企业"])
    w.writerow(["李某某", "110101199003077774", "工作人员及近亲属", "芜湖市中级人民法院工作人员近亲属名单", "2026-01-10",
                "", "自然人"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- use cases -------------------------------------------------------------------------------------


def _officer(user: User) -> None:
    if user is None or user.role != Role.OFFICER:
        raise NotAllowed()


def masked(number: str) -> str:
    """``3402**********1234``: the region and the tail, what an officer needs to recognise it."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


def _apply(row: RestrictedPerson, e: EntryInput, *, actor: User, now: datetime) -> bool:
    """Update an entry from an imported row; whether anything changed. A blank lift date leaves
    a lift in place, unless the row lists the person again after it."""
    before = (row.name, row.identity_kind, row.listed_on, row.lifted_on)
    row.name, row.identity_kind, row.listed_on = e.name, e.identity_kind, e.listed_on
    if e.lifted_on is not None and e.lifted_on != row.lifted_on:
        row.lifted_on, row.lift_reason, row.lifted_by_id, row.lifted_at = e.lifted_on, None, actor.id, now
    elif e.lifted_on is None and row.lifted_on is not None and row.lifted_on < e.listed_on:
        row.lifted_on = row.lift_reason = row.lifted_by_id = row.lifted_at = None
    return before != (row.name, row.identity_kind, row.listed_on, row.lifted_on)


def import_entries(session: Session, *, actor: User, entries: list[EntryInput], vault: IdentityVault,
                   now: datetime, via: str) -> ImportResult:
    """Write checked rows in one transaction: a new entry per new number, kind and source, the
    existing entry updated otherwise. The ledger receives the counts and entry ids, never a
    number nor a name.

    :raise NotAllowed: not an officer; :raise ListRefused: no rows; :raise Refused: a
        concurrent import wrote the same entry first (nothing was written).
    """
    _officer(actor)
    if not entries:
        raise ListRefused([Problem(0, N_("The list has no rows."))])
    prints = {e.line: vault.fingerprint(e.id_number) for e in entries}
    distinct = sorted(set(prints.values()))
    existing: dict[tuple, RestrictedPerson] = {}
    for i in range(0, len(distinct), _CHUNK):
        for row in session.scalars(select(RestrictedPerson).where(
                RestrictedPerson.id_number_hmac.in_(distinct[i:i + _CHUNK]))):
            existing[(row.id_number_hmac, row.kind, row.source)] = row
    created, updated, unchanged = [], [], 0
    for e in entries:
        row = existing.get((prints[e.line], e.kind, e.source))
        if row is None:
            row = RestrictedPerson(kind=e.kind, name=e.name, identity_kind=e.identity_kind,
                                   id_number_hmac=prints[e.line], id_number_masked=masked(e.id_number),
                                   source=e.source, listed_on=e.listed_on, lifted_on=e.lifted_on,
                                   lifted_by_id=actor.id if e.lifted_on else None,
                                   lifted_at=now if e.lifted_on else None,
                                   court_id=actor.court_id, imported_by_id=actor.id, imported_at=now)
            session.add(row)
            created.append(row)
        elif _apply(row, e, actor=actor, now=now):
            row.updated_at = now
            updated.append(row)
        else:
            unchanged += 1
    try:
        session.flush()
        audit.record(session, stream=STREAM, actor=actor.actor, action="restrictions.imported",
                     subject=f"court:{actor.court_id}",
                     payload={"via": via, "rows": len(entries), "created": [r.id for r in created],
                              "updated": [r.id for r in updated], "unchanged": unchanged,
                              "kinds": dict(sorted(Counter(str(e.kind) for e in entries).items()))}, now=now)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Refused(N_("Another import wrote the same entries at the same time; nothing was imported. "
                         "Import the list again.")) from None
    return ImportResult(len(created), len(updated), unchanged)


def import_csv(session: Session, *, actor: User, data: bytes, vault: IdentityVault, now: datetime) -> ImportResult:
    """Check a CSV list completely, then import it (all rows or none).

    :raise NotAllowed, ListTooLarge, ListRefused, Refused:
    """
    _officer(actor)
    return import_entries(session, actor=actor, entries=read_csv(data, today=local_today(now)), vault=vault,
                          now=now, via="csv")


def import_rows(session: Session, *, actor: User, rows: list[dict], vault: IdentityVault,
                now: datetime) -> ImportResult:
    """The same from the API: ``rows`` are dicts keyed by :data:`KEYS` with string values
    (missing keys read as blank), numbered from 1 in the problems.

    :raise NotAllowed, ListTooLarge, ListRefused, Refused:
    """
    _officer(actor)
    entries = check_rows(list(enumerate(rows, start=1)), today=local_today(now))
    return import_entries(session, actor=actor, entries=entries, vault=vault, now=now, via="api")


def lift(session: Session, *, actor: User, entry_id: int, reason: str, now: datetime,
         lifted_on: date | None = None) -> RestrictedPerson:
    """Lift an entry from ``lifted_on`` (today by default; never in the future) with a reason;
    from that day it bars nobody. The reason stays on the entry; the ledger records its SHA-256.

    :raise NotAllowed: not an officer; :raise NotFound: no such entry; :raise Refused: no
        reason, a date before the listing or in the future, or already lifted.
    """
    _officer(actor)
    row = session.execute(select(RestrictedPerson).where(RestrictedPerson.id == entry_id)
                          .with_for_update()).scalar_one_or_none()
    if row is None:
        raise NotFound()
    today = local_today(now)
    day = lifted_on or today
    reason = _clean(reason)
    if not reason:
        raise Refused(N_("Give the reason for lifting the entry."))
    if len(reason) > REASON_LEN:
        raise Refused(N_("The reason is too long (at most %(max)s characters)."), max=REASON_LEN)
    if row.lifted_on is not None and row.lifted_on <= today:
        raise Refused(N_("This entry was already lifted on %(date)s."), date=row.lifted_on.isoformat())
    if day > today:
        raise Refused(N_("The lift date cannot be in the future."))
    if day < row.listed_on:
        raise Refused(N_("The lift date is before the listing date."))
    row.lifted_on, row.lift_reason, row.lifted_by_id, row.lifted_at = day, reason, actor.id, now
    audit.record(session, stream=STREAM, actor=actor.actor, action="restriction.lifted",
                 subject=f"restriction:{row.id}",
                 payload={"kind": str(row.kind), "lifted_on": day.isoformat(), "court_id": actor.court_id,
                          "reason_sha256": audit.sha256_hex(reason)}, now=now)
    session.commit()
    return row


def get_entry(session: Session, *, viewer: User, entry_id: int) -> RestrictedPerson:
    """One entry, for an officer. :raise NotAllowed, NotFound:"""
    _officer(viewer)
    row = session.get(RestrictedPerson, entry_id)
    if row is None:
        raise NotFound()
    return row


@dataclass(frozen=True)
class EntryPage:
    entries: list[RestrictedPerson]
    total: int


def list_entries(session: Session, *, viewer: User, vault: IdentityVault, query: str = "",
                 kind: RestrictionKind | None = None, active_on: date | None = None, limit: int = 50,
                 offset: int = 0) -> EntryPage:
    """Entries of the list, latest import first, for officers of any court. ``query`` is part of
    a name, or a whole identity number (matched by its hash); ``active_on`` keeps the entries
    that bar on that day.

    :raise NotAllowed: not an officer.
    """
    _officer(viewer)
    conditions = []
    q = _clean(query)
    if q:
        number = _as_number(q)
        conditions.append(RestrictedPerson.id_number_hmac == vault.fingerprint(number) if number
                          else RestrictedPerson.name.contains(q, autoescape=True))
    if kind is not None:
        conditions.append(RestrictedPerson.kind == kind)
    if active_on is not None:
        conditions += _active(active_on)
    total = session.scalar(select(func.count(RestrictedPerson.id)).where(*conditions))
    entries = session.scalars(select(RestrictedPerson).where(*conditions)
                              .options(selectinload(RestrictedPerson.court), selectinload(RestrictedPerson.lifted_by),
                                       selectinload(RestrictedPerson.imported_by))
                              .order_by(RestrictedPerson.imported_at.desc(), RestrictedPerson.id.desc())
                              .limit(limit).offset(offset)).all()
    return EntryPage(list(entries), total)


def _as_number(text: str) -> str | None:
    for check in (validate_resident_id, validate_uscc):
        try:
            return check(text)
        except IdentityNumberError:
            continue
    return None


def _active(day: date) -> list:
    return [RestrictedPerson.listed_on <= day,
            or_(RestrictedPerson.lifted_on.is_(None), RestrictedPerson.lifted_on > day)]


# --- the bar at registration ---------------------------------------------------------------------


def restriction_for(session: Session, *, fingerprint: str, categories, today: date) -> RestrictedPerson | None:
    """The active entry that bars this identity from a lot of these asset categories, if any:
    an A53 entry bars from every lot; a dishonest or restricted debtor from real estate, land
    use rights and vehicles (decision 19). One lookup on the unique index that leads with the
    hash."""
    kinds = [RestrictionKind.STAFF]
    if any(AssetCategory(c) in PROPERTY_AND_VEHICLES for c in categories):
        kinds += [RestrictionKind.DISHONEST, RestrictionKind.CONSUMPTION]
    return session.scalar(select(RestrictedPerson).where(
        RestrictedPerson.id_number_hmac == fingerprint, RestrictedPerson.kind.in_(kinds), *_active(today))
        .order_by(RestrictedPerson.listed_on, RestrictedPerson.id).limit(1))


def refusal(entry: RestrictedPerson) -> Refused:
    """The refusal a barred bidder reads: which list, its source and date, and the rule."""
    params = {"list": KIND_LABELS[RestrictionKind(entry.kind)], "source": entry.source,
              "listed_on": entry.listed_on.isoformat()}
    if entry.kind == RestrictionKind.STAFF:
        return Refused(N_("Staff of the court, the platform or an auxiliary agency and their close relatives may "
                          "not bid (A53): you are on that list (%(source)s, listed on %(listed_on)s)."), **params)
    return Refused(N_("You are on the %(list)s (%(source)s, listed on %(listed_on)s): a restricted person may not "
                      "buy real estate or vehicles (decision 19)."), **params)
