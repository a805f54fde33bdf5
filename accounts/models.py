"""Courts, users, real-name identities and API tokens."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime


class Role(StrEnum):
    """What a user is on the platform; decides navigation and every permission check."""

    #: Platform administrator: courts, officers, the holiday calendar. Never sees bidders
    #: before a close, cannot edit bids or move an end time (DESIGN.md §2).
    ADMIN = "admin"
    #: Supervisor (监督): reads every court's records, approves and sanctions agencies.
    SUPERVISOR = "supervisor"
    #: Court officer (执行法官/书记员), bound to one court.
    OFFICER = "officer"
    #: Court finance officer: confirms bank-transfer deposits only (RULES.md decision 21).
    FINANCE = "finance"
    #: Appraisal agency (评估机构) or reference-price provider (decision 16).
    AGENCY = "agency"
    #: Public bidder (竞买人), person or enterprise, registered with a verified real name.
    BIDDER = "bidder"
    #: Party to a case (申请执行人 / 被执行人), invited by the officer to follow the case.
    PARTY = "party"


COURT_ROLES = (Role.OFFICER, Role.FINANCE)


class IdentityKind(StrEnum):
    """Whose real name a bidder or party registers with."""

    #: Natural person: resident identity card number (GB 11643).
    PERSON = "person"
    #: Enterprise: unified social credit code (GB 32100) and legal representative.
    ENTERPRISE = "enterprise"


class Court(Base):
    """A people's court using the platform."""

    __tablename__ = "courts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: Short name used in case numbers, e.g. ``皖02`` in （2026）皖02执123号.
    code: Mapped[str] = mapped_column(String(20), unique=True)
    #: Administrative division code of the court's city (six digits), e.g. ``340200``.
    region_code: Mapped[str] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class User(Base):
    """Anyone who logs in. Officers and finance officers belong to exactly one court."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(role IN ('officer', 'finance')) = (court_id IS NOT NULL)",
            name="court_staff_have_a_court",
        ),
        CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(String(16), index=True)
    court_id: Mapped[int | None] = mapped_column(ForeignKey("courts.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    #: Consecutive failed logins; reset by a successful one (lockout after the limit).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    court: Mapped[Court | None] = relationship(lazy="joined")
    identity: Mapped[Identity | None] = relationship(back_populates="user", uselist=False, lazy="joined")

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def actor(self) -> str:
        """How this user is named in the audit ledger (never by identity number)."""
        return f"user:{self.id}"

    @property
    def role_label(self) -> str:
        from accounts.labels import role_label

        return role_label(self.role)

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


class Identity(Base):
    """The verified real name of a bidder or party.

    The identity number is stored encrypted (only the owner and authorised officers can read
    it through :mod:`accounts.identity`), with a keyed hash for uniqueness and for bars
    (a defaulter, a restricted debtor) that must match a person without reading the number.
    """

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("id_number_hmac"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    kind: Mapped[IdentityKind] = mapped_column(String(16))
    #: Real name of the person, or registered name of the enterprise (RULES.md decision 10).
    real_name: Mapped[str] = mapped_column(String(120))
    id_number_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_hmac: Mapped[str] = mapped_column(String(64))
    #: Last four characters, for display to the owner without decrypting.
    id_number_tail: Mapped[str] = mapped_column(String(4))
    legal_representative: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="identity")


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")
