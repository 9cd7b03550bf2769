"""Registration's own tables: the issuing organisation and the accounts of people."""
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Agency(Base):
    __tablename__ = "agency"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class RegionalOffice(Base):
    __tablename__ = "regional_office"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agency.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(8))  # ISO 3166-2, e.g. IN-KL


class IssuingOffice(Base):
    __tablename__ = "issuing_office"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    regional_office_code: Mapped[str] = mapped_column(ForeignKey("regional_office.code"), index=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agency.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(500), default="")


class Account(Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # exporter, officer, agency_admin, admin
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agency.code"), nullable=True)
    issuing_office_code: Mapped[str | None] = mapped_column(
        ForeignKey("issuing_office.code"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Captcha(Base):
    __tablename__ = "captcha"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    answer: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
