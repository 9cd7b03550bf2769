"""Sending one message: email over SMTP (or a mail drop of .eml files) and SMS over an HTTP gateway
(or a log file). Plain Python: no nameko, no database.

Every sender has ``send(outgoing)`` that returns when the message was handed over and raises when
it was not; the dispatcher records either outcome. Under eventlet (``nameko run`` and the tests
monkey-patch the standard library) smtplib and requests use green sockets, so a slow server
delays only the dispatcher's own greenthread, never the hub; every network call has a timeout.
"""

import json
import os
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import requests

from services.chassis.blobs import BlobCorrupt, BlobStore
from services.chassis.errors import ApiError
from services.notification import settings

SMTP_TIMEOUT = 20  # seconds per network operation
SMS_TIMEOUT = 10

SMTP_SCHEMES = {
    # scheme: (TLS mode, default port)
    "smtp": ("opportunistic", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("implicit", 465),
}


class DeliveryError(Exception):
    """The message was not handed over; the text says why (it goes to the delivery log)."""


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email, its bytes read from the blob store."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Outgoing:
    """What a sender needs of a stored message."""

    id: str
    channel: str
    recipient: str
    subject: str | None
    text: str
    html: str | None
    attachments: tuple[Attachment, ...] = ()


def load_attachments(refs, store: BlobStore | None = None) -> tuple[Attachment, ...]:
    """The attachments of a stored message, from ``(sha256, filename, content_type)`` references:
    the bytes come from the blob store, which checks them against their hash. A missing or damaged
    file is a DeliveryError (recorded and retried like any other), never a mail without it."""
    store = store or BlobStore()
    loaded = []
    for sha256, filename, content_type in refs:
        try:
            content = store.get(sha256)
        except (ApiError, BlobCorrupt) as exc:
            raise DeliveryError(
                f"attachment {filename} ({sha256}) cannot be read from the blob store: {exc}"
            ) from None
        loaded.append(Attachment(filename=filename, content_type=content_type, content=content))
    return tuple(loaded)


# --- email ------------------------------------------------------------------------------------


def build_email(outgoing: Outgoing, from_addr: str) -> EmailMessage:
    """An RFC 5322 message: multipart/alternative with the text and the HTML body, inside a
    multipart/mixed with the attachments when there are any. The Message-ID derives from our
    message id, so a message sent twice (a crash between sending and recording) can be recognised
    as one by the recipient's mail system."""
    domain = parseaddr(from_addr)[1].rpartition("@")[2] or "opencoo.local"
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = outgoing.recipient
    msg["Subject"] = outgoing.subject or ""
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = f"<{outgoing.id}@{domain}>"
    msg.set_content(outgoing.text)
    if outgoing.html:
        msg.add_alternative(outgoing.html, subtype="html")
    for attachment in outgoing.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if not (maintype and subtype):
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return msg


@dataclass(frozen=True)
class SmtpSettings:
    tls: str  # "opportunistic" | "starttls" | "implicit"
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> "SmtpSettings":
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in SMTP_SCHEMES:
            raise DeliveryError(
                f"OPENCOO_SMTP_URL: unknown scheme {parts.scheme!r} "
                f"(use {', '.join(s + '://' for s in SMTP_SCHEMES)})"
            )
        if not parts.hostname:
            raise DeliveryError("OPENCOO_SMTP_URL names no host")
        tls, default_port = SMTP_SCHEMES[scheme]
        try:
            port = parts.port or default_port
        except ValueError:
            raise DeliveryError("OPENCOO_SMTP_URL has an invalid port") from None
        return cls(
            tls=tls,
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The system trust store, plus a private CA when one is configured; hostnames are checked."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


class SmtpSender:
    channel = "email"

    def __init__(
        self, smtp: SmtpSettings, from_addr: str, ca_file: str | None = None, timeout: float = SMTP_TIMEOUT
    ):
        self.smtp = smtp
        self.from_addr = from_addr
        self.ca_file = ca_file
        self.timeout = timeout

    def describe(self) -> str:
        return f"SMTP {self.smtp.host}:{self.smtp.port} ({self.smtp.tls} TLS)"

    def send(self, outgoing: Outgoing):
        msg = build_email(outgoing, self.from_addr)
        s = self.smtp
        context = tls_context(self.ca_file)
        client: smtplib.SMTP
        if s.tls == "implicit":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
        try:
            client.ehlo()
            if s.tls != "implicit":
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif s.tls == "starttls":
                    raise DeliveryError(
                        f"{s.host}:{s.port} does not offer STARTTLS, which smtp+starttls:// requires"
                    )
                elif s.username:
                    raise DeliveryError(
                        f"{s.host}:{s.port} does not offer STARTTLS: refusing "
                        "to send the SMTP password unencrypted"
                    )
            if s.username:
                client.login(s.username, s.password or "")
            envelope_from = parseaddr(self.from_addr)[1] or None
            client.send_message(msg, from_addr=envelope_from, to_addrs=[outgoing.recipient])
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


class MailDrop:
    """Without an SMTP server: one RFC 5322 ``.eml`` file per message in ``var/mail/``, named
    ``<UTC timestamp>-<message id>.eml``, written whole or not at all."""

    channel = "email"

    def __init__(self, folder: Path, from_addr: str):
        self.folder = Path(folder)
        self.from_addr = from_addr

    def describe(self) -> str:
        return f"mail drop {self.folder}"

    def send(self, outgoing: Outgoing) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.folder / f"{stamp}-{outgoing.id}.eml"
        tmp = self.folder / f".{path.name}.tmp"
        tmp.write_bytes(build_email(outgoing, self.from_addr).as_bytes(policy=policy.SMTP))
        os.replace(tmp, path)
        return path


# --- SMS --------------------------------------------------------------------------------------


def _without_query(url: str) -> str:
    """The gateway URL as it may appear in logs: an API key in the query string stays out."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


class SmsGateway:
    channel = "sms"

    def __init__(self, url: str, timeout: float = SMS_TIMEOUT):
        self.url = url
        self.timeout = timeout

    def describe(self) -> str:
        return f"SMS gateway {_without_query(self.url)}"

    def send(self, outgoing: Outgoing):
        try:
            response = requests.post(
                self.url, json={"to": outgoing.recipient, "text": outgoing.text}, timeout=self.timeout
            )
        except requests.RequestException as exc:
            detail = str(exc).replace(self.url, _without_query(self.url))
            parts = urlsplit(self.url)
            for secret in (parts.query, parts.password):
                if secret:
                    detail = detail.replace(secret, "…")
            raise DeliveryError(f"{self.describe()} unreachable: {type(exc).__name__}: {detail}") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"{self.describe()} answered {response.status_code}: {response.text[:200]}")


class SmsLog:
    """Without a gateway: one JSON line per SMS appended to ``var/sms.log``."""

    channel = "sms"

    def __init__(self, path: Path):
        self.path = Path(path)

    def describe(self) -> str:
        return f"SMS log {self.path}"

    def send(self, outgoing: Outgoing):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (
            json.dumps(
                {
                    "at": datetime.now(timezone.utc).isoformat(),
                    "id": outgoing.id,
                    "to": outgoing.recipient,
                    "text": outgoing.text,
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        # One write on an O_APPEND file: lines of several processes do not interleave.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)


# --- from the configuration -------------------------------------------------------------------


def email_sender():
    url = settings.smtp_url()
    if not url:
        return MailDrop(settings.mail_dir(), settings.mail_from())
    return SmtpSender(SmtpSettings.from_url(url), settings.mail_from(), settings.smtp_ca())


def sms_sender():
    url = settings.sms_url()
    return SmsGateway(url) if url else SmsLog(settings.sms_log())


def sender_for(channel: str):
    """The sender configured now for ``channel``; raises DeliveryError for a bad configuration,
    which is then recorded against the message like any other failure."""
    if channel == "email":
        return email_sender()
    if channel == "sms":
        return sms_sender()
    raise DeliveryError(f"unknown channel {channel!r}")
