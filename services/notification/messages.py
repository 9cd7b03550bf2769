"""The notification service layer: turn events into stored messages, list them for operators,
requeue a failed one, and apply the outcome of a delivery try. Functions over a SQLAlchemy
session; sending itself is ``delivery.py``'s and the dispatcher's.

Event handlers only record messages (in the transaction of their inbox row); nothing is sent
inside a handler, so a slow or absent mail server never holds up or retries an event.
"""

import base64
import binascii
import hashlib
import re
import uuid
from datetime import datetime, timedelta

import phonenumbers
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from services.chassis import config
from services.chassis.blobs import BlobStore
from services.chassis.database import utcnow
from services.chassis.errors import BadRequest, Conflict, NotFound
from services.chassis.timestamps import iso_z
from services.notification.models import DeliveryAttempt, Message, MessageAttachment
from services.notification.rendering import KINDS, render

MASK = "••••••"
STATUSES = ("pending", "sent", "failed")
MAX_PER_PAGE = 200
ERROR_MAX = 2000

PDF = "application/pdf"


class AttachmentMismatch(Exception):
    """The file to attach is not the one the event names (its SHA-256 differs). Raised before
    anything is recorded, so the event is retried, then dead-lettered: a wrong file is never
    mailed."""


ROLE_LABELS = {
    "exporter": "exporter",
    "officer": "officer",
    "agency_admin": "agency administrator",
    "admin": "administrator",
}


def login_url() -> str:
    return config.public_url() + "/"


def exporter_application_url(application_id: str) -> str:
    return f"{config.public_url()}/applications/{application_id}"


def officer_application_url(application_id: str) -> str:
    return f"{config.public_url()}/officer/applications/{application_id}"


def certificate_label(agreement_code: str | None) -> str:
    """How a message names the certificate asked for: preferential under an agreement (its
    scheme code, as in the application number) or non-preferential (no agreement)."""
    return f"preferential (scheme {agreement_code})" if agreement_code else "non-preferential"


def normalize_mobile(mobile: str) -> str:
    """E.164 (``+91…``) for an Indian or international number; left as given (trimmed) when it
    cannot be read as one, so that the gateway's answer, not ours, says what is wrong."""
    try:
        number = phonenumbers.parse(mobile, "IN")
    except phonenumbers.NumberParseException:
        return mobile.strip()
    if not phonenumbers.is_possible_number(number):
        return mobile.strip()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _new_message(session, *, kind, channel, recipient, context, event, secret=None) -> Message:
    rendered = render(kind, channel, context)
    now = utcnow()
    message = Message(
        id=str(uuid.uuid4()),
        kind=kind,
        channel=channel,
        recipient=recipient,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        status="pending",
        attempts=0,
        round_started_at_attempt=0,
        next_attempt_at=now,
        created_at=now,
        event_id=str(event["event_id"]),
        correlation_id=event.get("correlation_id"),
        secret=secret,
        secret_redacted=False,
    )
    session.add(message)
    return message


# --- from events ------------------------------------------------------------------------------


def record_credentials(session, event: dict) -> list[Message]:
    """registration.credentials_issued: the username and password by email. The password stays in
    the stored message only until it is delivered."""
    context = {
        "name": event["name"],
        "username": event["username"],
        "password": event["password"],
        "role": event["role"],
        "role_label": ROLE_LABELS.get(event["role"], event["role"]),
        "reason": event["reason"],
        "login_url": login_url(),
    }
    return [
        _new_message(
            session,
            kind="credentials",
            channel="email",
            recipient=event["email"],
            context=context,
            event=event,
            secret=event["password"],
        )
    ]


def record_password_reset(session, event: dict) -> list[Message]:
    """registration.password_reset_requested: the link by email. Like a password, the link stays
    in the stored message only until it is delivered."""
    context = {
        "name": event["name"],
        "username": event["username"],
        "link": event["link"],
        "expires_in_minutes": event["expires_in_minutes"],
    }
    return [
        _new_message(
            session,
            kind="password_reset",
            channel="email",
            recipient=event["email"],
            context=context,
            event=event,
            secret=event["link"],
        )
    ]


