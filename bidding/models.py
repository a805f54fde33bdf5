"""Registrations (with the anonymous bidder code), deposits, bids, each round's book, and the
court's list of restricted persons."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Court, IdentityKind, User
from bidding.rules import DepositState
from core.db import Base, Money, UTCDateTime


class Registration(Base):
    """A bidder signed up for one round. Sealed: nobody but the bidder learns of it before the
    close (decision 13)."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("round_id", "user_id"), UniqueConstraint("round_id", "code"))

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: The anonymous 竞买代码 (A23); a priority holder's shows its rank (A25).
    code: Mapped[str] = mapped_column(String(12))
    priority_holder_id: Mapped[int | None] = mapped_column(ForeignKey("priority_holders.id"))
    priority_rank: Mapped[int | None] = mapped_column(Integer)
    #: S4 / D01: the bidder promised its purchase qualification (housing lots).
    housing_promise: Mapped[bool] = mapped_column(default=False)
    qualified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")
    deposit: Mapped[Deposit | None] = relationship(back_populates="registration", uselist=False)


class Deposit(Base):
    """A deposit; always in exactly one :class:`DepositState`."""

    __tablename__ = "deposits"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), unique=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    #: ``bank`` (transfer confirmed by the court's finance officer), ``gateway`` (online,
    #: signed callback) or ``exempt`` (the applicant's claim covers it, A21).
    method: Mapped[str] = mapped_column(String(10))
    state: Mapped[DepositState] = mapped_column(String(10), index=True)
    payer_name: Mapped[str | None] = mapped_column(String(120))
    bank_reference: Mapped[str | None] = mapped_column(String(80))
    #: The gateway's transaction id: a replayed callback finds it and changes nothing.
    gateway_tx: Mapped[str | None] = mapped_column(String(80), unique=True)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    refund_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    registration: Mapped[Registration] = relationship(back_populates="deposit")


class Bid(Base):
    """An accepted bid: the server's receipt time is its time (A29)."""

    __tablename__ = "bids"
    __table_args__ = (UniqueConstraint("round_id", "seq"), UniqueConstraint("registration_id", "idempotency_key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"))
    code: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(Money)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    priority_rank: Mapped[int | None] = mapped_column(Integer)
    #: The new end of the round when this bid extended it (A28).
    extended_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str] = mapped_column(String(64))


class Book(Base):
    """The live state of a round's bidding, updated under the round's lock."""

    __tablename__ = "round_books"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    current_price: Mapped[Decimal | None] = mapped_column(Money)
    leader_registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id"))
    leader_code: Mapped[str | None] = mapped_column(String(12))
    leader_rank: Mapped[int | None] = mapped_column(Integer)
    bid_count: Mapped[int] = mapped_column(Integer, default=0)


class RestrictionKind(StrEnum):
    """Why a person is on the court's list of restricted persons, and what it bars."""

    #: 失信被执行人名单 (SPC list of dishonest judgment debtors): may not buy real estate
    #: (不动产, land use rights included) nor vehicles (decision 19).
    DISHONEST = "dishonest"
    #: 限制消费令 (order restricting high consumption, SPC rules on restricting high
    #: consumption Art. 3): the same bar as a dishonest debtor (decision 19).
    CONSUMPTION = "consumption"
    #: Staff of a court, of the platform or of an auxiliary agency, and their close relatives:
    #: may bid on no lot (A53, S1 Art. 34).
    STAFF = "staff"


class RestrictedPerson(Base):
    """An entry of the court's list of restricted persons (decision 19) or of the persons A53
    bars. Matched by the keyed hash of the identity number, never by the number itself, which is
    not stored (decision record 0005, 0011): officers see a masked form."""

    __tablename__ = "restricted_persons"
    #: One entry per number, kind and source: importing the same row again updates it. The
    #: unique index leads with the hash, so the check at registration is one index lookup.
    __table_args__ = (UniqueConstraint("id_number_hmac", "kind", "source"),
                      CheckConstraint("lifted_on IS NULL OR lifted_on >= listed_on", name="lifted_after_listed"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[RestrictionKind] = mapped_column(String(16))
    #: Name of the person, or registered name of the enterprise, as the list gives it.
    name: Mapped[str] = mapped_column(String(120))
    identity_kind: Mapped[IdentityKind] = mapped_column(String(16))
    id_number_hmac: Mapped[str] = mapped_column(String(64))
    #: ``3402**********1234``: enough for an officer to recognise the entry.
    id_number_masked: Mapped[str] = mapped_column(String(18))
    #: The court's document number, or e.g. 最高人民法院失信被执行人名单.
    source: Mapped[str] = mapped_column(String(200))
    listed_on: Mapped[date] = mapped_column(Date)
    #: The first day the entry no longer bars: a lift dated in the future bars until then.
    lifted_on: Mapped[date | None] = mapped_column(Date)
    lift_reason: Mapped[str | None] = mapped_column(String(500))
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The court and officer who first imported the entry (later imports are in the ledger).
    court_id: Mapped[int] = mapped_column(ForeignKey("courts.id"))
    imported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Loaded on demand: the check at registration reads this table alone.
    court: Mapped[Court] = relationship()
    imported_by: Mapped[User] = relationship(foreign_keys=[imported_by_id])
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])

    def active_on(self, day: date) -> bool:
        """Whether the entry bars on ``day``: listed, and not lifted on or before it."""
        return self.listed_on <= day and (self.lifted_on is None or self.lifted_on > day)
