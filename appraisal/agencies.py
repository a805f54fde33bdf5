"""Agency registry use cases: registration, a supervisor's decisions, appraisers, declared
conflicts, and scorecards. Each function commits once and writes the audit ledger."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from accounts import rules as account_rules
from accounts.identity import IdentityVault
from accounts.models import Role, User
from appraisal.models import Agency, AgencyConflict, AgencyDecision, Appraiser, Commission, Objection, Valuation
from appraisal.rules import AgencyFacts, AgencyKind, AgencyStatus, CommissionState, ObjectionState, bar_until
from cases.rules import CaseRuleError, PartyKind, Specialty, local_today, parse_region_code, validate_party_id
from core import audit
from core.text import N_, DomainError


class AgencyError(DomainError):
    message = N_("The agency data is not valid.")


class NotAllowed(DomainError):
    message = N_("You are not allowed to do this.")


@dataclass(frozen=True)
class AgencyRegistration:
    username: str
    password: str
    email: str
    phone: str
    name: str
    licence_number: str
    kind: AgencyKind
    specialties: list[str]
    regions: list[str]
    appraisers: list[tuple[str, str]]  # (name, licence number)
    address: str = ""


def _check_lists(specialties: list[str], regions: list[str]) -> tuple[list[str], list[str]]:
    try:
        specs = sorted({str(Specialty(s)) for s in specialties})
    except ValueError:
        raise AgencyError(N_("Unknown specialty list.")) from None
    codes = set()
    for code in regions:
        try:
            r = parse_region_code(code)
        except CaseRuleError as exc:
            raise AgencyError(str(exc)) from None
        if r.code not in (r.city_code, r.province_code):
            raise AgencyError(N_("Regions are cities (e.g. 340200) or provinces (e.g. 340000)."))
        codes.add(r.code)
    if not specs:
        raise AgencyError(N_("Choose at least one specialty list."))
    if not codes:
        raise AgencyError(N_("Choose at least one region."))
    return specs, sorted(codes)


def register_agency(session: Session, reg: AgencyRegistration, *, now: datetime) -> Agency:
    """An agency (or inquiry platform / institution) registers; it waits for a supervisor.

    :raise AgencyError:
    """
    name, licence = (reg.name or "").strip(), (reg.licence_number or "").strip()
    if not name or not licence:
        raise AgencyError(N_("Name and licence number are required."))
    username = (reg.username or "").strip()
    if not account_rules.valid_username(username):
        raise AgencyError(N_("User name is not valid."))
    if account_rules.password_problems(reg.password, username=username):
        raise AgencyError(N_("The password is too weak."))
    email = (reg.email or "").strip().lower()
    if not account_rules.valid_email(email):
        raise AgencyError(N_("E-mail address is not valid."))
    if reg.phone and not account_rules.valid_phone(reg.phone):
        raise AgencyError(N_("Mobile number is not valid."))
    specs, regions = _check_lists(reg.specialties, reg.regions)
    kind = AgencyKind(reg.kind)
    appraisers = [(n.strip(), lic.strip()) for n, lic in reg.appraisers if n.strip() and lic.strip()]
    if kind is AgencyKind.APPRAISAL and len(appraisers) < 2:
        raise AgencyError(N_("An appraisal agency registers at least two qualified appraisers (E55)."))
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise AgencyError(N_("This user name is already taken."))
    if session.scalar(select(User.id).where(func.lower(User.email) == email)):
        raise AgencyError(N_("This e-mail address is already registered."))
    if session.scalar(select(Agency.id).where((Agency.name == name) | (Agency.licence_number == licence))):
        raise AgencyError(N_("An agency with this name or licence number is already registered."))
    if len({lic for _, lic in appraisers}) != len(appraisers) or session.scalar(
            select(Appraiser.id).where(Appraiser.licence_number.in_([lic for _, lic in appraisers]))):
        raise AgencyError(N_("An appraiser's licence number is already registered."))
    user = User(username=username, email=email, phone=reg.phone or None, display_name=name,
                password_hash=generate_password_hash(reg.password), role=Role.AGENCY, active=True,
                failed_logins=0, created_at=now)
    session.add(user)
    session.flush()
    agency = Agency(user_id=user.id, kind=kind, name=name, licence_number=licence, status=AgencyStatus.PENDING,
                    specialties=specs, regions=regions, contact_phone=reg.phone or None,
                    address=(reg.address or "").strip() or None, created_at=now)
    session.add(agency)
    session.flush()
    for n, lic in appraisers:
        session.add(Appraiser(agency_id=agency.id, name=n, licence_number=lic, active=True))
    audit.record(session, stream=f"agency:{agency.id}", actor=user.actor, action="agency.registered",
                 subject=f"agency:{agency.id}",
                 payload={"name": name, "licence": licence, "kind": str(kind), "specialties": specs,
                          "regions": regions, "appraisers": len(appraisers)}, now=now)
    session.commit()
    return agency


_TRANSITIONS = {
    "approved": ({AgencyStatus.PENDING}, AgencyStatus.LISTED),
    "suspended": ({AgencyStatus.LISTED}, AgencyStatus.SUSPENDED),
    "reinstated": ({AgencyStatus.SUSPENDED}, AgencyStatus.LISTED),
    "removed": ({AgencyStatus.PENDING, AgencyStatus.LISTED, AgencyStatus.SUSPENDED}, AgencyStatus.REMOVED),
}


def decide(session: Session, *, actor: User, agency_id: int, action: str, reason: str, now: datetime,
           rulebook) -> Agency:
    """A supervisor approves an agency into the list, suspends, reinstates or removes it
    (E23: removal bars it for 5 years); the reason is published on its page.

    :raise NotAllowed, AgencyError:
    """
    if actor.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise NotAllowed()
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise AgencyError(N_("No such agency."))
    if action not in _TRANSITIONS:
        raise AgencyError(N_("Unknown decision."))
    if not (reason or "").strip():
        raise AgencyError(N_("Every decision needs its reason; it is published."))
    allowed, target = _TRANSITIONS[action]
    if agency.status not in allowed:
        raise AgencyError(N_("This decision is not possible for an agency in its current status."))
    agency.status = target
    if target is AgencyStatus.REMOVED:
        agency.barred_until = bar_until(local_today(now), rulebook)
    session.add(AgencyDecision(agency_id=agency.id, action=action, reason=reason.strip(), decided_by_id=actor.id,
                               decided_at=now))
    audit.record(session, stream=f"agency:{agency.id}", actor=actor.actor, action=f"agency.{action}",
                 subject=f"agency:{agency.id}", payload={"reason": reason.strip(), "status": str(target)}, now=now)
    session.commit()
    return agency


def agency_of(session: Session, user: User) -> Agency:
    """The agency a login belongs to. :raise NotAllowed:"""
    agency = session.scalar(select(Agency).where(Agency.user_id == user.id)) if user.role == Role.AGENCY else None
    if agency is None:
        raise NotAllowed()
    return agency


def add_appraiser(session: Session, *, actor: User, name: str, licence_number: str, now: datetime) -> Appraiser:
    agency = agency_of(session, actor)
    name, lic = (name or "").strip(), (licence_number or "").strip()
    if not name or not lic:
        raise AgencyError(N_("Name and licence number are required."))
    if session.scalar(select(Appraiser.id).where(Appraiser.licence_number == lic)):
        raise AgencyError(N_("An appraiser's licence number is already registered."))
    a = Appraiser(agency_id=agency.id, name=name, licence_number=lic, active=True)
    session.add(a)
    session.flush()
    audit.record(session, stream=f"agency:{agency.id}", actor=actor.actor, action="appraiser.added",
                 subject=f"appraiser:{a.id}", payload={"name": name, "licence": lic}, now=now)
    session.commit()
    return a


def declare_conflict(session: Session, *, actor: User, kind: PartyKind, id_number: str, description: str,
                     vault: IdentityVault, now: datetime) -> AgencyConflict:
    """Declare a relationship with a person or enterprise (decision 15): the agency is then
    excluded, with this reason, from draws where that person is a party."""
    agency = agency_of(session, actor)
    try:
        number = validate_party_id(PartyKind(kind), id_number, today=local_today(now))
    except CaseRuleError as exc:
        raise AgencyError(str(exc)) from None
    c = AgencyConflict(agency_id=agency.id, fingerprint=vault.fingerprint(number), number_tail=number[-4:],
                       description=(description or "").strip()[:300] or "—", declared_at=now)
    session.add(c)
    session.flush()
    audit.record(session, stream=f"agency:{agency.id}", actor=actor.actor, action="conflict.declared",
                 subject=f"agency:{agency.id}", payload={"conflict_id": c.id}, now=now)
    session.commit()
    return c


def agency_facts(session: Session, kind: AgencyKind = AgencyKind.APPRAISAL) -> list[AgencyFacts]:
    """Every agency of a kind as plain values, for pool decisions."""
    conflicts: dict[int, set[str]] = {}
    for agency_id, fp in session.execute(select(AgencyConflict.agency_id, AgencyConflict.fingerprint)):
        conflicts.setdefault(agency_id, set()).add(fp)
    return [AgencyFacts(id=a.id, name=a.name, licence=a.licence_number, status=AgencyStatus(a.status),
                        specialties=frozenset(a.specialties or []), regions=frozenset(a.regions or []),
                        conflicts=frozenset(conflicts.get(a.id, set())))
            for a in session.scalars(select(Agency).where(Agency.kind == kind).order_by(Agency.id))]


def scorecard(session: Session, agency_id: int) -> dict[str, int]:
    """Commissions received, accepted, declined, on time, late; objections upheld."""
    states = dict(session.execute(select(Commission.state, func.count()).where(Commission.agency_id == agency_id)
                                  .group_by(Commission.state)).all())
    received = sum(states.values())
    declined = states.get(CommissionState.DECLINED, 0)
    late = states.get(CommissionState.LAPSED, 0)
    # On time: the report was in before the deadline (a commission lapsed after a missed
    # correction is late, not on time).
    reported = session.scalar(select(func.count(func.distinct(Valuation.commission_id))).join(Commission)
                              .where(Commission.agency_id == agency_id,
                                     Commission.state != CommissionState.LAPSED)) or 0
    upheld = session.scalar(select(func.count()).select_from(Objection).join(Valuation, Objection.valuation_id == Valuation.id)
                            .join(Commission).where(Commission.agency_id == agency_id,
                                                    Objection.state == ObjectionState.UPHELD)) or 0
    accepted = session.scalar(select(func.count()).select_from(Commission).where(
        Commission.agency_id == agency_id, Commission.answered_at.is_not(None),
        Commission.state != CommissionState.DECLINED)) or 0
    return {"received": received, "accepted": accepted,
            "declined": declined, "on_time": reported, "late": late, "objections_upheld": upheld}
