"""Account use cases: registration, login, courts and court staff, profiles, API tokens.

Every function takes the session and ``now`` explicitly, commits once, and writes the audit
ledger. Errors are :class:`core.text.DomainError` subclasses whose message the view shows.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from werkzeug.security import check_password_hash, generate_password_hash

from accounts import rules
from accounts.identity import IdentityVault
from accounts.models import COURT_ROLES, ApiToken, Court, Identity, IdentityKind, Role, User
from core import audit
from core.db import cooperative_waits
from core.text import N_, DomainError

# A hash of a random password, checked when the user does not exist, so the response time
# does not tell an attacker which user names exist.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


class UsernameTaken(DomainError):
    message = N_("This user name is already taken.")


class EmailTaken(DomainError):
    message = N_("This e-mail address is already registered.")


class IdentityTaken(DomainError):
    message = N_("An account is already registered with this identity number.")


class InvalidIdentityNumber(DomainError):
    message = N_("The identity number is not valid: %(reason)s.")


class InvalidInput(DomainError):
    message = N_("%(field)s is not valid.")


class WeakPassword(DomainError):
    message = N_("The password is too weak: it needs %(reasons)s.")


class InvalidCredentials(DomainError):
    message = N_("Wrong user name or password.")


class AccountLocked(DomainError):
    message = N_("Too many failed attempts: this account is locked for a while. Try again later.")


class AccountDisabled(DomainError):
    message = N_("This account is disabled. Contact the platform administrator.")


class CourtExists(DomainError):
    message = N_("A court with this name or code already exists.")


class NotAllowed(DomainError):
    message = N_("You are not allowed to do this.")


# --- helpers ------------------------------------------------------------------------------


def _check_password(password: str, username: str) -> None:
    problems = rules.password_problems(password, username=username)
    if problems:
        raise WeakPassword(reasons=problems)


def _check_unique(session: Session, username: str, email: str | None) -> None:
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise UsernameTaken()
    if email and session.scalar(select(User.id).where(func.lower(User.email) == email.lower())):
        raise EmailTaken()


def _new_user(session: Session, *, username: str, password: str, display_name: str, role: Role,
              now: datetime, email: str | None = None, phone: str | None = None,
              court_id: int | None = None) -> User:
    username = (username or "").strip()
    email = (email or "").strip().lower() or None
    if not rules.valid_username(username):
        raise InvalidInput(field=N_("User name"))
    if email and not rules.valid_email(email):
        raise InvalidInput(field=N_("E-mail address"))
    if phone and not rules.valid_phone(phone):
        raise InvalidInput(field=N_("Mobile number"))
    if not (display_name or "").strip():
        raise InvalidInput(field=N_("Name"))
    _check_password(password, username)
    _check_unique(session, username, email)
    user = User(
        username=username, email=email, phone=phone or None, display_name=display_name.strip(),
        password_hash=generate_password_hash(password), role=role, court_id=court_id,
        active=True, failed_logins=0, created_at=now,
    )
    session.add(user)
    session.flush()
    return user


# --- registration -------------------------------------------------------------------------


@dataclass(frozen=True)
class BidderRegistration:
    """What a member of the public enters to register as a bidder."""

    username: str
    password: str
    email: str
    phone: str
    kind: IdentityKind
    real_name: str
    id_number: str
    legal_representative: str | None = None


def register_bidder(session: Session, reg: BidderRegistration, *, vault: IdentityVault,
                    now: datetime) -> User:
    """Create a bidder account with a verified real name (GB 11643 / GB 32100 check digits).

    :raise InvalidIdentityNumber, IdentityTaken, UsernameTaken, EmailTaken, WeakPassword,
        InvalidInput:
    """
    kind = IdentityKind(reg.kind)
    real_name = (reg.real_name or "").strip()
    if not real_name:
        raise InvalidInput(field=N_("Real name"))
    try:
        if kind is IdentityKind.PERSON:
            number = rules.validate_resident_id(reg.id_number, today=now.date())
        else:
            number = rules.validate_uscc(reg.id_number)
    except rules.IdentityNumberError as exc:
        raise InvalidIdentityNumber(reason=str(exc)) from None
    legal_rep = (reg.legal_representative or "").strip() or None
    if kind is IdentityKind.ENTERPRISE and not legal_rep:
        raise InvalidInput(field=N_("Legal representative"))
    fingerprint = vault.fingerprint(number)
    if session.scalar(select(Identity.id).where(Identity.id_number_hmac == fingerprint)):
        raise IdentityTaken()
    user = _new_user(session, username=reg.username, password=reg.password,
                     display_name=real_name, role=Role.BIDDER, now=now,
                     email=reg.email, phone=reg.phone)
    session.add(Identity(
        user_id=user.id, kind=kind, real_name=real_name, id_number_encrypted=vault.seal(number),
        id_number_hmac=fingerprint, id_number_tail=number[-4:],
        legal_representative=legal_rep if kind is IdentityKind.ENTERPRISE else None,
        created_at=now,
    ))
    # The public ledger never names a bidder: only the account number and kind.
    audit.record(session, stream=f"user:{user.id}", actor=user.actor, action="account.registered",
                 subject=f"user:{user.id}", payload={"role": "bidder", "kind": str(kind)}, now=now)
    session.commit()
    return user


# --- login --------------------------------------------------------------------------------


def authenticate(session: Session, *, username: str, password: str, now: datetime) -> User:
    """Check a login; count failures and lock the account after ``MAX_FAILED_LOGINS``.

    :raise InvalidCredentials, AccountLocked, AccountDisabled:
    """
    user = session.scalar(select(User).where(func.lower(User.username) == (username or "").strip().lower()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        raise InvalidCredentials()
    if rules.is_locked(user.locked_until, now):
        raise AccountLocked()
    if not check_password_hash(user.password_hash, password or ""):
        decision = rules.after_failed_login(user.failed_logins, now)
        user.failed_logins, user.locked_until = decision.failed_logins, decision.locked_until
        action = "login.locked" if decision.locked_until else "login.failed"
        audit.record(session, stream=f"user:{user.id}", actor="anonymous", action=action,
                     subject=f"user:{user.id}", payload={}, now=now)
        session.commit()
        if decision.locked_until:
            raise AccountLocked()
        raise InvalidCredentials()
    if not user.active:
        raise AccountDisabled()
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    audit.record(session, stream=f"user:{user.id}", actor=user.actor, action="login",
                 subject=f"user:{user.id}", payload={}, now=now)
    session.commit()
    return user


# --- administration -----------------------------------------------------------------------


def create_court(session: Session, *, actor: User, name: str, code: str, region_code: str,
                 now: datetime) -> Court:
    """Add a court (administrators only).

    :raise NotAllowed, CourtExists, InvalidInput:
    """
    if actor.role != Role.ADMIN:
        raise NotAllowed()
    name, code, region_code = (name or "").strip(), (code or "").strip(), (region_code or "").strip()
    if not name:
        raise InvalidInput(field=N_("Court name"))
    if not code or len(code) > 20:
        raise InvalidInput(field=N_("Court code"))
    if not (region_code.isdigit() and len(region_code) == 6):
        raise InvalidInput(field=N_("Region code"))
    if session.scalar(select(Court.id).where((Court.name == name) | (Court.code == code))):
        raise CourtExists()
    court = Court(name=name, code=code, region_code=region_code, created_at=now)
    session.add(court)
    session.flush()
    audit.record(session, stream="platform", actor=actor.actor, action="court.created",
                 subject=f"court:{court.id}",
                 payload={"name": name, "code": code, "region_code": region_code}, now=now)
    session.commit()
    return court


def create_staff(session: Session, *, actor: User, role: Role, username: str, password: str,
                 display_name: str, email: str | None, phone: str | None = None,
                 court_id: int | None = None, now: datetime) -> User:
    """Create a court officer, court finance officer, supervisor, administrator or agency login
    (administrators only). Court staff must belong to an existing court.

    :raise NotAllowed, InvalidInput, UsernameTaken, EmailTaken, WeakPassword:
    """
    if actor.role != Role.ADMIN:
        raise NotAllowed()
    role = Role(role)
    if role in (Role.BIDDER, Role.PARTY):
        raise InvalidInput(field=N_("Role"))
    if role in COURT_ROLES:
        if court_id is None or session.get(Court, court_id) is None:
            raise InvalidInput(field=N_("Court"))
    else:
        court_id = None
    user = _new_user(session, username=username, password=password, display_name=display_name,
                     role=role, now=now, email=email, phone=phone, court_id=court_id)
    audit.record(session, stream="platform", actor=actor.actor, action="user.created",
                 subject=f"user:{user.id}",
                 payload={"role": str(role), "court_id": court_id, "username": user.username}, now=now)
    session.commit()
    return user


def set_active(session: Session, *, actor: User, user_id: int, active: bool, now: datetime) -> User:
    """Disable or re-enable an account (administrators only; never one's own)."""
    if actor.role != Role.ADMIN or actor.id == user_id:
        raise NotAllowed()
    user = session.get(User, user_id)
    if user is None:
        raise InvalidInput(field=N_("User"))
    user.active = active
    if active:
        user.failed_logins, user.locked_until = 0, None
    audit.record(session, stream=f"user:{user.id}", actor=actor.actor,
                 action="user.enabled" if active else "user.disabled",
                 subject=f"user:{user.id}", payload={}, now=now)
    session.commit()
    return user


# --- profile ------------------------------------------------------------------------------


def update_profile(session: Session, *, user: User, email: str | None, phone: str | None,
                   display_name: str | None, now: datetime) -> User:
    """Change one's contact details (bidders keep their verified real name as display name)."""
    email = (email or "").strip().lower() or None
    phone = (phone or "").strip() or None
    if email and not rules.valid_email(email):
        raise InvalidInput(field=N_("E-mail address"))
    if phone and not rules.valid_phone(phone):
        raise InvalidInput(field=N_("Mobile number"))
    if email and email != user.email and session.scalar(
        select(User.id).where(func.lower(User.email) == email, User.id != user.id)
    ):
        raise EmailTaken()
    changed = {}
    if email != user.email:
        user.email, changed["email"] = email, True
    if phone != user.phone:
        user.phone, changed["phone"] = phone, True
    if user.identity is None and display_name and display_name.strip() != user.display_name:
        user.display_name, changed["display_name"] = display_name.strip(), True
    if changed:
        audit.record(session, stream=f"user:{user.id}", actor=user.actor, action="profile.updated",
                     subject=f"user:{user.id}", payload={"fields": sorted(changed)}, now=now)
    session.commit()
    return user


def change_password(session: Session, *, user: User, current: str, new: str, now: datetime) -> None:
    """:raise InvalidCredentials: when ``current`` is wrong; :raise WeakPassword:"""
    if not check_password_hash(user.password_hash, current or ""):
        raise InvalidCredentials()
    _check_password(new, user.username)
    user.password_hash = generate_password_hash(new)
    audit.record(session, stream=f"user:{user.id}", actor=user.actor, action="password.changed",
                 subject=f"user:{user.id}", payload={}, now=now)
    session.commit()


def reveal_identity_number(viewer: User, owner: User, vault: IdentityVault) -> str:
    """The full identity number, for the owner only (later issues add the case officer's
    need-to-know checks here, never elsewhere).

    :raise NotAllowed:
    """
    if owner.identity is None or viewer.id != owner.id:
        raise NotAllowed()
    return vault.reveal(owner.identity.id_number_encrypted)


# --- API tokens ---------------------------------------------------------------------------


def issue_api_token(session: Session, *, user: User, name: str, now: datetime) -> str:
    """Create a bearer token and return it; only its hash is stored, so it is shown once."""
    token = "jap_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=(name or "token").strip()[:120],
                         token_sha256=hashlib.sha256(token.encode()).hexdigest(), created_at=now))
    audit.record(session, stream=f"user:{user.id}", actor=user.actor, action="api_token.issued",
                 subject=f"user:{user.id}", payload={"name": name}, now=now)
    session.commit()
    return token


