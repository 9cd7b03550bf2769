"""Application's own tables: applications with their history, documents, submission evidence and
number sequences, and the reference data they are checked against (agreements, HS nomenclature,
exchange rates)."""

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class HsNomenclature(Base):
    """One imported HS nomenclature. Rows are loaded first and the import switched to active last,
    so lookups never see half a file."""

    __tablename__ = "hs_nomenclature"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(200))
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class HsCode(Base):
    __tablename__ = "hs_code"

    nomenclature_id: Mapped[int] = mapped_column(
        ForeignKey("hs_nomenclature.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    description: Mapped[str] = mapped_column(String(1000))
    parent: Mapped[str | None] = mapped_column(String(8), nullable=True)
    level: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(8))


class AgreementRecord(Base):
    """A trade agreement as served to exporters; seeded from ``agreements.py`` by the migration
    step, kept in the database so that operators can correct it without a release."""

    __tablename__ = "agreement"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    short_name: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSON)  # agreements.agreement_as_dict()
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Application(Base):
    """A CoO application. The form lives in ``data`` (the JSON of form.dump); the columns beside it
    are what lists filter and sort on."""

    __tablename__ = "application"
    # Lists always filter by the exporter (or the office) first, then by status or agreement.
    __table_args__ = (
        Index("ix_application_iec_created", "iec", "created_at"),
        Index("ix_application_iec_status_created", "iec", "status", "created_at"),
        Index("ix_application_iec_agreement_created", "iec", "agreement_code", "created_at"),
        # The officer's queue: its office's applications of a status, oldest
        # payment first.
        Index("ix_application_office_status_paid", "issuing_office_code", "status", "paid_at"),
        # Turnaround statistics read the decisions of a recent window.
        Index("ix_application_decided_at", "decided_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    iec: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    agreement_code: Mapped[str | None] = mapped_column(String(3), nullable=True)
    agency_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    issuing_office_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    number: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    data: Mapped[dict] = mapped_column(JSON)
    cloned_from: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # When the fee was paid: the application reaches the officer then, and turnaround counts from it.
    paid_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The decision (approve or reject) and who made it: an officer's username, or
    # "self-certification" for an approved exporter's application approved without an officer,
    # which post_audit marks for review afterwards.
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    remarks: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    post_audit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    certificate_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A duplicate or in-lieu request (duplicates.py): of which application and certificate, why.
    request_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    original_application_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    original_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class StatusChange(Base):
    __tablename__ = "status_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)
    comment: Mapped[str] = mapped_column(String(2000), default="")


class Document(Base):
    """A supporting document: the PDF is in the blob store by SHA-256, with the exporter's
    detached CMS signature over it kept here as evidence. The same file of the same kind is kept
    once per application: a repeated upload (a retried request) finds the first."""

    __tablename__ = "document"
    __table_args__ = (UniqueConstraint("application_id", "kind", "sha256"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    signer_subject: Mapped[str] = mapped_column(String(500))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime)


class SubmissionEvidence(Base):
    """What the exporter signed at submission: the canonical payload and the CMS over it."""

    __tablename__ = "submission_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    signer_subject: Mapped[str] = mapped_column(String(500))
    signer_fingerprint: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(DateTime)


class SelfCertification(Base):
    """An approved exporter of an agency: its applications to that agency under an agreement that
    allows self-certification are approved on payment, without an officer, and audited after."""

    __tablename__ = "self_certification"

    iec: Mapped[str] = mapped_column(String(10), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    flagged_by: Mapped[str] = mapped_column(String(64))
    flagged_at: Mapped[datetime] = mapped_column(DateTime)


class NumberSequence(Base):
    """The last application number given per agency, year and scheme."""

    __tablename__ = "number_sequence"

    agency_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme: Mapped[str] = mapped_column(String(3), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class ExchangeRate(Base):
    """INR per unit of a currency, from a date on, kept by admins (customs notifies them)."""

    __tablename__ = "exchange_rate"
    __table_args__ = (UniqueConstraint("currency", "valid_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    currency: Mapped[str] = mapped_column(String(3), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    rate: Mapped[str] = mapped_column(String(32))  # decimal string: exact, on every database
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(DateTime)
