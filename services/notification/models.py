"""Notification's own tables: every message it was asked to send, and every try at sending it."""

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Message(Base):
    """One email or SMS to one recipient. Recorded by an event handler in the transaction of its
    inbox row; the dispatcher sends it later and records each try as a DeliveryAttempt."""

    __tablename__ = "message"
    __table_args__ = (
        # A second handling of the same event cannot make a second message of the same kind and
        # channel to the same recipient, even if the inbox were bypassed. (One event may reach
        # several recipients: every officer of an office, say.)
        UniqueConstraint(
            "event_id", "kind", "channel", "recipient", name="uq_message_event_kind_channel_recipient"
        ),
        Index("ix_message_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)  # template: "credentials", …
    channel: Mapped[str] = mapped_column(String(8))  # "email" | "sms"
    recipient: Mapped[str] = mapped_column(String(320), index=True)  # address or E.164 number
    subject: Mapped[str | None] = mapped_column(String(300), nullable=True)  # email only
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Tries made before the current round of retries began (an operator's retry starts a new
    # round with the full backoff schedule).
    round_started_at_attempt: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A password carried by the message, kept only until it is delivered; then it is replaced by
    # a mask in the bodies and forgotten (secret_redacted becomes true).
    secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    secret_redacted: Mapped[bool] = mapped_column(Boolean, default=False)
    # A dispatcher claims a message while it sends it, so that several processes of the service
    # never send one message at the same time; an expired claim (the process died) is taken over.
    claimed_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    delivery_attempts: Mapped[list["DeliveryAttempt"]] = relationship(
        back_populates="message", order_by="DeliveryAttempt.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list["MessageAttachment"]] = relationship(
        back_populates="message", order_by="MessageAttachment.id", cascade="all, delete-orphan"
    )


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(DateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    message: Mapped[Message] = relationship(back_populates="delivery_attempts")


class MessageAttachment(Base):
    """A file sent with an email (the signed certificate PDF), by reference: the bytes are in the
    chassis BlobStore under their SHA-256, read back by the dispatcher when it sends."""

    __tablename__ = "message_attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)

    message: Mapped[Message] = relationship(back_populates="attachments")
