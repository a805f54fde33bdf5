"""Agencies and their appraisers, reference-price procedures, draws, commissions, valuations
and objections."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from appraisal.rules import (
    AgencyKind, AgencyStatus, CommissionState, Method, ObjectionKind, ObjectionState, ProcedureState,
)
from cases.models import Asset, Party
from core.db import Base, Money, UTCDateTime


class Agency(Base):
    """An appraisal agency, online inquiry platform or directed-inquiry institution."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    kind: Mapped[AgencyKind] = mapped_column(String(24), default=AgencyKind.APPRAISAL)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    licence_number: Mapped[str] = mapped_column(String(60), unique=True)
    status: Mapped[AgencyStatus] = mapped_column(String(12), default=AgencyStatus.PENDING, index=True)
    #: Specialty lists (分库, E20) as a sorted list of strings.
    specialties: Mapped[list] = mapped_column(JSON, default=list)
    #: Regional sub-lists (子库, E19): city (``340200``) or province (``340000``) codes.
    regions: Mapped[list] = mapped_column(JSON, default=list)
    #: E23: a removed agency may not return before this day (5 years).
    barred_until: Mapped[date | None] = mapped_column(Date)
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")
    appraisers: Mapped[list[Appraiser]] = relationship(back_populates="agency", order_by="Appraiser.id")
    conflicts: Mapped[list[AgencyConflict]] = relationship(back_populates="agency", order_by="AgencyConflict.id")
    decisions: Mapped[list[AgencyDecision]] = relationship(back_populates="agency", order_by="AgencyDecision.id")


class Appraiser(Base):
    """A qualified appraiser (资产评估师/房地产估价师) registered with an agency (E34, E55)."""

    __tablename__ = "appraisers"
    __table_args__ = (UniqueConstraint("licence_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    licence_number: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(default=True)

    agency: Mapped[Agency] = relationship(back_populates="appraisers")


class AgencyConflict(Base):
    """A relationship the agency declared (decision 15): it is never drawn for that person."""

    __tablename__ = "agency_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: Keyed fingerprint of the person's or enterprise's identity number (never the number).
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    #: Last four characters of the number, for the agency's own list.
    number_tail: Mapped[str] = mapped_column(String(4))
    description: Mapped[str] = mapped_column(String(300))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)

    agency: Mapped[Agency] = relationship(back_populates="conflicts")


class AgencyDecision(Base):
    """A supervisor's decision on an agency, with its reason; public on the agency's page."""

    __tablename__ = "agency_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: ``approved``, ``suspended``, ``reinstated`` or ``removed``.
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)

    agency: Mapped[Agency] = relationship(back_populates="decisions")


class Procedure(Base):
    """The reference-price procedure (参考价) of one asset."""

    __tablename__ = "pricing_procedures"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    method: Mapped[Method] = mapped_column(String(20))
    state: Mapped[ProcedureState] = mapped_column(String(20), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: Deadline of the current step (negotiation, directed or online inquiry).
    step_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: Both parties jointly asked for this 子库 (E25).
    requested_region: Mapped[str | None] = mapped_column(String(6))
    #: While PAUSED: the state to return to, and when the pause began (E30).
    paused_from: Mapped[str | None] = mapped_column(String(20))
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Online inquiry: when the averaged result was served and when objections close (E14).
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    objections_close_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: The price the procedure arrived at before objections (online average, or a report).
    proposed_price: Mapped[Decimal | None] = mapped_column(Money)
    reference_price: Mapped[Decimal | None] = mapped_column(Money)
    valid_until: Mapped[date | None] = mapped_column(Date)
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The final valuation (commissioned or online inquiry) the price comes from.
    #: (No foreign key: valuations reference procedures through commissions, and a cycle of
    #: foreign keys would need deferred constraints for nothing.)
    final_valuation_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")

    asset: Mapped[Asset] = relationship(lazy="joined")
    draws: Mapped[list[Draw]] = relationship(back_populates="procedure", order_by="Draw.id")
    commissions: Mapped[list[Commission]] = relationship(back_populates="procedure", order_by="Commission.id",
                                                         foreign_keys="Commission.procedure_id")
    submissions: Mapped[list[PriceSubmission]] = relationship(back_populates="procedure",
                                                              order_by="PriceSubmission.id")


class PriceSubmission(Base):
    """A price given in a negotiation (by a party), a directed inquiry (by the institution) or
    an online inquiry (by a platform)."""

    __tablename__ = "price_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("pricing_procedures.id"), index=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("case_parties.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    report_sha256: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Online inquiry: the platform asked for more time before the deadline (E11).
    extension_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_time: Mapped[bool | None] = mapped_column()

    procedure: Mapped[Procedure] = relationship(back_populates="submissions")
    party: Mapped[Party | None] = relationship()
    agency: Mapped[Agency | None] = relationship()


class Draw(Base):
    """A random draw of 3 ranked agencies (decision record 0008)."""

    __tablename__ = "draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("pricing_procedures.id"), index=True)
    specialty: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(10))
    region_code: Mapped[str] = mapped_column(String(6))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: ``scheduled``, ``drawn`` or ``void``.
    status: Mapped[str] = mapped_column(String(10), default="scheduled", index=True)
    pool: Mapped[list] = mapped_column(JSON)
    exclusions: Mapped[list] = mapped_column(JSON)
    pool_digest: Mapped[str] = mapped_column(String(64))
    seed_commitment: Mapped[str] = mapped_column(String(64))
    #: The platform's seed, encrypted until the draw, then published in ``seed``.
    seed_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    seed: Mapped[str | None] = mapped_column(String(64))
    combined: Mapped[str | None] = mapped_column(String(64))
    ranking: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    procedure: Mapped[Procedure] = relationship(back_populates="draws")
    contributions: Mapped[list[DrawContribution]] = relationship(back_populates="draw",
                                                                 order_by="DrawContribution.id")