def record_login_failures_alert(session, event: dict) -> list[Message]:
    """registration.login_failures_alert: the owner is told, and how to stay safe."""
    context = {key: event[key] for key in ("name", "username", "failures", "addresses", "window_minutes")}
    context["login_url"] = login_url()
    return [
        _new_message(
            session,
            kind="login_failures_alert",
            channel="email",
            recipient=event["email"],
            context=context,
            event=event,
        )
    ]


def record_exporter_registered(session, event: dict) -> list[Message]:
    """registration.exporter_registered: an SMS to the exporter's mobile. (The email confirming
    the registration is the credentials email, from the credentials_issued event beside it.)"""
    context = {"iec": event["iec"], "name": event["name"], "login_url": login_url()}
    return [
        _new_message(
            session,
            kind="exporter_registered",
            channel="sms",
            recipient=normalize_mobile(event["mobile"]),
            context=context,
            event=event,
        )
    ]


def _to_contact(session, *, kind, contact, context, event, seen) -> list[Message]:
    """One message of ``kind`` on each of its channels (rendering.KINDS) for which ``contact``
    (``{"email", "mobile"}``, either may be missing) has an address. ``seen`` holds the
    (kind, channel, recipient) already recorded for this event, so that two people sharing an
    address get one message, not a broken unique key."""
    addresses = {
        "email": (contact.get("email") or "").strip() or None,
        "sms": normalize_mobile(contact["mobile"]) if contact.get("mobile") else None,
    }
    recorded = []
    for channel in KINDS[kind]:
        recipient = addresses[channel]
        if not recipient or (kind, channel, recipient.lower()) in seen:
            continue
        seen.add((kind, channel, recipient.lower()))
        recorded.append(
            _new_message(
                session, kind=kind, channel=channel, recipient=recipient, context=context, event=event
            )
        )
    return recorded


def record_application_submitted(
    session, event: dict, exporter: dict, office_contacts: dict
) -> list[Message]:
    """application.application_submitted: email and SMS to the exporter ("submitted to <office>")
    and to every active officer of the issuing office ("a new application is waiting").

    ``exporter`` is registration's exporter profile (name, email, mobile); ``office_contacts`` its
    ``office_contacts`` answer: ``{"office": {code, name, ...}, "officers": [{username, name,
    email, mobile}]}``. The caller fetched them; nothing here calls another service."""
    office = office_contacts["office"]
    common = {
        "application_number": event["application_number"],
        "iec": event["iec"],
        "agency_code": event["agency_code"],
        "office_name": office["name"],
        "certificate": certificate_label(event.get("agreement_code")),
    }
    seen: set = set()
    recorded = _to_contact(
        session,
        kind="application_submitted",
        contact=exporter,
        event=event,
        seen=seen,
        context={
            **common,
            "name": exporter["name"],
            "url": exporter_application_url(event["application_id"]),
        },
    )
    return recorded + _to_officers(
        session,
        kind="application_received",
        event=event,
        exporter=exporter,
        officers=office_contacts["officers"],
        seen=seen,
        context=common,
    )


def _to_officers(session, *, kind, event, exporter, officers, seen, context) -> list[Message]:
    """One message of ``kind`` to each officer, naming the officer and the exporter, with the
    link to the application in the officer's queue."""
    url = officer_application_url(event["application_id"])
    recorded = []
    for officer in officers:
        recorded += _to_contact(
            session,
            kind=kind,
            contact=officer,
            event=event,
            seen=seen,
            context={**context, "name": officer["name"], "exporter_name": exporter["name"], "url": url},
        )
    return recorded


def record_application_resubmitted(
    session, event: dict, exporter: dict, office_contacts: dict
) -> list[Message]:
    """application.application_resubmitted: email and SMS to every active officer of the issuing
    office that the corrected application is back in its queue. Nothing to the exporter, who has
    the gateway's answer to its own resubmission."""
    return _to_officers(
        session,
        kind="application_resubmitted",
        event=event,
        exporter=exporter,
        officers=office_contacts["officers"],
        seen=set(),
        context={
            "iec": event["iec"],
            "application_number": event["application_number"],
            "office_name": office_contacts["office"]["name"],
        },
    )


