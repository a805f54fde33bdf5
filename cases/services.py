"""Case use cases: register cases, parties and assets, attach files, invite parties, import a
series from CSV (all or nothing), and move case funds.

Each public function takes the session and ``now``, checks the actor, writes the audit ledger
(stream ``case:<id>``) and commits once. Errors are :class:`core.text.DomainError`s.
"""
from __future__ import annotations

import csv
import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from accounts import rules as account_rules
from accounts.identity import IdentityVault
from accounts.models import Role, User
from cases import rules
from cases.models import Asset, AssetFile, Case, FundEntry, Party, Series
from cases.rules import AssetCategory, AssetStage, CaseRuleError, FundAccount, FundMovement, PartyKind, PartyRole
from cases.uploads import FileRefused, check_document, check_photo
from core import audit
from core.files import FileStore
from core.money import MoneyError, to_money
from core.notify import notify
from core.text import N_, DomainError

__all__ = ["FileRefused"]


class NotAllowed(DomainError):
    message = N_("You are not allowed to do this.")


class CaseNotFound(DomainError):
    message = N_("No such case.")


class CaseNumberTaken(DomainError):
    message = N_("Case %(number)s is already registered in this court.")


class InvalidCase(DomainError):
    """A value the officer entered breaks a rule; raised with the rule's msgid as message."""

    message = N_("The case data is not valid.")


class ImportRefused(DomainError):
    message = N_("The file has problems; nothing was imported. Fix them and upload it again.")


class InvitationInvalid(DomainError):
    message = N_("This invitation link is not valid or was already used.")


# --- access ---------------------------------------------------------------------------------


def can_view_case(user: User, case: Case) -> bool:
    """Court staff of the case's court, supervisors (read-only), and the case's own parties."""
    if user.role in (Role.OFFICER, Role.FINANCE):
        return user.court_id == case.court_id
    if user.role == Role.SUPERVISOR:
        return True
    if user.role == Role.PARTY:
        return any(p.user_id == user.id for p in case.parties)
    return False


def can_edit_case(user: User, case: Case) -> bool:
    """Only officers of the case's court change it."""
    return user.role == Role.OFFICER and user.court_id == case.court_id


def _officer_of(actor: User, case: Case) -> None:
    if not can_edit_case(actor, case):
        raise NotAllowed()


def get_case_for(session: Session, user: User, case_id: int, *, edit: bool = False) -> Case:
    """Load a case the user may see (or change).

    :raise CaseNotFound: unknown, or of another court (never reveal that it exists);
    :raise NotAllowed: visible but not changeable by this user.
    """
    case = session.get(Case, case_id)
    if case is None or not can_view_case(user, case):
        raise CaseNotFound()
    if edit and not can_edit_case(user, case):
        raise NotAllowed()
    return case


def visible_cases(session: Session, user: User, *, query: str = "", limit: int = 200) -> list[Case]:
    """Cases the user may see, newest first, optionally filtered by case number."""
    stmt = select(Case).order_by(Case.filed_on.desc(), Case.id.desc()).limit(limit)
    if user.role in (Role.OFFICER, Role.FINANCE):
        stmt = stmt.where(Case.court_id == user.court_id)
    elif user.role == Role.PARTY:
        stmt = stmt.where(Case.id.in_(select(Party.case_id).where(Party.user_id == user.id)))
    elif user.role != Role.SUPERVISOR:
        return []
    if query.strip():
        stmt = stmt.where(Case.number.contains(rules.normalize_case_number(query)))
    return list(session.scalars(stmt))


# --- cases and parties ----------------------------------------------------------------------


@dataclass(frozen=True)
class PartyInput:
    role: PartyRole
    kind: PartyKind
    name: str
    id_number: str
    legal_representative: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None


