"""Platform-wide tables of the core: the simulated clock, the scheduler heartbeat, the
notification outbox and generated documents. The audit ledger's tables are in
:mod:`core.audit`."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class ClockState(Base):
    """The simulated clock's offset from real time (one row, id 1). Only grows."""

    __tablename__ = "clock_state"
    __table_args__ = (CheckConstraint("offset_us >= 0", name="offset_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset_us: Mapped[int] = mapped_column(BigInteger, default=0)
    moved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SchedulerHeartbeat(Base):
    """Last sign of life of each scheduler process; the active one holds the lock."""

    __tablename__ = "scheduler_heartbeats"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=False)
    last_sweep_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxStatus(StrEnum):
    """Delivery state of a notification."""

    #: Written in the same transaction as the change it reports; not yet handed over.
    PENDING = "pending"
    #: Handed to the mail server (or the log in development).
    SENT = "sent"
    #: Gave up after repeated failures; the error is kept on the row.
    FAILED = "failed"


class OutboxMessage(Base):
    """A notification written inside the transaction that caused it and sent after commit."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(String(16), default=OutboxStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Document(Base):
    """A generated or uploaded document, stored content-addressed by its SHA-256."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    title: Mapped[str] = mapped_column(String(300))
    #: The 文书编号 printed on the document, so a paper copy can be looked up.
    reference: Mapped[str | None] = mapped_column(String(80), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100), default="application/pdf")
    #: What the document belongs to, e.g. ``case:12`` or ``lot:3`` (the case file lists these).
    subject: Mapped[str] = mapped_column(String(120), index=True)
    #: False for documents the public may not download (e.g. a sealed bidder annex).
    public: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))


class CalendarDay(Base):
    """A statutory holiday, or a weekend day made a working day (调休), for counting periods
    (RULES.md F01, decisions 3 and 20). Maintained by the administrator."""

    __tablename__ = "calendar_days"
    __table_args__ = (CheckConstraint("kind IN ('holiday', 'workday')", name="kind_known"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    #: ``holiday`` (not a working day) or ``workday`` (an adjusted working weekend day).
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(60))
