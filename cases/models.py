"""Enforcement cases, their parties, seized assets, attachments, series and the case-fund
ledger."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Court, User
from cases.rules import AssetCategory, AssetStage, FundAccount, FundMovement, PartyKind, PartyRole
from core.db import Base, Money, UTCDateTime


class Series(Base):
    """Cases grouped so their assets can be appraised and auctioned together (seed 四(五)3)."""

    __tablename__ = "case_series"
    __table_args__ = (UniqueConstraint("court_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    court_id: Mapped[int] = mapped_column(ForeignKey("courts.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    cases: Mapped[list[Case]] = relationship(back_populates="series", order_by="Case.id")


class Case(Base):
    """An enforcement case (执行案件) of one court."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("court_id", "number"),
        CheckConstraint("claim_amount >= 0", name="claim_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    court_id: Mapped[int] = mapped_column(ForeignKey("courts.id"), index=True)
    #: Normalised case number, e.g. （2026）皖02执123号 (unique per court).
    number: Mapped[str] = mapped_column(String(60))
    #: The enforcement basis (执行依据), e.g. （2025）皖0202民初456号民事判决书.
    basis: Mapped[str] = mapped_column(String(300))
    #: SHA-256 of the uploaded basis document in the file store (published with the lot, A12(2)).
    basis_file_sha256: Mapped[str | None] = mapped_column(String(64))
    filed_on: Mapped[date] = mapped_column(Date)
    #: The applicant's outstanding claim (decides the deposit exemption, A21).
    claim_amount: Mapped[Decimal] = mapped_column(Money)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("case_series.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    court: Mapped[Court] = relationship(lazy="joined")
    officer: Mapped[User] = relationship(lazy="joined")
    series: Mapped[Series | None] = relationship(back_populates="cases")
    parties: Mapped[list[Party]] = relationship(back_populates="case", order_by="Party.id")
    assets: Mapped[list[Asset]] = relationship(back_populates="case", order_by="Asset.id")


class Party(Base):
    """An applicant (申请执行人) or debtor (被执行人) of a case.

    The identity number is encrypted like a bidder's (decision record 0005); the fingerprint
    lets later rules bar the debtor from bidding on the case's lots (decision 19).
    """

    __tablename__ = "case_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    role: Mapped[PartyRole] = mapped_column(String(16))
    kind: Mapped[PartyKind] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    id_number_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_hmac: Mapped[str] = mapped_column(String(64), index=True)
    id_number_tail: Mapped[str] = mapped_column(String(4))
    legal_representative: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    #: Address for service (送达地址).
    address: Mapped[str | None] = mapped_column(String(300))
    #: The login of the party once invited (role *party*).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 of a pending invitation token (shown once to the officer), cleared on use.
    invitation_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="parties")


class Asset(Base):
    """A seized asset (查封财产) of a case."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    category: Mapped[AssetCategory] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Administrative division code where it lies (picks the 子库, E19/E21).
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    location: Mapped[str] = mapped_column(String(300))
    #: Day of seizure, freeze or detention; starts the 30-day pricing clock (E01).
    seized_on: Mapped[date] = mapped_column(Date, index=True)
    defects: Mapped[str] = mapped_column(Text, default="")
    encumbrances: Mapped[str] = mapped_column(Text, default="")
    occupancy: Mapped[str] = mapped_column(Text, default="")
    tax_notes: Mapped[str] = mapped_column(Text, default="")
    stage: Mapped[AssetStage] = mapped_column(String(16), default=AssetStage.SEIZED, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="assets")
    files: Mapped[list[AssetFile]] = relationship(back_populates="asset", order_by="AssetFile.id")

    @property
    def photos(self) -> list[AssetFile]:
        return [f for f in self.files if f.kind == "photo"]

    @property
    def documents(self) -> list[AssetFile]:
        return [f for f in self.files if f.kind == "document"]


class AssetFile(Base):
    """A photo or document of an asset, stored content-addressed (bytes in the file store)."""

    __tablename__ = "asset_files"
    __table_args__ = (UniqueConstraint("asset_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    #: ``photo`` or ``document``.
    kind: Mapped[str] = mapped_column(String(10))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(60))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    asset: Mapped[Asset] = relationship(back_populates="files")


class FundEntry(Base):
    """One movement of the case's money (seed: 执行案款 全程留痕、全程公开). Append-only.

    Double entry: the money leaves ``from_account`` and enters ``to_account``; balances are the
    replay of all entries, and ``balance_after`` keeps the running balance of the two accounts
    touched so a reader (and the reconciliation check) can follow it line by line.
    """

    __tablename__ = "case_fund_entries"
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[FundMovement] = mapped_column(String(24))
    amount: Mapped[Decimal] = mapped_column(Money)
    from_account: Mapped[FundAccount] = mapped_column(String(12))
    to_account: Mapped[FundAccount] = mapped_column(String(12))
    #: Balances of the court account and of held deposits after this entry.
    court_balance_after: Mapped[Decimal] = mapped_column(Money)
    deposits_balance_after: Mapped[Decimal] = mapped_column(Money)
    #: What caused it, e.g. ``lot:3``, ``deposit:17``, ``payment:5`` (never a person's name).
    source: Mapped[str] = mapped_column(String(120))
    memo: Mapped[str] = mapped_column(String(300), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(120))