def _exporter_context(event: dict, exporter: dict) -> dict:
    return {
        "name": exporter["name"],
        "iec": event["iec"],
        "application_number": event["application_number"],
        "agency_code": event["agency_code"],
        "url": exporter_application_url(event["application_id"]),
    }


def record_discrepancy_raised(session, event: dict, exporter: dict) -> list[Message]:
    """application.discrepancy_raised: email (with the officer's comment) and SMS to the exporter,
    each with the link to the application to correct and resubmit."""
    return _to_contact(
        session,
        kind="discrepancy_raised",
        contact=exporter,
        event=event,
        seen=set(),
        context={**_exporter_context(event, exporter), "comment": event["comment"]},
    )


def record_application_rejected(session, event: dict, exporter: dict) -> list[Message]:
    """application.application_rejected: email and SMS to the exporter with the reason."""
    return _to_contact(
        session,
        kind="application_rejected",
        contact=exporter,
        event=event,
        seen=set(),
        context={**_exporter_context(event, exporter), "reason": event["reason"]},
    )


def certificate_filename(number: str) -> str:
    """``MPEDA/2026/013/0000066A`` -> ``MPEDA-2026-013-0000066A.pdf`` (anything but letters,
    digits, dot, dash and underscore becomes a dash)."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", number) + ".pdf"


def record_certificate_issued(
    session, event: dict, exporter: dict, document: dict, store: BlobStore | None = None
) -> list[Message]:
    """certificate.certificate_issued: email to the exporter with the signed PDF attached, and an
    SMS with the public verification link.

    ``document`` is the certificate service's ``certificate_file`` answer (``number``, ``sha256``,
    ``content`` in base64). Its bytes must hash to the event's ``sha256``, or AttachmentMismatch
    is raised and nothing is recorded. They are kept in the blob store (``store``, the chassis
    BlobStore by default) before the message is recorded, which refers to them by hash: whatever
    happens to the certificate service later, the dispatcher sends exactly these bytes."""
    try:
        content = base64.b64decode(document["content"], validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise AttachmentMismatch(
            f"certificate {event['certificate_number']}: the certificate "
            f"service sent no readable file ({exc})"
        ) from None
    sha256 = hashlib.sha256(content).hexdigest()
    if sha256 != event["sha256"]:
        raise AttachmentMismatch(
            f"certificate {event['certificate_number']}: the file from the certificate service "
            f"hashes to {sha256}, the event names {event['sha256']}; not sent"
        )
    (store or BlobStore()).put(content)  # before the row: a recorded hash always has its file
    filename = certificate_filename(event["certificate_number"])
    context = {
        "name": exporter["name"],
        "iec": event["iec"],
        "certificate_number": event["certificate_number"],
        "agency_code": event["agency_code"],
        "url": event["url"],
        "filename": filename,
        "application_url": exporter_application_url(event["application_id"]),
    }
    recorded = _to_contact(
        session, kind="certificate_issued", contact=exporter, event=event, seen=set(), context=context
    )
    for message in recorded:
        if message.channel == "email":
            message.attachments.append(
                MessageAttachment(sha256=sha256, filename=filename, content_type=PDF, size=len(content))
            )
    return recorded


# --- secrets ----------------------------------------------------------------------------------


def _masked(text: str | None, secret: str | None, html: bool) -> str | None:
    if text is None or not secret:
        return text
    text = text.replace(secret, MASK)
    if html:
        text = text.replace(str(escape(secret)), MASK)
    return text


def redact(message: Message):
    """Replace the message's password by a mask in what is stored, and forget it."""
    if message.secret:
        message.subject = _masked(message.subject, message.secret, html=False)
        message.body_text = _masked(message.body_text, message.secret, html=False) or ""
        message.body_html = _masked(message.body_html, message.secret, html=True)
        message.secret = None
        message.secret_redacted = True


# --- delivery outcome -------------------------------------------------------------------------


