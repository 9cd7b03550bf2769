"""After examination the exporter hears of it: a discrepancy (the officer's comment and
the link to correct the application) and a rejection (the reason) by email and SMS, and the issued
certificate by email with the signed PDF attached and by SMS with the verification link.

Real services on a real broker: registration (the exporter's contacts), certificate (a registered
certificate whose PDF is in the blob store; its internal ``certificate_file`` RPC) and
notification; a real SMTP server (aiosmtpd) and the local HTTP SMS endpoint. The events are
published with kombu as the application and certificate services would."""

import base64
import hashlib
import uuid

import eventlet
import pytest
from kombu import Connection, Exchange
from sqlalchemy.orm import Session

from services.certificate.models import Certificate
from services.certificate.registry import verify_url
from services.certificate.service import CertificateService
from services.chassis import dlq, migrations, seeding
from services.chassis.blobs import BlobStore
from services.chassis.config import database_url
from services.chassis.database import make_engine, utcnow
from services.chassis.errors import NotFound
from services.chassis.pdf import render_pdf
from services.contracts.events import make_event
from services.notification.service import NotificationService
from services.registration.service import RegistrationService
from tests.conftest import mail_text, wait_until
from tests.integration.test_submission_notifications import (
    EXPORTER_EMAIL,
    EXPORTER_MOBILE,
    EXPORTER_NAME,
    IEC,
    add_exporter,
    subject,
)

PUBLIC_URL = "https://coo.example.in"
APPLICATION_ID = "5c2d9a40-7e1b-4f63-8a0d-2b9e4c6f1a37"
NUMBER = "MPEDA/2026/013/0000071A"
APPLICATION_URL = f"{PUBLIC_URL}/applications/{APPLICATION_ID}"
COMMENT = (
    "Invoice INV/118 gives FOB USD 12,012 but item 1 says USD 12,210 & the HS code 030617 "
    "<differs> from the packing list.\nAttach the corrected invoice, signed with your DSC."
)
REASON = "The goods are not originating: RVC 22% of FOB < 35% required under AIFTA."


# --- harness ----------------------------------------------------------------------------------