def _party(session: Session, case: Case, p: PartyInput, *, vault: IdentityVault, today: date) -> Party:
    name = (p.name or "").strip()
    if not name:
        raise InvalidCase(N_("Every party needs a name."))
    try:
        number = rules.validate_party_id(PartyKind(p.kind), p.id_number, today=today)
    except CaseRuleError as exc:
        raise InvalidCase(N_("Identity number of %(name)s: %(why)s"), name=name, why=str(exc)) from None
    phone = (p.phone or "").strip() or None
    if phone and not account_rules.valid_phone(phone):
        raise InvalidCase(N_("The mobile number of %(name)s is not valid."), name=name)
    email = (p.email or "").strip().lower() or None
    if email and not account_rules.valid_email(email):
        raise InvalidCase(N_("The e-mail address of %(name)s is not valid."), name=name)
    party = Party(
        case_id=case.id, role=PartyRole(p.role), kind=PartyKind(p.kind), name=name,
        id_number_encrypted=vault.seal(number), id_number_hmac=vault.fingerprint(number),
        id_number_tail=number[-4:],
        legal_representative=(p.legal_representative or "").strip() or None,
        phone=phone, email=email, address=(p.address or "").strip() or None,
    )
    session.add(party)
    return party


def _case_number(session: Session, actor: User, number: str, today: date) -> str:
    try:
        parsed = rules.parse_case_number(number, court_code=actor.court.code, today=today)
    except CaseRuleError as exc:
        raise InvalidCase(str(exc), code=actor.court.code) from None
    text = str(parsed)
    if session.scalar(select(Case.id).where(Case.court_id == actor.court_id, Case.number == text)):
        raise CaseNumberTaken(number=text)
    return text


def create_case(session: Session, *, actor: User, number: str, basis: str, filed_on: date,
                claim_amount: Decimal, parties: list[PartyInput], vault: IdentityVault,
                now: datetime, officer_id: int | None = None, series_id: int | None = None) -> Case:
    """Register an enforcement case of the actor's court with at least one applicant and one
    debtor.

    :raise NotAllowed, InvalidCase, CaseNumberTaken:
    """
    if actor.role != Role.OFFICER:
        raise NotAllowed()
    today = rules.local_today(now)
    text = _case_number(session, actor, number, today)
    if not (basis or "").strip():
        raise InvalidCase(N_("The enforcement basis is required."))
    if filed_on > today:
        raise InvalidCase(N_("The filing date cannot be in the future."))
    try:
        claim = to_money(claim_amount)
    except MoneyError:
        raise InvalidCase(N_("The claim amount is not an amount.")) from None
    if claim < 0:
        raise InvalidCase(N_("The claim amount cannot be negative."))
    roles = {PartyRole(p.role) for p in parties}
    if roles != {PartyRole.APPLICANT, PartyRole.DEBTOR}:
        raise InvalidCase(N_("A case needs at least one applicant and one debtor."))
    officer = actor
    if officer_id is not None and officer_id != actor.id:
        officer = session.get(User, officer_id)
        if officer is None or officer.role != Role.OFFICER or officer.court_id != actor.court_id:
            raise InvalidCase(N_("The assigned officer must be an officer of this court."))
    case = Case(court_id=actor.court_id, number=text, basis=basis.strip(), filed_on=filed_on,
                claim_amount=claim, officer_id=officer.id, series_id=series_id, created_at=now)
    session.add(case)
    try:
        session.flush()
    except IntegrityError:
        # Two officers registered the same number at the same moment: the loser is told so.
        session.rollback()
        raise CaseNumberTaken(number=text) from None
    for p in parties:
        _party(session, case, p, vault=vault, today=today)
    audit.record(session, stream=f"case:{case.id}", actor=actor.actor, action="case.created",
                 subject=f"case:{case.id}",
                 payload={"number": text, "court_id": case.court_id, "officer_id": officer.id,
                          "claim_amount": str(claim), "parties": len(parties)}, now=now)
    session.commit()
    return case


def add_party(session: Session, *, actor: User, case_id: int, party: PartyInput,
              vault: IdentityVault, now: datetime) -> Party:
    """Add an applicant or debtor to a case. :raise NotAllowed, CaseNotFound, InvalidCase:"""
    case = get_case_for(session, actor, case_id, edit=True)
    p = _party(session, case, party, vault=vault, today=rules.local_today(now))
    session.flush()
    audit.record(session, stream=f"case:{case.id}", actor=actor.actor, action="party.added",
                 subject=f"party:{p.id}", payload={"role": str(p.role), "kind": str(p.kind)}, now=now)
    session.commit()
    return p