#: How precisely a token's ``last_used_at`` is kept.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def user_for_token(session: Session, token: str, *, now: datetime) -> User | None:
    """The active user a bearer token belongs to, or ``None``."""
    if not token:
        return None
    # One Core row (the user's columns and the token's last use): loading the ORM user with its
    # joined identity and court cost a bid request more CPU than the bid's own statements.
    row = session.execute(_TOKEN_USER, {"sha256": hashlib.sha256(token.encode()).hexdigest()}).one_or_none()
    if row is None or not row.active:
        return None
    # "Last used" to the minute: writing it on every call was a commit per API request.
    if row.token_used_at is None or now - row.token_used_at >= TOKEN_USE_RESOLUTION:
        # cooperative: another request of this worker with the same token may hold the row
        with cooperative_waits():
            session.execute(update(ApiToken).where(ApiToken.id == row.token_id).values(last_used_at=now))
            session.commit()
    return _attached_user(session, row)


_USERS, _TOKENS = User.__table__, ApiToken.__table__
_TOKEN_USER = (select(_USERS, _TOKENS.c.id.label("token_id"), _TOKENS.c.last_used_at.label("token_used_at"))
               .join(_TOKENS, _TOKENS.c.user_id == _USERS.c.id)
               .where(_TOKENS.c.token_sha256 == bindparam("sha256"), _TOKENS.c.revoked_at.is_(None)))


def _attached_user(session: Session, row) -> User:
    """The user of a Core row of ``users`` as a persistent object of ``session``, without
    another query: its columns are loaded, its relationships (identity, court) load when read."""
    held = session.identity_map.get(session.identity_key(User, row.id))
    if held is not None:
        return held
    user = User(**{column.key: row._mapping[column] for column in _USERS.c})
    make_transient_to_detached(user)
    session.add(user)
    return user
