"""Notification without a broker: SMTP URLs, the email it builds, the file fallbacks, and the
service layer over an in-memory database (messages from events, backoff, redaction, listing)."""

import base64
import email
import hashlib
import json
import uuid
from datetime import datetime, timedelta
from email import policy

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.chassis.blobs import BlobStore
from services.chassis.errors import BadRequest, Conflict, NotFound
from services.notification import delivery, messages
from services.notification.delivery import (
    DeliveryError,
    MailDrop,
    Outgoing,
    SmsGateway,
    SmsLog,
    SmtpSettings,
    build_email,
)
from services.notification.messages import MASK
from services.notification.models import Base, Message
from tests.conftest import free_port

PASSWORD = "Xy7#kP2q<&>Lm9"
OUTGOING = Outgoing(
    id="5f0c3c1e-0000-4000-8000-000000000001",
    channel="email",
    recipient="exports@seafoods.in",
    subject="OpenCoO: IEC ABCDE12345 registered",
    text="Dear Sea Foods,\n",
    html="<p>Dear Sea Foods,</p>",
)


# --- delivery ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,expected",
    [
        ("smtp://mail.example.in", ("opportunistic", "mail.example.in", 25, None, None)),
        ("smtp://mail.example.in:2525", ("opportunistic", "mail.example.in", 2525, None, None)),
        (
            "smtp+starttls://coo%40dgft:p%40ss%2Fw@mail.example.in",
            ("starttls", "mail.example.in", 587, "coo@dgft", "p@ss/w"),
        ),
        (
            "smtps://mailer:secret@smtp.example.org:465",
            ("implicit", "smtp.example.org", 465, "mailer", "secret"),
        ),
        ("SMTPS://smtp.example.org", ("implicit", "smtp.example.org", 465, None, None)),
    ],
)
def test_smtp_urls(url, expected):
    s = SmtpSettings.from_url(url)
    assert (s.tls, s.host, s.port, s.username, s.password) == expected


@pytest.mark.parametrize(
    "url,message",
    [
        ("http://mail.example.in", "unknown scheme"),
        ("smtp://", "names no host"),
        ("smtp://mail.example.in:port", "invalid port"),
    ],
)
def test_bad_smtp_urls_are_delivery_errors(url, message):
    with pytest.raises(DeliveryError, match=message):
        SmtpSettings.from_url(url)


def test_email_is_multipart_alternative_with_a_stable_message_id():
    msg = email.message_from_bytes(
        build_email(OUTGOING, "DGFT CoO <coo@dgft.example.in>").as_bytes(), policy=policy.default
    )
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["From"] == "DGFT CoO <coo@dgft.example.in>" and msg["To"] == OUTGOING.recipient
    assert msg["Subject"] == OUTGOING.subject and msg["Date"]
    assert msg["Message-ID"] == f"<{OUTGOING.id}@dgft.example.in>"
    assert msg.get_body(("plain",)).get_content() == "Dear Sea Foods,\n"
    assert msg.get_body(("html",)).get_content().strip() == "<p>Dear Sea Foods,</p>"


def test_email_without_html_is_plain_text():
    msg = build_email(Outgoing(**{**OUTGOING.__dict__, "html": None}), "n@opencoo.local")
    assert msg.get_content_type() == "text/plain"


def test_mail_drop_writes_one_rfc5322_file_per_message(tmp_path):
    drop = MailDrop(tmp_path / "mail", "OpenCoO <no-reply@opencoo.local>")
    first = drop.send(OUTGOING)
    second = drop.send(Outgoing(**{**OUTGOING.__dict__, "id": str(uuid.uuid4())}))
    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == sorted([first.name, second.name])
    assert first.name.endswith(f"-{OUTGOING.id}.eml")
    raw = first.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert email.message_from_bytes(raw, policy=policy.default)["To"] == OUTGOING.recipient


