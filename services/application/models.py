"""Application's own tables. For now the reference data it checks applications against: agreements
and the HS nomenclature."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String
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
        ForeignKey("hs_nomenclature.id", ondelete="CASCADE"), primary_key=True)
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
