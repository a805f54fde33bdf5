"""Auction lots, their rounds, notices, priority holders and the court's decisions."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON, CheckConstraint, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from auction.rules import NoticeMethod, RoundKind, RoundState
from cases.models import Asset, Case
from core.db import Base, Money, UTCDateTime


class Lot(Base):
    """What is sold: one asset, or a bundle of assets of one case or one series (B03)."""

    __tablename__ = "lots"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    #: Sum of the final reference prices of the assets (A05/A06).
    reference_price: Mapped[Decimal] = mapped_column(Money)
    #: Earliest validity end of those prices (E43/E44).
    valid_until: Mapped[date] = mapped_column(Date)
    #: Movables get the shorter lead times (A08/A09).
    movable: Mapped[bool] = mapped_column()
    #: Housing: bidders promise their purchase qualification (S4, decision 18).
    housing: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    case: Mapped[Case] = relationship(lazy="joined")
    assets: Mapped[list[LotAsset]] = relationship(back_populates="lot", order_by="LotAsset.id")
    rounds: Mapped[list[Round]] = relationship(back_populates="lot", order_by="Round.seq")
    priority_holders: Mapped[list[PriorityHolder]] = relationship(back_populates="lot", order_by="PriorityHolder.rank")

    @property
    def current(self) -> Round | None:
        return self.rounds[-1] if self.rounds else None


class LotAsset(Base):
    __tablename__ = "lot_assets"
    __table_args__ = (UniqueConstraint("lot_id", "asset_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    #: The reference-price procedure whose result the lot relies on.
    procedure_id: Mapped[int] = mapped_column(Integer)
    reference_price: Mapped[Decimal] = mapped_column(Money)

    lot: Mapped[Lot] = relationship(back_populates="assets")
    asset: Mapped[Asset] = relationship(lazy="joined")


class Round(Base):
    """One auction round of a lot (一拍, 二拍, resale after 悔拍, 变卖) and its outcome.

    This row is what the bidding package locks to accept a bid (DESIGN.md §5).
    """

    __tablename__ = "rounds"
    __table_args__ = (
        UniqueConstraint("lot_id", "seq"),
        CheckConstraint("starting_price > 0", name="start_positive"),
        CheckConstraint("deposit >= 0", name="deposit_not_negative"),
        CheckConstraint("increment > 0", name="increment_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[RoundKind] = mapped_column(String(12))
    state: Mapped[RoundState] = mapped_column(String(20), index=True)
    #: 起拍价 (A04/A05/A43); for 变卖, the fixed 变卖 price (C04).
    starting_price: Mapped[Decimal] = mapped_column(Money)
    #: 保证金, 5–20 % of the starting price (A19); for 变卖 the forfeitable portion (decision 7).
    deposit: Mapped[Decimal] = mapped_column(Money)
    increment: Mapped[Decimal] = mapped_column(Money)
    #: Bidding window (A27); ``end_at`` moves with each extension (A28). 变卖: the 60-day period.
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: Days to pay the balance after the sale (A39).
    balance_days: Mapped[int] = mapped_column(Integer)
    #: Decision 17: who bears which tax: ``[{"tax": "契税", "payer": "buyer"}, …]``.
    taxes: Mapped[list] = mapped_column(JSON, default=list)
    inspection: Mapped[str] = mapped_column(Text, default="")
    #: A45: the collegiate panel's decision on price, increment, deposit and priority holders.
    panel_record: Mapped[str] = mapped_column(Text, default="")
    court_contact: Mapped[str] = mapped_column(Text, default="")
    title_and_possession: Mapped[str] = mapped_column(Text, default="")
    defects_statement: Mapped[str] = mapped_column(Text, default="")
    special_notes: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    announcement_sha256: Mapped[str | None] = mapped_column(String(64))
    #: Set when the round closes (by the bidding package).
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sale_price: Mapped[Decimal | None] = mapped_column(Money)
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The winner's bidder code (published after the close with the confirmation, A34).
    buyer_code: Mapped[str | None] = mapped_column(String(20))
    confirmation_sha256: Mapped[str | None] = mapped_column(String(64))
    balance_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: D01: the officer's continuous purchase-qualification check (housing), before the ruling.
    qualification_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ruling_sha256: Mapped[str | None] = mapped_column(String(64))
    ruling_served_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    defaulted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the 流拍 (or failed 变卖) happened: starts the relist / 变卖 deadlines.
    unsold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: While SUSPENDED/HALTED: the state to return to; ``resume_by`` once the cause ended (A49).
    paused_from: Mapped[str | None] = mapped_column(String(20))
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resume_by: Mapped[date | None] = mapped_column(Date)
    #: A47: suspended by the platform administrator (system failure); reported to the officer.
    emergency: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    lot: Mapped[Lot] = relationship(back_populates="rounds")
    notices: Mapped[list[Notice]] = relationship(back_populates="round", order_by="Notice.id")
    events: Mapped[list[RoundEvent]] = relationship(back_populates="round", order_by="RoundEvent.id")


class Notice(Base):
    """How and when a party or priority holder was notified of a round (A15–A17, decision 28)."""

    __tablename__ = "round_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("case_parties.id"))
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("priority_holders.id"))
    #: Public label (申请执行人 / 被执行人 / 优先购买权人) — never a private detail.
    recipient: Mapped[str] = mapped_column(String(120))
    method: Mapped[NoticeMethod] = mapped_column(String(12))
    #: How it was served (邮寄, 直接送达, 电子送达 …) or why the recipient could not be reached.
    detail: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    round: Mapped[Round] = relationship(back_populates="notices")


class PriorityHolder(Base):
    """A holder of a pre-emption right (优先购买权人): confirmed by the court with a rank (A25)."""

    __tablename__ = "priority_holders"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    id_number_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_hmac: Mapped[str] = mapped_column(String(64), index=True)
    id_number_tail: Mapped[str] = mapped_column(String(4))
    #: The nature of the right (e.g. 承租人优先购买权, 共有人优先购买权) — published (A12(6)).
    right: Mapped[str] = mapped_column(String(200))
    #: 1 is the highest; holders of equal rank share a number (A32/A33).
    rank: Mapped[int] = mapped_column(Integer)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lot: Mapped[Lot] = relationship(back_populates="priority_holders")


class RoundEvent(Base):
    """A court (or platform) decision on a round, with its reason; public ones are shown on
    the lot page at once (A48)."""

    __tablename__ = "round_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    #: ``published``, ``suspended``, ``halted``, ``resumed``, ``withdrawn``, ``annulled``,
    #: ``sold``, ``unsold``, ``paid``, ``defaulted``, ``ruled``, ``handed_over`` …
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(default=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(120))

    round: Mapped[Round] = relationship(back_populates="events")


class BarredBidder(Base):
    """An identity barred from a lot's later rounds (A41, decision 5: the 悔拍 defaulter)."""

    __tablename__ = "barred_bidders"
    __table_args__ = (UniqueConstraint("lot_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