def test_sms_log_appends_json_lines(tmp_path):
    log = SmsLog(tmp_path / "sms.log")
    for text in ("first\nline", "second ₹"):
        log.send(
            Outgoing(
                id=str(uuid.uuid4()),
                channel="sms",
                recipient="+919876543210",
                subject=None,
                text=text,
                html=None,
            )
        )
    lines = [json.loads(line) for line in (tmp_path / "sms.log").read_text().splitlines()]
    assert [(x["to"], x["text"]) for x in lines] == [
        ("+919876543210", "first\nline"),
        ("+919876543210", "second ₹"),
    ]


def test_unreachable_sms_gateway_error_keeps_the_api_key_out():
    gateway = SmsGateway(f"http://127.0.0.1:{free_port()}/sms?api_key=k3y", timeout=2)
    with pytest.raises(DeliveryError) as raised:
        gateway.send(
            Outgoing(id="x", channel="sms", recipient="+919876543210", subject=None, text="hi", html=None)
        )
    assert "unreachable" in str(raised.value) and "k3y" not in str(raised.value)


def test_senders_follow_the_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENCOO_VAR", str(tmp_path))
    for name in ("OPENCOO_SMTP_URL", "OPENCOO_SMS_URL"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(delivery.sender_for("email"), MailDrop)
    assert isinstance(delivery.sender_for("sms"), SmsLog)
    monkeypatch.setenv("OPENCOO_SMTP_URL", "smtps://u:p@smtp.example.org")
    monkeypatch.setenv("OPENCOO_SMS_URL", "https://sms.example.in/send")
    assert isinstance(delivery.sender_for("email"), delivery.SmtpSender)
    assert isinstance(delivery.sender_for("sms"), SmsGateway)


@pytest.mark.parametrize(
    "raw,expected",
    [
        (None, [60, 300, 1800, 7200, 21600]),
        ("0.2, 0.4", [0.2, 0.4]),
        ("soon", [60, 300, 1800, 7200, 21600]),
        ("5,-1", [60, 300, 1800, 7200, 21600]),
    ],
)
def test_retry_delays(monkeypatch, raw, expected):
    from services.notification import settings

    if raw is None:
        monkeypatch.delenv("OPENCOO_DELIVERY_RETRY_DELAYS", raising=False)
    else:
        monkeypatch.setenv("OPENCOO_DELIVERY_RETRY_DELAYS", raw)
    assert settings.retry_delays() == expected


# --- the service layer ------------------------------------------------------------------------


@pytest.fixture
def session(monkeypatch):
    monkeypatch.setenv("OPENCOO_PUBLIC_URL", "https://coo.example.in/")
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def credentials_event(**over):
    return {
        "event_id": uuid.uuid4(),
        "correlation_id": "corr-1",
        "username": "ABCDE12345",
        "role": "exporter",
        "name": "Sea Foods Pvt Ltd",
        "email": "exports@seafoods.in",
        "mobile": None,
        "password": PASSWORD,
        "reason": "registration",
        **over,
    }


def test_credentials_event_records_one_pending_email_with_its_secret(session):
    [m] = messages.record_credentials(session, credentials_event())
    session.commit()
    assert (m.kind, m.channel, m.recipient, m.status, m.attempts) == (
        "credentials",
        "email",
        "exports@seafoods.in",
        "pending",
        0,
    )
    assert m.next_attempt_at is not None and m.secret == PASSWORD
    assert "https://coo.example.in/" in m.body_text
    shown = messages.message_as_dict(m)  # operators never see it
    assert PASSWORD not in json.dumps(shown) and f"Password: {MASK}" in shown["body_text"]
    assert "Xy7#kP2q" not in shown["body_html"]


def test_exporter_registered_records_an_sms(session):
    event = {
        "event_id": uuid.uuid4(),
        "correlation_id": None,
        "iec": "ABCDE12345",
        "name": "Sea Foods Pvt Ltd",
        "email": "exports@seafoods.in",
        "mobile": "098765 43210",
    }
    recorded = messages.record_exporter_registered(session, event)
    assert [(m.channel, m.recipient, m.subject) for m in recorded] == [("sms", "+919876543210", None)]
    session.commit()
    found = messages.list_messages(session, recipient="98765 43210")["items"]
    assert [(m["channel"], m["recipient"]) for m in found] == [("sms", "+919876543210")]


@pytest.mark.parametrize(
    "given,expected",
    [
        ("+919876543210", "+919876543210"),
        ("98765 43210", "+919876543210"),
        ("+44 20 7946 0958", "+442079460958"),
        ("not a number", "not a number"),
    ],
)
def test_mobile_numbers_become_e164(given, expected):
    assert messages.normalize_mobile(given) == expected


def test_failures_back_off_then_fail_and_success_redacts(session):
    [m] = messages.record_credentials(session, credentials_event())
    delays = [10, 60]
    t0 = datetime(2026, 1, 1, 12, 0, 0)
    messages.record_attempt(m, t0, "SMTP down", delays, now=t0)
    assert (m.status, m.attempts, m.next_attempt_at) == ("pending", 1, t0 + timedelta(seconds=10))
    messages.record_attempt(m, t0, "SMTP down", delays, now=t0)
    assert (m.status, m.next_attempt_at) == ("pending", t0 + timedelta(seconds=60))
    messages.record_attempt(m, t0, "SMTP still down", delays, now=t0)
    assert (m.status, m.attempts, m.next_attempt_at, m.last_error) == ("failed", 3, None, "SMTP still down")
    assert m.secret == PASSWORD  # kept for an operator's retry
    session.commit()

    again = messages.retry_message(session, m.id)  # a new round of retries
    assert again["status"] == "pending" and m.round_started_at_attempt == 3
    messages.record_attempt(m, t0, "SMTP down", delays, now=t0)
    assert m.status == "pending" and m.next_attempt_at == t0 + timedelta(seconds=10)

    messages.record_attempt(m, t0, None, delays, now=t0)
    assert (m.status, m.attempts, m.sent_at, m.last_error) == ("sent", 5, t0, None)
    assert m.secret is None and m.secret_redacted
    assert PASSWORD not in m.body_text and f"Password: {MASK}" in m.body_text
    assert "Xy7#kP2q" not in m.body_html and MASK in m.body_html
    assert [a.ok for a in m.delivery_attempts] == [False, False, False, False, True]
    session.commit()
    with pytest.raises(Conflict):
        messages.retry_message(session, m.id)
    with pytest.raises(NotFound):
        messages.retry_message(session, "nope")


def test_listing_filters_pages_and_validates(session):
    for i in range(3):
        messages.record_credentials(session, credentials_event(email=f"e{i}@example.in"))
    session.commit()
    page = messages.list_messages(session, per_page=2)
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (3, 1, 2, 2)
    assert messages.list_messages(session, recipient="e1@example.in")["total"] == 1
    assert messages.list_messages(session, status="pending", kind="credentials")["total"] == 3
    assert messages.list_messages(session, status="sent")["total"] == 0
    last = messages.list_messages(session, page="2", per_page="2")
    assert len(last["items"]) == 1 and last["items"][0]["delivery_attempts"] == []
    for bad in ({"status": "lost"}, {"page": 0}, {"page": "x"}, {"per_page": 201}, {"per_page": True}):
        with pytest.raises(BadRequest):
            messages.list_messages(session, **bad)


# --- attachments ------------------------------------------------------------------------------

PDF_BYTES = b"%PDF-1.7\n1 0 obj <<>> endobj\n%\xe2\xe3\xcf\xd3 binary \x00\xff\n%%EOF\n"
NUMBER = "MPEDA/2026/013/0000066A"


def with_pdf(**over):
    return Outgoing(
        **{
            **OUTGOING.__dict__,
            "attachments": (
                delivery.Attachment(
                    filename="MPEDA-2026-013-0000066A.pdf", content_type="application/pdf", content=PDF_BYTES
                ),
            ),
            **over,
        }
    )


def only_attachment(msg):
    [part] = list(msg.iter_attachments())
    return part


def test_email_with_an_attachment_is_multipart_mixed_around_the_alternative():
    msg = email.message_from_bytes(
        build_email(with_pdf(), "n@opencoo.local").as_bytes(), policy=policy.default
    )
    assert msg.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["multipart/alternative", "application/pdf"]
    assert msg.get_body(("plain",)).get_content() == "Dear Sea Foods,\n"
    assert msg.get_body(("html",)).get_content().strip() == "<p>Dear Sea Foods,</p>"
    part = only_attachment(msg)
    assert part.get_filename() == "MPEDA-2026-013-0000066A.pdf"
    assert part.get_content_disposition() == "attachment"
    assert part["Content-Transfer-Encoding"] == "base64"
    assert part.get_content() == PDF_BYTES


def test_mail_drop_writes_the_attachment_into_the_eml(tmp_path):
    path = MailDrop(tmp_path / "mail", "OpenCoO <no-reply@opencoo.local>").send(with_pdf())
    raw = path.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=policy.default)
    part = only_attachment(msg)
    assert (part.get_filename(), part.get_content_type()) == (
        "MPEDA-2026-013-0000066A.pdf",
        "application/pdf",
    )
    assert hashlib.sha256(part.get_content()).hexdigest() == hashlib.sha256(PDF_BYTES).hexdigest()


