"""Payment's own tables: the fee schedule, payments with the amounts frozen at creation, and the
receipt number sequences."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Index, Integer, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class FeeRow(Base):
    """One window of the fee schedule; rows are never edited, a new window supersedes."""

    __tablename__ = "fee"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(String(32), index=True)
    service: Mapped[str] = mapped_column(String(24))
    base_paise: Mapped[int] = mapped_column(Integer)
    gst_rate: Mapped[str] = mapped_column(String(8))  # percent as a decimal string, e.g. "18"
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Payment(Base):
    """A payment attempt for one application. Amounts and parties are copied in at creation, so
    the receipt shows what was charged even if the schedule or the organisation changes later."""

    __tablename__ = "payment"
    # At most one completed payment per application, whatever races (the service checks first;
    # this is the backstop on PostgreSQL, where two updates of different rows do not serialise).
    __table_args__ = (
        Index(
            "uq_payment_completed_once",
            "application_id",
            unique=True,
            sqlite_where=text("status = 'completed'"),
            postgresql_where=text("status = 'completed'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    application_number: Mapped[str] = mapped_column(String(64))
    iec: Mapped[str] = mapped_column(String(10), index=True)
    agency_code: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(24))
    provider: Mapped[str] = mapped_column(String(24))
    order_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    redirect_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    currency: Mapped[str] = mapped_column(String(3), default="INR")
    gst_rate: Mapped[str] = mapped_column(String(8))
    base: Mapped[int] = mapped_column(Integer)
    cgst: Mapped[int] = mapped_column(Integer)
    sgst: Mapped[int] = mapped_column(Integer)
    igst: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    # created -> completed | failed; failed -> completed (money that arrives late is still money);
    # created | failed -> refund_due when another payment of the application completed first
    status: Mapped[str] = mapped_column(String(16), index=True)
    failure_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    provider_payment_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    receipt_number: Mapped[str | None] = mapped_column(String(16), nullable=True)
    parties: Mapped[dict] = mapped_column(JSON)  # agency, office, exporter, certificate name
    # The sandbox provider's memory of the payer's choice, read back by reconciliation.
    sandbox_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)


class ReceiptSequence(Base):
    """GST invoices are numbered consecutively per supplier GSTIN and financial year."""

    __tablename__ = "receipt_sequence"

    supplier: Mapped[str] = mapped_column(String(32), primary_key=True)  # office GSTIN or agency
    financial_year: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-27"
    last: Mapped[int] = mapped_column(Integer, default=0)