def reveal_party_number(viewer: User, party: Party, vault: IdentityVault) -> str:
    """The full identity number of a party, for the officers of the case's court only."""
    if not can_edit_case(viewer, party.case) and viewer.role != Role.FINANCE:
        raise NotAllowed()
    if viewer.court_id != party.case.court_id:
        raise NotAllowed()
    return vault.reveal(party.id_number_encrypted)


def invite_party(session: Session, *, actor: User, party_id: int, now: datetime, base_url: str) -> str:
    """Create an invitation link for a party to follow the case (shown once; e-mailed to the
    party when an address is known). Returns the token.

    :raise NotAllowed, CaseNotFound:
    """
    party = session.get(Party, party_id)
    if party is None:
        raise CaseNotFound()
    get_case_for(session, actor, party.case_id, edit=True)
    token = secrets.token_urlsafe(24)
    party.invitation_sha256 = hashlib.sha256(token.encode()).hexdigest()
    party.invited_at = now
    if party.email:
        notify(session, email=party.email, now=now,
               subject=f"{party.case.court.name} 邀请您查看案件 {party.case.number}",
               body=f"请打开以下链接设置登录账号，以便在线查看案件进展：\n{base_url}/cases/invitation/{token}\n")
    audit.record(session, stream=f"case:{party.case_id}", actor=actor.actor, action="party.invited",
                 subject=f"party:{party.id}", payload={}, now=now)
    session.commit()
    return token


def party_for_invitation(session: Session, token: str) -> Party:
    """:raise InvitationInvalid:"""
    party = session.scalar(select(Party).where(
        Party.invitation_sha256 == hashlib.sha256((token or "").encode()).hexdigest()))
    if party is None:
        raise InvitationInvalid()
    return party


def accept_invitation(session: Session, *, token: str, username: str, password: str,
                      now: datetime) -> User:
    """Create the party's login (role *party*) and link every party record with the same
    identity to it (one person may be a party in several cases).

    :raise InvitationInvalid, InvalidCase:
    """
    party = party_for_invitation(session, token)
    username = (username or "").strip()
    if not account_rules.valid_username(username):
        raise InvalidCase(N_("User name is not valid."))
    problems = account_rules.password_problems(password, username=username)
    if problems:
        raise InvalidCase(N_("The password is too weak."))
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise InvalidCase(N_("This user name is already taken."))
    user = User(username=username, display_name=party.name, email=None, phone=party.phone,
                password_hash=generate_password_hash(password), role=Role.PARTY, active=True,
                failed_logins=0, created_at=now)
    session.add(user)
    session.flush()
    for same in session.scalars(select(Party).where(Party.id_number_hmac == party.id_number_hmac,
                                                    Party.user_id.is_(None))):
        same.user_id = user.id
    party.invitation_sha256 = None
    audit.record(session, stream=f"case:{party.case_id}", actor=user.actor, action="party.joined",
                 subject=f"party:{party.id}", payload={"user_id": user.id}, now=now)
    session.commit()
    return user


# --- assets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetInput:
    category: AssetCategory
    title: str
    region_code: str
    location: str
    seized_on: date
    description: str = ""
    defects: str = ""
    encumbrances: str = ""
    occupancy: str = ""
    tax_notes: str = ""


def _checked_asset_fields(a: AssetInput, today: date) -> dict:
    try:
        category = AssetCategory(a.category)
    except ValueError:
        raise InvalidCase(N_("Unknown asset category.")) from None
    if not (a.title or "").strip():
        raise InvalidCase(N_("The asset needs a name."))
    if not (a.location or "").strip():
        raise InvalidCase(N_("The asset needs a location."))
    try:
        region = rules.parse_region_code(a.region_code)
    except CaseRuleError as exc:
        raise InvalidCase(str(exc)) from None
    if a.seized_on > today:
        raise InvalidCase(N_("The seizure date cannot be in the future."))
    return dict(category=category, title=a.title.strip(), region_code=region.code,
                location=a.location.strip(), seized_on=a.seized_on,
                description=(a.description or "").strip(), defects=(a.defects or "").strip(),
                encumbrances=(a.encumbrances or "").strip(), occupancy=(a.occupancy or "").strip(),
                tax_notes=(a.tax_notes or "").strip())