def test_attachments_are_read_from_the_blob_store_and_a_missing_one_is_a_delivery_error(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    sha256 = store.put(PDF_BYTES)
    [loaded] = delivery.load_attachments([(sha256, "c.pdf", "application/pdf")], store)
    assert (loaded.filename, loaded.content_type, loaded.content) == ("c.pdf", "application/pdf", PDF_BYTES)
    with pytest.raises(DeliveryError, match=f"attachment c.pdf \\({'0' * 64}\\)"):
        delivery.load_attachments([("0" * 64, "c.pdf", "application/pdf")], store)
    store.path(sha256).write_bytes(b"%PDF-1.7 tampered")
    with pytest.raises(DeliveryError, match="does not match its content hash"):
        delivery.load_attachments([(sha256, "c.pdf", "application/pdf")], store)


def certificate_issued(**over):
    return {
        "event_id": uuid.uuid4(),
        "correlation_id": "corr-c",
        "certificate_id": "c0ffee00-0000-4000-8000-000000000001",
        "certificate_number": NUMBER,
        "application_id": "a0000000-0000-4000-8000-00000000000a",
        "iec": "ABCDE12345",
        "sha256": hashlib.sha256(PDF_BYTES).hexdigest(),
        "url": "https://coo.example.in/api/v1/verify?number=MPEDA%2F2026%2F013%2F0000066A",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
        **over,
    }


EXPORTER = {
    "iec": "ABCDE12345",
    "name": "Sea Foods Pvt Ltd",
    "email": "exports@seafoods.in",
    "mobile": "+919876543210",
}


def document(content=PDF_BYTES):
    return {
        "number": NUMBER,
        "sha256": hashlib.sha256(PDF_BYTES).hexdigest(),
        "content": base64.b64encode(content).decode(),
    }


def test_certificate_issued_records_the_pdf_by_reference(session, tmp_path):
    store = BlobStore(tmp_path / "blobs")
    event = certificate_issued()
    email_message, sms = messages.record_certificate_issued(session, event, EXPORTER, document(), store=store)
    session.commit()
    assert [(m.kind, m.channel) for m in (email_message, sms)] == [
        ("certificate_issued", "email"),
        ("certificate_issued", "sms"),
    ]
    [attachment] = email_message.attachments
    assert (attachment.sha256, attachment.filename, attachment.content_type, attachment.size) == (
        event["sha256"],
        "MPEDA-2026-013-0000066A.pdf",
        "application/pdf",
        len(PDF_BYTES),
    )
    assert sms.attachments == [] and event["url"] in sms.body_text
    assert store.get(event["sha256"]) == PDF_BYTES  # the bytes, kept by their hash
    assert messages.message_as_dict(email_message)["attachments"] == [
        {
            "filename": "MPEDA-2026-013-0000066A.pdf",
            "content_type": "application/pdf",
            "sha256": event["sha256"],
            "size": len(PDF_BYTES),
        }
    ]
    listed = messages.list_messages(session, kind="certificate_issued")["items"]
    assert sorted(len(m["attachments"]) for m in listed) == [0, 1]


@pytest.mark.parametrize(
    "content",
    [
        base64.b64encode(PDF_BYTES + b"%% appended").decode(),  # another file
        "not base64 at all!",  # no file
    ],
)
def test_a_file_that_is_not_the_events_is_refused_and_nothing_is_recorded(session, tmp_path, content):
    store = BlobStore(tmp_path / "blobs")
    with pytest.raises(messages.AttachmentMismatch, match=NUMBER):
        messages.record_certificate_issued(
            session, certificate_issued(), EXPORTER, {**document(), "content": content}, store=store
        )
    assert list(session.new) == [] and not (tmp_path / "blobs").exists()


@pytest.mark.parametrize(
    "number,filename",
    [
        ("MPEDA/2026/013/0000066A", "MPEDA-2026-013-0000066A.pdf"),
        ("EIC/2026/000/0000012A/00000001", "EIC-2026-000-0000012A-00000001.pdf"),
        ("A B\\C:D", "A-B-C-D.pdf"),
    ],
)
def test_certificate_filename(number, filename):
    assert messages.certificate_filename(number) == filename


def test_dispatcher_sends_the_attachment_to_the_mail_drop_and_retries_a_missing_blob(monkeypatch, tmp_path):
    """The whole path without a broker: record, dispatch into var/mail, read the .eml back."""
    from sqlalchemy.orm import sessionmaker

    from services.notification.dispatch import Dispatcher

    monkeypatch.setenv("OPENCOO_VAR", str(tmp_path))
    monkeypatch.setenv("OPENCOO_PUBLIC_URL", "https://coo.example.in")
    for name in ("OPENCOO_SMTP_URL", "OPENCOO_SMS_URL"):
        monkeypatch.delenv(name, raising=False)
    engine = create_engine(f"sqlite:///{tmp_path / 'notification.db'}")
    Base.metadata.create_all(engine)
    factory = sessionmaker(engine)
    with factory() as s:
        first, _ = messages.record_certificate_issued(s, certificate_issued(), EXPORTER, document())
        second, _ = messages.record_certificate_issued(s, certificate_issued(), EXPORTER, document())
        s.commit()
        first_id, second_id = first.id, second.id
    dispatcher = Dispatcher(factory)
    dispatcher.deliver(first_id)
    [eml] = (tmp_path / "mail").glob(f"*-{first_id}.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["Subject"] == f"OpenCoO: Certificate of Origin {NUMBER} issued"
    part = only_attachment(msg)
    assert part.get_filename() == "MPEDA-2026-013-0000066A.pdf"
    assert part.get_content() == PDF_BYTES

    # The blob gone (an operator's mistake): the try fails and is retried, nothing is mailed.
    BlobStore().path(hashlib.sha256(PDF_BYTES).hexdigest()).unlink()
    dispatcher.deliver(second_id)
    assert list((tmp_path / "mail").glob(f"*-{second_id}.eml")) == []
    with factory() as s:
        m = s.get(Message, second_id)
        assert (m.status, m.attempts) == ("pending", 1)
        assert "cannot be read from the blob store" in m.last_error
    engine.dispose()
