"""Registration's own tables: the issuing organisation, exporters and their branches, and the
accounts of people."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text
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
    # The agency's GST registration in the office's state: the supplier on the fee receipts.
    gstin: Mapped[str | None] = mapped_column(String(15), nullable=True)


class Account(Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # exporter, officer, agency_admin, admin
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    mobile: Mapped[str | None] = mapped_column(String(20), nullable=True)
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agency.code"), nullable=True)
    issuing_office_code: Mapped[str | None] = mapped_column(ForeignKey("issuing_office.code"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Raised at each change or reset of the password: tokens carry the version they were issued
    # under (claim "ver"), and the gateway refuses those of an older one.
    credentials_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    credentials_changed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    # When the owner was last told of failed logins from elsewhere (at most once an hour).
    failures_alerted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Captcha(Base):
    __tablename__ = "captcha"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    answer: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Exporter(Base):
    """A registered IEC holder. Name, PAN, email and mobile are DGFT's (the IEC record at
    registration); they change at DGFT, never here."""

    __tablename__ = "exporter"

    iec: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    pan: Mapped[str] = mapped_column(String(10))
    email: Mapped[str] = mapped_column(String(254))
    mobile: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str | None] = mapped_column(String(8), nullable=True)
    aeo_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dsc_subject: Mapped[str] = mapped_column(Text)  # real DSC subjects run long
    dsc_fingerprint: Mapped[str] = mapped_column(String(64))
    dsc_not_after: Mapped[datetime] = mapped_column(DateTime)
    directors: Mapped[list] = mapped_column(JSON)
    registered_at: Mapped[datetime] = mapped_column(DateTime)


class ExporterBranch(Base):
    __tablename__ = "exporter_branch"

    iec: Mapped[str] = mapped_column(ForeignKey("exporter.iec"), primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    address: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(8))  # ISO 3166-2: decides CGST+SGST or IGST
    gstin: Mapped[str | None] = mapped_column(String(15), nullable=True)
    in_sez: Mapped[bool] = mapped_column(Boolean, default=False)


class RegistrationChallenge(Base):
    """A nonce the exporter signs with the DSC: proof of possession, single-use, short-lived."""

    __tablename__ = "registration_challenge"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    iec: Mapped[str] = mapped_column(String(10), index=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class LoginFailure(Base):
    """Failed logins, per account and per client address, for the lockout windows."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    failed_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class LoginSuccess(Base):
    """The addresses an account logged in from: the owner's own are spared the slow-down that
    failures from elsewhere bring on the account."""

    __tablename__ = "login_success"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_at: Mapped[datetime] = mapped_column(DateTime)


class PasswordResetRequest(Base):
    """Every "forgot password" request, for its limits (per username as typed and per address,
    whether or not such an account exists); those that matched an account hold the SHA-256 of
    the emailed link's token, never the token."""

    __tablename__ = "password_reset_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    token_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Set when the link was used, or when a newer request replaced it.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RevokedToken(Base):
    """A token ended by logout before its expiry (claim ``jti``); kept until it would expire."""

    __tablename__ = "revoked_token"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