def add_asset(session: Session, *, actor: User, case_id: int, asset: AssetInput, now: datetime) -> Asset:
    """Record a seized asset in a case. :raise NotAllowed, CaseNotFound, InvalidCase:"""
    case = get_case_for(session, actor, case_id, edit=True)
    values = _checked_asset_fields(asset, rules.local_today(now))
    a = Asset(case_id=case.id, stage=AssetStage.SEIZED, created_at=now, **values)
    session.add(a)
    session.flush()
    audit.record(session, stream=f"case:{case.id}", actor=actor.actor, action="asset.added",
                 subject=f"asset:{a.id}",
                 payload={k: str(v) for k, v in values.items()}, now=now)
    session.commit()
    return a


def update_asset(session: Session, *, actor: User, asset_id: int, asset: AssetInput, now: datetime) -> Asset:
    """Correct an asset's details; the ledger keeps what changed. :raise NotAllowed, CaseNotFound, InvalidCase:"""
    a = session.get(Asset, asset_id)
    if a is None:
        raise CaseNotFound()
    get_case_for(session, actor, a.case_id, edit=True)
    values = _checked_asset_fields(asset, rules.local_today(now))
    changed = {k: str(v) for k, v in values.items() if getattr(a, k) != v}
    for k, v in values.items():
        setattr(a, k, v)
    if changed:
        audit.record(session, stream=f"case:{a.case_id}", actor=actor.actor, action="asset.updated",
                     subject=f"asset:{a.id}", payload=changed, now=now)
    session.commit()
    return a


def attach_asset_file(session: Session, *, actor: User, asset_id: int, kind: str, filename: str,
                      data: bytes, store: FileStore, now: datetime) -> AssetFile:
    """Attach a photo (JPEG/PNG/WebP) or a document (PDF) to an asset, checked by content.

    :raise NotAllowed, CaseNotFound, FileRefused:
    """
    a = session.get(Asset, asset_id)
    if a is None:
        raise CaseNotFound()
    get_case_for(session, actor, a.case_id, edit=True)
    name = (filename or "file").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200]
    if kind == "photo":
        if len(a.photos) >= rules.MAX_PHOTOS_PER_ASSET:
            raise FileRefused(name=name, reason=N_("an asset may have at most 30 photos."))
        media_type = check_photo(name, data)
    elif kind == "document":
        media_type = check_document(name, data)
    else:
        raise InvalidCase(N_("Unknown kind of file."))
    sha = hashlib.sha256(data).hexdigest()
    existing = session.scalar(select(AssetFile).where(AssetFile.asset_id == a.id, AssetFile.sha256 == sha))
    if existing is not None:
        return existing
    store.put(data)
    f = AssetFile(asset_id=a.id, kind=kind, sha256=sha, media_type=media_type, filename=name,
                  size=len(data), uploaded_at=now, uploaded_by_id=actor.id)
    session.add(f)
    session.flush()
    audit.record(session, stream=f"case:{a.case_id}", actor=actor.actor, action="asset.file_attached",
                 subject=f"asset:{a.id}",
                 payload={"kind": kind, "sha256": sha, "media_type": media_type, "size": len(data)}, now=now)
    session.commit()
    return f


def set_basis_document(session: Session, *, actor: User, case_id: int, filename: str, data: bytes,
                       store: FileStore, now: datetime) -> Case:
    """Upload the enforcement basis document (PDF or a scanned image). :raise FileRefused:"""
    case = get_case_for(session, actor, case_id, edit=True)
    check_document(filename or "file", data, allow_images=True)
    sha = store.put(data)
    case.basis_file_sha256 = sha
    audit.record(session, stream=f"case:{case.id}", actor=actor.actor, action="case.basis_uploaded",
                 subject=f"case:{case.id}", payload={"sha256": sha}, now=now)
    session.commit()
    return case