def record_attempt(
    message: Message,
    attempted_at: datetime,
    error: str | None,
    delays: list[float],
    now: datetime | None = None,
):
    """Apply one delivery try to ``message``: sent (and redacted), or scheduled again after the
    backoff for this round's failure count, or failed when the round's retries are used up."""
    now = now or utcnow()
    message.attempts += 1
    message.delivery_attempts.append(
        DeliveryAttempt(
            attempted_at=attempted_at, ok=error is None, error=error[:ERROR_MAX] if error else None
        )
    )
    message.claimed_by = None
    message.claimed_until = None
    if error is None:
        message.status = "sent"
        message.sent_at = now
        message.next_attempt_at = None
        message.last_error = None
        redact(message)
        return
    message.last_error = error[:ERROR_MAX]
    failures = message.attempts - message.round_started_at_attempt
    if failures <= len(delays):
        message.status = "pending"
        message.next_attempt_at = now + timedelta(seconds=delays[failures - 1])
    else:
        message.status = "failed"
        message.next_attempt_at = None


# --- for operators ----------------------------------------------------------------------------


def message_as_dict(message: Message) -> dict:
    """As shown to operators: a password not yet delivered is masked here too."""
    return {
        "id": message.id,
        "kind": message.kind,
        "channel": message.channel,
        "recipient": message.recipient,
        "subject": _masked(message.subject, message.secret, html=False),
        "body_text": _masked(message.body_text, message.secret, html=False),
        "body_html": _masked(message.body_html, message.secret, html=True),
        "status": message.status,
        "attempts": message.attempts,
        "next_attempt_at": iso_z(message.next_attempt_at),
        "last_error": message.last_error,
        "created_at": iso_z(message.created_at),
        "sent_at": iso_z(message.sent_at),
        "event_id": message.event_id,
        "correlation_id": message.correlation_id,
        "secret_redacted": message.secret_redacted,
        "delivery_attempts": [
            {"attempted_at": iso_z(a.attempted_at), "ok": a.ok, "error": a.error}
            for a in message.delivery_attempts
        ],
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "sha256": a.sha256, "size": a.size}
            for a in message.attachments
        ],
    }


def _positive_int(name, value, maximum=None) -> int:
    try:
        number = int(value)
        if isinstance(value, bool) or str(number) != str(value).strip():
            raise ValueError
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be a whole number", fields={name: ["Not an integer."]}) from None
    if number < 1 or (maximum is not None and number > maximum):
        limit = f"between 1 and {maximum}" if maximum else "at least 1"
        raise BadRequest(f"{name} must be {limit}", fields={name: [f"Must be {limit}."]})
    return number


def list_messages(session, recipient=None, status=None, kind=None, page=1, per_page=50) -> dict:
    """Newest first, with every delivery try; filters are exact matches (a mobile number may be
    given in any usual form)."""
    page = _positive_int("page", page)
    per_page = _positive_int("per_page", per_page, MAX_PER_PAGE)
    if status is not None and status not in STATUSES:
        raise BadRequest(
            f"status must be one of {', '.join(STATUSES)}",
            fields={"status": [f"Must be one of: {', '.join(STATUSES)}."]},
        )
    conditions = []
    if recipient:
        # SMS recipients are stored in E.164: "98765 43210" finds "+919876543210".
        recipient = recipient.strip() if "@" in recipient else normalize_mobile(recipient)
        conditions.append(Message.recipient == recipient)
    if status:
        conditions.append(Message.status == status)
    if kind:
        conditions.append(Message.kind == kind)
    total = session.scalar(select(func.count()).select_from(Message).where(*conditions))
    rows = session.scalars(
        select(Message)
        .where(*conditions)
        .options(selectinload(Message.delivery_attempts), selectinload(Message.attachments))
        .order_by(Message.created_at.desc(), Message.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return {"items": [message_as_dict(m) for m in rows], "page": page, "per_page": per_page, "total": total}


def retry_message(session, message_id: str) -> dict:
    """Send a failed (or still pending) message now. A failed one starts a new round with the
    full backoff schedule; a sent one is not sent again."""
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"no message {message_id!r}", code="MESSAGE_NOT_FOUND")
    if message.status == "sent":
        raise Conflict("the message was already sent", code="MESSAGE_ALREADY_SENT")
    if message.status == "failed":
        message.status = "pending"
        message.round_started_at_attempt = message.attempts
    message.next_attempt_at = utcnow()
    session.flush()
    return message_as_dict(message)