class DrawContribution(Base):
    """A party's randomness: committed before the draw, revealed before the seed is."""

    __tablename__ = "draw_contributions"
    __table_args__ = (UniqueConstraint("draw_id", "party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("case_parties.id"))
    #: Public label in the record: ``applicant`` / ``debtor`` (never a name).
    label: Mapped[str] = mapped_column(String(20))
    commitment: Mapped[str] = mapped_column(String(64))
    secret: Mapped[str | None] = mapped_column(String(200))
    committed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    draw: Mapped[Draw] = relationship(back_populates="contributions")


class Commission(Base):
    """The commission of one ranked agency (评估委托)."""

    __tablename__ = "commissions"
    __table_args__ = (CheckConstraint("rank BETWEEN 1 AND 3", name="rank_1_to_3"),
                      CheckConstraint("extensions_granted BETWEEN 0 AND 2", name="at_most_two_extensions"))

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("pricing_procedures.id"), index=True)
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("draws.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    state: Mapped[CommissionState] = mapped_column(String(12), index=True)
    #: When the commission letter was delivered to the agency (starts the 30 days, decision 24).
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    report_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    extensions_granted: Mapped[int] = mapped_column(Integer, default=0)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    letter_sha256: Mapped[str | None] = mapped_column(String(64))
    answer_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: E50: 0 for a late or replaced agency.
    fee: Mapped[Decimal | None] = mapped_column(Money)

    procedure: Mapped[Procedure] = relationship(back_populates="commissions", foreign_keys=[procedure_id])
    agency: Mapped[Agency] = relationship(lazy="joined")
    extensions: Mapped[list[ExtensionRequest]] = relationship(back_populates="commission",
                                                              order_by="ExtensionRequest.id")
    valuations: Mapped[list[Valuation]] = relationship(back_populates="commission", order_by="Valuation.id")


class ExtensionRequest(Base):
    """An agency's written request for more time (E31)."""

    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    commission_id: Mapped[int] = mapped_column(ForeignKey("commissions.id"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: ``pending``, ``granted`` or ``refused``.
    decision: Mapped[str] = mapped_column(String(10), default="pending")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    commission: Mapped[Commission] = relationship(back_populates="extensions")


class Valuation(Base):
    """An appraisal report (评估报告) submitted by the commissioned agency."""

    __tablename__ = "valuations"

    id: Mapped[int] = mapped_column(primary_key=True)
    commission_id: Mapped[int] = mapped_column(ForeignKey("commissions.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    effective_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    appraiser_ids: Mapped[list] = mapped_column(JSON)
    report_sha256: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: ``submitted``, ``correction`` (E34, 3 days), ``accepted``, ``superseded``.
    status: Mapped[str] = mapped_column(String(12), default="submitted")
    review_note: Mapped[str | None] = mapped_column(Text)
    correction_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    objections_close_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    commission: Mapped[Commission] = relationship(back_populates="valuations")
    objections: Mapped[list[Objection]] = relationship(back_populates="valuation", order_by="Objection.id")


class Objection(Base):
    """A party's objection to a served valuation (E37/E38)."""

    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("pricing_procedures.id"), index=True)
    #: The commissioned report objected to, or (online inquiry, E14) the platform's result.
    valuation_id: Mapped[int | None] = mapped_column(ForeignKey("valuations.id"), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("price_submissions.id"))
    party_id: Mapped[int] = mapped_column(ForeignKey("case_parties.id"))
    kind: Mapped[ObjectionKind] = mapped_column(String(12))
    grounds: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[ObjectionState] = mapped_column(String(12))
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    valuation: Mapped[Valuation | None] = relationship(back_populates="objections")
    submission: Mapped[PriceSubmission | None] = relationship()
    party: Mapped[Party] = relationship()
