"""Registrations (with the anonymous bidder code), deposits, bids and each round's book."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
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
