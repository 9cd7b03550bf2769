"""Certificate's own tables: the registry of issued certificates (architecture §8)."""

from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Certificate(Base):
    """One issued certificate. ``application_id`` is unique: whatever is delivered twice or
    re-run after a crash, an application gets one certificate."""

    __tablename__ = "certificate"
    __table_args__ = (
        Index("ix_certificate_iec_issued", "iec", "issued_at"),
        Index("ix_certificate_office_issued", "issuing_office_code", "issued_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(80), unique=True)
    application_id: Mapped[str] = mapped_column(String(36), unique=True)
    iec: Mapped[str] = mapped_column(String(10))
    exporter_name: Mapped[str] = mapped_column(String(200))
    importer_country: Mapped[str] = mapped_column(String(2))
    agreement_code: Mapped[str | None] = mapped_column(String(3), nullable=True)
    agency_code: Mapped[str] = mapped_column(String(32))
    issuing_office_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # original, duplicate, in_lieu
    original_number: Mapped[str | None] = mapped_column(String(80), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # of the signed PDF, also its blob
    size: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))  # valid, revoked, superseded
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    issued_by: Mapped[str] = mapped_column(String(64))  # the approving officer
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    superseded_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