def mark_asset_stage(session: Session, asset: Asset, stage: AssetStage, *, actor: str, now: datetime) -> None:
    """Move an asset to ``stage`` inside the caller's transaction (no commit): called by the
    appraisal and auction services as their procedures advance."""
    if asset.stage == stage:
        return
    audit.record(session, stream=f"case:{asset.case_id}", actor=actor, action="asset.stage",
                 subject=f"asset:{asset.id}", payload={"from": str(asset.stage), "to": str(stage)}, now=now)
    asset.stage = stage


@dataclass(frozen=True)
class OverdueAsset:
    asset: Asset
    deadline: date
    days_late: int


def overdue_pricing(session: Session, *, user: User, today: date, rulebook) -> list[OverdueAsset]:
    """Assets of the user's court seized more than 30 days ago with no pricing started (E01)."""
    if user.role not in (Role.OFFICER, Role.FINANCE, Role.SUPERVISOR):
        return []
    latest_seizure = today.fromordinal(today.toordinal() - rulebook.pricing_start_days - 1)
    stmt = (select(Asset).join(Case).where(Asset.stage == AssetStage.SEIZED, Asset.seized_on <= latest_seizure)
            .order_by(Asset.seized_on))
    if user.role != Role.SUPERVISOR:
        stmt = stmt.where(Case.court_id == user.court_id)
    out = []
    for a in session.scalars(stmt):
        if rules.pricing_overdue(a.seized_on, a.stage, today, rulebook):
            out.append(OverdueAsset(a, rules.pricing_deadline(a.seized_on, rulebook),
                                    rules.pricing_deadline_passed_days(a.seized_on, today, rulebook)))
    return out


# --- series import --------------------------------------------------------------------------