@pytest.fixture
def world(platform_env, monkeypatch, run_services, rpc_client, smtp_mailbox, sms_endpoint):
    """Registration (the exporter), certificate (empty registry) and notification running; mail to
    a real SMTP server, SMS to the local endpoint."""
    monkeypatch.setenv("OPENCOO_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("OPENCOO_SMS_URL", sms_endpoint.url)
    monkeypatch.setenv("OPENCOO_DELIVERY_POLL", "0.5")
    for service in ("registration", "certificate", "notification"):
        migrations.upgrade(service)
        seeding.seed(service)
    add_exporter()
    run_services(RegistrationService, CertificateService, NotificationService)
    return {"client": rpc_client(), "mailbox": smtp_mailbox, "sms": sms_endpoint}


def certificate_pdf(number: str) -> bytes:
    """A real PDF (WeasyPrint, as the certificate service renders), unsigned: signing is the
    signing service's business and tests/integration/test_certificates.py's."""
    return render_pdf(
        f"<h1>Certificate of Origin</h1><p>No. {number}</p><p>Exporter: {EXPORTER_NAME} (IEC {IEC})</p>"
    )


def register_certificate(number: str = NUMBER, application_id: str = APPLICATION_ID) -> dict:
    """A certificate as the certificate service registers it: the PDF in the blob store (the
    process's OPENCOO_VAR, shared by the services here), its row in the certificate database.
    Returns the certificate_issued payload it would publish."""
    pdf = certificate_pdf(number)
    sha256 = BlobStore().put(pdf)
    certificate_id = str(uuid.uuid4())
    engine = make_engine(database_url("certificate"))
    with Session(engine) as session:
        session.add(
            Certificate(
                id=certificate_id,
                number=number,
                application_id=application_id,
                iec=IEC,
                exporter_name=EXPORTER_NAME,
                importer_country="VN",
                agreement_code="013",
                agency_code="MPEDA",
                issuing_office_code="MPEDA-KOCHI",
                kind="original",
                original_number=None,
                sha256=sha256,
                size=len(pdf),
                status="valid",
                issued_at=utcnow(),
                issued_by="anil.nair",
            )
        )
        session.commit()
    engine.dispose()
    return {
        "certificate_id": certificate_id,
        "certificate_number": number,
        "application_id": application_id,
        "iec": IEC,
        "sha256": sha256,
        "url": verify_url(number),
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
        "pdf": pdf,
    }


def publish(amqp_uri, source, payload, times=1):
    with Connection(amqp_uri) as conn:
        producer = conn.Producer()
        for _ in range(times):
            producer.publish(
                payload,
                exchange=Exchange(f"{source}.events", type="topic", durable=True),
                routing_key=payload["event_type"],
                serializer="json",
            )
    return payload


def issued_event(certificate: dict, correlation_id=None, **over) -> dict:
    data = {k: v for k, v in certificate.items() if k != "pdf"}
    return make_event("certificate", "certificate_issued", {**data, **over}, correlation_id)


def examination_event(event_type, **data):
    return make_event(
        "application",
        event_type,
        {
            "application_id": APPLICATION_ID,
            "application_number": NUMBER,
            "iec": IEC,
            "agency_code": "MPEDA",
            "issuing_office_code": "MPEDA-KOCHI",
            **data,
        },
        "corr-exam",
    )


def mails_about(world, text):
    return [m for m in world["mailbox"].messages() if text in subject(m)]


def sms_about(world, text):
    return [s for s in world["sms"].received if text in s["text"]]


def html_of(mail) -> str:
    for part in mail.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no HTML part")


def attachments_of(mail) -> list:
    return [part for part in mail.walk() if part.get_content_disposition() == "attachment"]


def sent_total(client, kind):
    return client.notification.messages(kind=kind, status="sent")["total"]


# --- discrepancy and rejection ----------------------------------------------------------------


def test_a_discrepancy_reaches_the_exporter_with_the_comment_and_the_link(world, amqp_uri):
    publish(amqp_uri, "application", examination_event("discrepancy_raised", comment=COMMENT))

    [mail] = world["mailbox"].wait_for(lambda m: f"discrepancy in application {NUMBER}" in subject(m))
    assert mail["To"] == EXPORTER_EMAIL
    assert subject(mail) == f"OpenCoO: discrepancy in application {NUMBER}"
    text = mail_text(mail)
    assert f"Dear {EXPORTER_NAME}," in text
    assert COMMENT in text  # whole, with its line break
    assert APPLICATION_URL in text
    html = html_of(mail)
    assert "&lt;differs&gt;" in html and "USD 12,210 &amp; the HS code" in html
    assert "<differs>" not in html and f'href="{APPLICATION_URL}"' in html
    assert attachments_of(mail) == []

    [sms] = wait_until(lambda: sms_about(world, NUMBER), what="the SMS")
    assert sms["to"] == EXPORTER_MOBILE
    assert sms["text"].startswith(
        f'OpenCoO: application {NUMBER} was returned with a discrepancy: "Invoice INV/118'
    )
    assert sms["text"].endswith(f"Correct and resubmit at {APPLICATION_URL}")
    assert "None" not in sms["text"] and "\n" not in sms["text"]
    assert len(sms["text"]) <= 160 + len(APPLICATION_URL)

    wait_until(lambda: sent_total(world["client"], "discrepancy_raised") == 2, what="both sent")
    stored = world["client"].notification.messages(kind="discrepancy_raised")["items"]
    assert {m["correlation_id"] for m in stored} == {"corr-exam"}


def test_a_rejection_reaches_the_exporter_with_the_reason(world, amqp_uri):
    publish(amqp_uri, "application", examination_event("application_rejected", reason=REASON))

    [mail] = world["mailbox"].wait_for(lambda m: f"application {NUMBER} rejected" in subject(m))
    assert mail["To"] == EXPORTER_EMAIL
    text = " ".join(mail_text(mail).split())
    assert REASON in text and APPLICATION_URL in text
    assert "has been rejected by the issuing office (MPEDA)" in text
    assert "RVC 22% of FOB &lt; 35%" in html_of(mail)

    [sms] = wait_until(lambda: sms_about(world, NUMBER), what="the SMS")
    assert sms == {
        "to": EXPORTER_MOBILE,
        "text": f"OpenCoO: application {NUMBER} was rejected. Reason: The goods are "
        "not originating: RVC 22% of FOB < 35% required under… " + APPLICATION_URL,
    }


# --- the issued certificate -------------------------------------------------------------------


def test_the_certificate_email_carries_the_signed_pdf_and_the_sms_the_verify_link(world, amqp_uri):
    certificate = register_certificate()
    event = publish(amqp_uri, "certificate", issued_event(certificate, "corr-cert"))

    [mail] = world["mailbox"].wait_for(lambda m: NUMBER in subject(m))
    assert mail["To"] == EXPORTER_EMAIL
    assert subject(mail) == f"OpenCoO: Certificate of Origin {NUMBER} issued"
    text = " ".join(mail_text(mail).split())
    assert f"Dear {EXPORTER_NAME}," in text
    assert "attached to this email as MPEDA-2026-013-0000071A.pdf" in text
    assert certificate["url"] in text and APPLICATION_URL in text
    assert certificate["url"] == (f"{PUBLIC_URL}/api/v1/verify?number=MPEDA%2F2026%2F013%2F0000071A")

    [attachment] = attachments_of(mail)
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "MPEDA-2026-013-0000071A.pdf"
    content = attachment.get_payload(decode=True)
    assert content.startswith(b"%PDF-")
    assert hashlib.sha256(content).hexdigest() == event["sha256"]
    assert content == certificate["pdf"]

    [sms] = wait_until(lambda: sms_about(world, NUMBER), what="the SMS")
    assert sms["to"] == EXPORTER_MOBILE
    assert sms["text"] == (
        f"OpenCoO: Certificate of Origin {NUMBER} (IEC {IEC}) is issued; the "
        f"signed PDF is in your email. Verify: {certificate['url']}"
    )

    # The stored message refers to the file by its hash; the SMS has none.
    client = world["client"]
    wait_until(lambda: sent_total(client, "certificate_issued") == 2, what="both sent")
    stored = {m["channel"]: m for m in client.notification.messages(kind="certificate_issued")["items"]}
    assert stored["email"]["attachments"] == [
        {
            "filename": "MPEDA-2026-013-0000071A.pdf",
            "content_type": "application/pdf",
            "sha256": event["sha256"],
            "size": len(certificate["pdf"]),
        }
    ]
    assert stored["sms"]["attachments"] == []
    assert {m["correlation_id"] for m in stored.values()} == {"corr-cert"}


def test_the_same_certificate_event_twice_sends_one_email_and_one_sms(world, amqp_uri):
    certificate = register_certificate()
    publish(amqp_uri, "certificate", issued_event(certificate), times=2)
    client = world["client"]
    wait_until(lambda: sent_total(client, "certificate_issued") >= 2, what="the messages sent")
    eventlet.sleep(1.5)  # the twin delivery is handled too
    assert len(mails_about(world, NUMBER)) == 1
    assert len(sms_about(world, NUMBER)) == 1
    assert client.notification.messages(kind="certificate_issued")["total"] == 2
    assert dlq.list_dead_letters(amqp_uri) == []


def test_a_file_that_does_not_match_the_event_is_never_mailed_and_the_event_dead_letters(world, amqp_uri):
    certificate = register_certificate()
    wrong = hashlib.sha256(b"another certificate altogether").hexdigest()
    payload = publish(amqp_uri, "certificate", issued_event(certificate, sha256=wrong))

    # Retried (OPENCOO_EVENT_RETRY_DELAYS has two delays in tests), then dead-lettered.
    [letter] = wait_until(lambda: dlq.list_dead_letters(amqp_uri), what="a dead letter")
    assert letter["event_id"] == payload["event_id"]
    assert letter["event_type"] == "certificate_issued"
    assert letter["attempts"] == 3  # the first try and two retries
    assert letter["queue"].endswith("--notification.on_certificate_issued")
    assert "AttachmentMismatch" in letter["error"] and wrong in letter["error"]
    assert certificate["sha256"] in letter["error"]
    eventlet.sleep(1.0)
    assert mails_about(world, NUMBER) == [] and sms_about(world, NUMBER) == []
    assert world["client"].notification.messages(kind="certificate_issued")["total"] == 0


def test_an_unknown_certificate_sends_nothing_and_dead_letters(world, amqp_uri):
    certificate = register_certificate()
    publish(amqp_uri, "certificate", issued_event(certificate, certificate_id=str(uuid.uuid4())))
    [letter] = wait_until(lambda: dlq.list_dead_letters(amqp_uri), what="a dead letter")
    assert letter["attempts"] == 3 and "CERTIFICATE_NOT_FOUND" in letter["error"]
    eventlet.sleep(0.5)
    assert mails_about(world, NUMBER) == [] and sms_about(world, NUMBER) == []


# --- certificate's certificate_file -----------------------------------------------------------


def test_certificate_file_gives_the_registered_pdf_by_id(world):
    certificate = register_certificate()
    answer = world["client"].certificate.certificate_file(certificate["certificate_id"])
    assert set(answer) == {"number", "sha256", "content"}
    assert answer["number"] == NUMBER and answer["sha256"] == certificate["sha256"]
    assert base64.b64decode(answer["content"]) == certificate["pdf"]
    with pytest.raises(NotFound) as unknown:
        world["client"].certificate.certificate_file(str(uuid.uuid4()))
    assert unknown.value.code == "CERTIFICATE_NOT_FOUND"