@dataclass
class ImportPreview:
    encoding: str
    header_problems: list[tuple[str, dict]] = field(default_factory=list)
    rows: list[rules.ImportRow] = field(default_factory=list)

    @property
    def problem_rows(self) -> list[rules.ImportRow]:
        return [r for r in self.rows if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.header_problems and not self.problem_rows and bool(self.rows)

    @property
    def case_count(self) -> int:
        return len({r.values["case_number"] for r in self.rows if "case_number" in r.values})


def decode_csv(data: bytes) -> tuple[str, str]:
    """Text and encoding of an uploaded CSV: UTF-8 (with or without BOM), else GBK/GB18030
    (what Excel writes on Chinese Windows). :raise InvalidCase: for anything else."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc), ("UTF-8" if enc == "utf-8-sig" else "GBK")
        except UnicodeDecodeError:
            continue
    raise InvalidCase(N_("The file is neither UTF-8 nor GBK text."))


def preview_import(session: Session, *, actor: User, data: bytes, now: datetime) -> ImportPreview:
    """Check a whole CSV without writing anything: every row's problems, listed."""
    if actor.role != Role.OFFICER:
        raise NotAllowed()
    text, encoding = decode_csv(data)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    preview = ImportPreview(encoding=encoding)
    if header is None:
        preview.header_problems.append((N_("The file is empty."), {}))
        return preview
    preview.header_problems = rules.check_header(header)
    if preview.header_problems:
        return preview
    cleaned = [h.strip().lstrip("\ufeff") for h in header]
    today = rules.local_today(now)
    for line, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(preview.rows) >= rules.MAX_IMPORT_ROWS:
            preview.header_problems.append((N_("At most %(n)s rows per file."), {"n": rules.MAX_IMPORT_ROWS}))
            break
        raw = dict(zip(cleaned, values, strict=False))
        preview.rows.append(rules.check_import_row(line, raw, court_code=actor.court.code, today=today))
    if not preview.rows and not preview.header_problems:
        preview.header_problems.append((N_("The file has no data rows."), {}))
    numbers = {r.values["case_number"] for r in preview.rows if "case_number" in r.values}
    existing = set(session.scalars(select(Case.number).where(Case.court_id == actor.court_id,
                                                             Case.number.in_(numbers)))) if numbers else set()
    rules.check_import_consistency(preview.rows, existing_numbers=existing)
    return preview


@dataclass(frozen=True)
class ImportResult:
    series: Series | None
    cases: int
    assets: int


def import_series(session: Session, *, actor: User, data: bytes, series_name: str | None,
                  vault: IdentityVault, now: datetime) -> ImportResult:
    """Import a checked CSV in one transaction: all rows or nothing.

    :raise ImportRefused: when the preview finds any problem (nothing is written).
    """
    preview = preview_import(session, actor=actor, data=data, now=now)
    if not preview.ok:
        raise ImportRefused()
    series = None
    name = (series_name or "").strip()
    if name:
        series = session.scalar(select(Series).where(Series.court_id == actor.court_id, Series.name == name))
        if series is None:
            series = Series(court_id=actor.court_id, name=name[:120], created_at=now, created_by_id=actor.id)
            session.add(series)
            session.flush()
    today = rules.local_today(now)
    cases: dict[str, Case] = {}
    asset_count = 0
    for row in preview.rows:
        v = row.values
        case = cases.get(v["case_number"])
        if case is None:
            case = Case(court_id=actor.court_id, number=v["case_number"], basis=v["basis"],
                        filed_on=v["filed_on"], claim_amount=v["claim_amount"], officer_id=actor.id,
                        series_id=series.id if series else None, created_at=now)
            session.add(case)
            session.flush()
            for who, role in (("applicant", PartyRole.APPLICANT), ("debtor", PartyRole.DEBTOR)):
                _party(session, case, PartyInput(role=role, kind=v[f"{who}_kind"], name=v[f"{who}_name"],
                                                 id_number=v[f"{who}_id"]), vault=vault, today=today)
            audit.record(session, stream=f"case:{case.id}", actor=actor.actor, action="case.imported",
                         subject=f"case:{case.id}",
                         payload={"number": case.number, "series_id": series.id if series else None,
                                  "line": row.line}, now=now)
            cases[case.number] = case
        session.add(Asset(case_id=case.id, category=v["category"], title=v["asset_title"],
                          description=v["asset_description"], region_code=v["region_code"],
                          location=v["location"], seized_on=v["seized_on"], stage=AssetStage.SEIZED,
                          created_at=now))
        asset_count += 1
    audit.record(session, stream=f"court:{actor.court_id}", actor=actor.actor, action="series.imported",
                 subject=f"series:{series.id}" if series else f"court:{actor.court_id}",
                 payload={"cases": len(cases), "assets": asset_count, "encoding": preview.encoding}, now=now)
    session.commit()
    return ImportResult(series, len(cases), asset_count)


def import_template() -> bytes:
    """The CSV template (UTF-8 with BOM so Excel opens it in Chinese) with one example row."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(rules.IMPORT_HEADERS)
    w.writerow(["（2026）皖02执100号", "（2025）皖0202民初456号民事判决书", "2026-03-01", "芜湖市某银行股份有限公司",
                "企业", "91350100M000100Y43", "王某某", "自然人", "11010519491231002X", "1200000.00",
                "不动产", "芜湖市镜湖区某小区3栋502室", "住宅，建筑面积89.5平方米", "340202",
                "安徽省芜湖市镜湖区某路88号", "2026-03-05"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- case funds -----------------------------------------------------------------------------


def record_fund_movement(session: Session, *, case_id: int, kind: FundMovement, amount: Decimal,
                         source: str, memo: str = "", actor: str, now: datetime,
                         commit: bool = True) -> FundEntry:
    """Append a movement to the case's fund ledger under a lock on the case row.

    Called by the bidding and auction services (deposits, payments, refunds, payouts) in
    their own transaction (``commit=False``), or by an officer recording a payment.

    :raise InvalidCase: non-positive amount, or money leaving an account that does not hold it.
    """
    entry = record_fund_movements(session, case_id=case_id, movements=[(kind, amount, source, memo)], actor=actor,
                                  now=now)[0]
    if commit:
        session.commit()
    return entry


def record_fund_movements(session: Session, *, case_id: int, movements: list[tuple[FundMovement, Decimal, str, str]],
                          actor: str, now: datetime) -> list[FundEntry]:
    """Append ``(kind, amount, source, memo)`` movements in order, under one lock on the case
    row, in the caller's transaction (the close of a round moves every deposit at once).

    :raise InvalidCase: as :func:`record_fund_movement`, for the first movement refused.
    """
    if not movements:
        return []
    # Lock the case row only (of=Case: its joined relationships must not be locked or outer-joined).
    case = session.execute(select(Case).where(Case.id == case_id).with_for_update(of=Case)).scalar_one()
    last = session.scalar(select(FundEntry).where(FundEntry.case_id == case.id)
                          .order_by(FundEntry.seq.desc()).limit(1))
    balances = {FundAccount.OUTSIDE: Decimal("0"),
                FundAccount.COURT: last.court_balance_after if last else Decimal("0.00"),
                FundAccount.DEPOSITS: last.deposits_balance_after if last else Decimal("0.00")}
    seq = last.seq if last else 0
    entries = []
    for kind, amount, source, memo in movements:
        try:
            amount = to_money(amount)
            balances = rules.apply_movement(balances, FundMovement(kind), amount)
        except MoneyError:
            raise InvalidCase(N_("The amount is not valid.")) from None
        except CaseRuleError as exc:
            raise InvalidCase(str(exc)) from None
        source_account, target_account = rules.DIRECTIONS[FundMovement(kind)]
        seq += 1
        entry = FundEntry(case_id=case.id, seq=seq, kind=FundMovement(kind),
                          amount=amount, from_account=source_account, to_account=target_account,
                          court_balance_after=balances[FundAccount.COURT],
                          deposits_balance_after=balances[FundAccount.DEPOSITS],
                          source=source, memo=memo[:300], at=now, actor=actor)
        session.add(entry)
        entries.append(entry)
    session.flush()
    audit.record_many(session, stream=f"case:{case.id}", actor=actor, now=now, entries=[
        ("funds.moved", f"case:{case.id}",
         {"seq": e.seq, "kind": str(e.kind), "amount": str(e.amount), "source": e.source}) for e in entries])
    return entries


def fund_entries(session: Session, case_id: int) -> list[FundEntry]:
    return list(session.scalars(select(FundEntry).where(FundEntry.case_id == case_id).order_by(FundEntry.seq)))


def reconcile_funds(session: Session, case_id: int) -> list[str]:
    """Replay the case's fund entries from zero and compare with the running balances stored
    on each line; returns the discrepancies (empty when the ledger reconciles)."""
    problems = []
    balances = {a: Decimal("0.00") for a in FundAccount}
    expected_seq = 1
    for e in fund_entries(session, case_id):
        if e.seq != expected_seq:
            problems.append(f"entry seq {e.seq}: expected {expected_seq} (missing entry)")
        expected_seq = e.seq + 1
        if rules.DIRECTIONS[FundMovement(e.kind)] != (e.from_account, e.to_account):
            problems.append(f"entry seq {e.seq}: wrong accounts for {e.kind}")
        try:
            balances = rules.apply_movement(balances, FundMovement(e.kind), e.amount)
        except CaseRuleError:
            problems.append(f"entry seq {e.seq}: overdraws an account")
            continue
        if (balances[FundAccount.COURT], balances[FundAccount.DEPOSITS]) != (e.court_balance_after,
                                                                             e.deposits_balance_after):
            problems.append(f"entry seq {e.seq}: running balance does not follow from the entries")
    return problems


def fund_balances(session: Session, case_id: int) -> dict[FundAccount, Decimal]:
    last = session.scalar(select(FundEntry).where(FundEntry.case_id == case_id)
                          .order_by(FundEntry.seq.desc()).limit(1))
    return {FundAccount.COURT: last.court_balance_after if last else Decimal("0.00"),
            FundAccount.DEPOSITS: last.deposits_balance_after if last else Decimal("0.00")}
