"""After submission the exporter and the officers of the issuing office get an email and an SMS
(architecture §4): application.application_submitted on a real broker, the notification service asking
the real registration service for the contacts, a real SMTP server (aiosmtpd) and a local HTTP SMS
endpoint. Also registration's internal ``office_contacts`` RPC that it relies on."""

from datetime import datetime

import eventlet
import pytest
from kombu import Connection, Exchange
from sqlalchemy import update
from sqlalchemy.orm import Session

from services.chassis import dlq, migrations, seeding
from services.chassis.config import database_url
from services.chassis.database import make_engine, utcnow
from services.chassis.errors import NotFound, RuleViolation
from services.contracts.events import make_event
from services.notification.service import NotificationService
from services.registration.models import Account, Exporter
from services.registration.service import RegistrationService
from tests.conftest import mail_text, wait_until

ADMIN = {"username": "admin", "role": "admin", "agency": None, "office": None}
PUBLIC_URL = "https://coo.example.in"
IEC = "AAACM4821K"
EXPORTER_NAME = "Malabar Sea Foods Private Limited"
EXPORTER_EMAIL = "exports@malabarseafoods.in"
EXPORTER_MOBILE = "+919847012345"
OFFICE_NAME = "MPEDA Head Office, Kochi"  # MPEDA-KOCHI in the seeded organisation
NUMBER = "MPEDA/2026/013/0000066A"
APPLICATION_ID = "0b7e2f64-3c51-4d8a-9a55-6f1d2e7c9b10"
# (username, name, email, mobile, office); the last two must never hear of the application.
OFFICERS = [
    ("anil.nair", "Anil Nair", "anil.nair@mpeda.example.in", "+91 94000 00001", "MPEDA-KOCHI"),
    ("beena.joseph", "Beena Joseph", "beena.joseph@mpeda.example.in", "9400000002", "MPEDA-KOCHI"),
    ("chennai.officer", "Kavitha Raman", "kavitha@mpeda.example.in", "+919400000003", "MPEDA-CHENNAI"),
    ("retired.officer", "Mohan Das", "mohan.das@mpeda.example.in", "+919400000004", "MPEDA-KOCHI"),
]
KOCHI = {"anil.nair@mpeda.example.in": "+919400000001", "beena.joseph@mpeda.example.in": "+919400000002"}
NOBODY_ELSE = {"kavitha@mpeda.example.in", "+919400000003", "mohan.das@mpeda.example.in", "+919400000004"}


# --- harness ----------------------------------------------------------------------------------


def registration_session():
    engine = make_engine(database_url("registration"))
    return engine, Session(engine)


def add_exporter():
    """The demo firm as registration keeps it once registered (the DSC registration itself is
    tests/integration/test_registration.py's business)."""
    engine, session = registration_session()
    with session:
        session.add(
            Exporter(
                iec=IEC,
                name=EXPORTER_NAME,
                pan="AAACM4821K",
                email=EXPORTER_EMAIL,
                mobile=EXPORTER_MOBILE,
                address="Willingdon Island, Kochi",
                state="IN-KL",
                dsc_subject=f"CN=Ravi Kumar,serialNumber=IEC{IEC}",
                dsc_fingerprint="ab" * 32,
                dsc_not_after=datetime(2030, 1, 1),
                directors=[{"name": "Ravi Kumar"}],
                registered_at=utcnow(),
            )
        )
        session.commit()
    engine.dispose()


def deactivate(username):
    engine, session = registration_session()
    with session:
        session.execute(update(Account).where(Account.username == username).values(active=False))
        session.commit()
    engine.dispose()


@pytest.fixture
def world(platform_env, monkeypatch, run_services, rpc_client, smtp_mailbox, sms_endpoint):
    """Registration (migrated, seeded, the exporter and four officers) and notification running,
    mail to a real SMTP server, SMS to the local endpoint."""
    monkeypatch.setenv("OPENCOO_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("OPENCOO_SMS_URL", sms_endpoint.url)
    monkeypatch.setenv("OPENCOO_DELIVERY_POLL", "0.5")
    for service in ("registration", "notification"):
        migrations.upgrade(service)
        seeding.seed(service)
    add_exporter()
    run_services(RegistrationService, NotificationService)
    client = rpc_client()
    for username, name, email, mobile, office in OFFICERS:
        client.registration.create_staff(ADMIN, "officer", username, name, email, mobile, "MPEDA", office)
    deactivate("retired.officer")
    # The officers' own credentials emails (credentials_issued) are out of the way first.
    smtp_mailbox.wait_for(lambda m: "OpenCoO: your officer account" in subject(m) and "mohan.das" in m["To"])
    return {"client": client, "mailbox": smtp_mailbox, "sms": sms_endpoint}


def submitted(**over):
    return {
        "application_id": APPLICATION_ID,
        "application_number": NUMBER,
        "iec": IEC,
        "agreement_code": "013",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
        **over,
    }


def publish(amqp_uri, payload, times=1):
    with Connection(amqp_uri) as conn:
        producer = conn.Producer()
        for _ in range(times):
            producer.publish(
                payload,
                exchange=Exchange("application.events", type="topic", durable=True),
                routing_key=payload["event_type"],
                serializer="json",
            )
    return payload


def subject(mail) -> str:
    return " ".join(str(mail["Subject"]).split())  # unfolded


def about(number):
    """Mail about the application ``number`` (not the officers' credentials emails)."""
    return lambda mail: number in subject(mail)


def sms_about(world, number):
    return [s for s in world["sms"].received if number in s["text"]]


def sent_total(client, kind):
    return client.notification.messages(kind=kind, status="sent")["total"]


# --- the messages -----------------------------------------------------------------------------


def test_exporter_and_each_active_officer_of_the_office_get_an_email_and_an_sms(world, amqp_uri):
    mailbox, client = world["mailbox"], world["client"]
    publish(amqp_uri, make_event("application", "application_submitted", submitted(), "corr-sub"))

    wait_until(
        lambda: len([m for m in mailbox.messages() if about(NUMBER)(m)]) >= 3,
        what="three emails about the application",
    )
    wait_until(lambda: len(sms_about(world, NUMBER)) >= 3, what="three SMS about the application")
    wait_until(
        lambda: sent_total(client, "application_submitted") + sent_total(client, "application_received") == 6,
        what="six messages sent",
    )
    eventlet.sleep(1.0)  # > 1 dispatcher poll: nothing more
    mails = [m for m in mailbox.messages() if about(NUMBER)(m)]
    texts = sms_about(world, NUMBER)

    by_to = {m["To"]: m for m in mails}
    assert sorted(by_to) == sorted([EXPORTER_EMAIL, *KOCHI]) and len(mails) == 3
    assert sorted(s["to"] for s in texts) == sorted([EXPORTER_MOBILE, *KOCHI.values()])
    assert len(texts) == 3

    exporter_mail = by_to[EXPORTER_EMAIL]
    assert subject(exporter_mail) == f"OpenCoO: application {NUMBER} submitted to {OFFICE_NAME}"
    body = " ".join(mail_text(exporter_mail).split())
    assert f"Dear {EXPORTER_NAME}," in body and OFFICE_NAME in body
    assert f"{PUBLIC_URL}/applications/{APPLICATION_ID}" in body
    assert "preferential (scheme 013) Certificate of Origin" in body
    [exporter_sms] = [s["text"] for s in texts if s["to"] == EXPORTER_MOBILE]
    assert exporter_sms == (
        f"OpenCoO: application {NUMBER} (IEC {IEC}) was submitted to "
        f"{OFFICE_NAME}. Track it at {PUBLIC_URL}/applications/"
        f"{APPLICATION_ID}"
    )

    for address, mobile in KOCHI.items():
        mail = by_to[address]
        assert subject(mail) == f"OpenCoO: new application {NUMBER} from {EXPORTER_NAME} ({IEC})"
        body = " ".join(mail_text(mail).split())
        assert f"{PUBLIC_URL}/officer/applications/{APPLICATION_ID}" in body
        assert f"waiting in the queue of {OFFICE_NAME}" in body
        [text] = [s["text"] for s in texts if s["to"] == mobile]
        assert text.startswith(
            f"OpenCoO: new application {NUMBER} from {EXPORTER_NAME} (IEC {IEC}) is waiting in your queue"
        )
        assert text.endswith(f"{PUBLIC_URL}/officer/applications/{APPLICATION_ID}")
    assert "Dear Anil Nair," in mail_text(by_to["anil.nair@mpeda.example.in"])

    # The officer of another office and the deactivated one hear nothing of it.
    everyone = {m["To"] for m in mails} | {s["to"] for s in texts}
    assert everyone.isdisjoint(NOBODY_ELSE)
    stored = client.notification.messages(per_page=200)["items"]
    assert {m["recipient"] for m in stored if m["kind"].startswith("application_")}.isdisjoint(NOBODY_ELSE)
    assert all(m["correlation_id"] == "corr-sub" for m in stored if m["kind"].startswith("application_"))


def test_the_officers_of_the_office_hear_that_a_corrected_application_is_back(world, amqp_uri):
    mailbox, client = world["mailbox"], world["client"]
    resubmitted = {k: v for k, v in submitted().items() if k != "agreement_code"}
    publish(amqp_uri, make_event("application", "application_resubmitted", resubmitted, "c-re"))
    wait_until(
        lambda: sent_total(client, "application_resubmitted") == 4,
        what="an email and an SMS to each active Kochi officer",
    )
    eventlet.sleep(1.0)  # > 1 dispatcher poll: nothing more
    mails = [m for m in mailbox.messages() if about(NUMBER)(m)]
    assert sorted(m["To"] for m in mails) == sorted(KOCHI)  # not the exporter, nobody else
    assert sorted(s["to"] for s in sms_about(world, NUMBER)) == sorted(KOCHI.values())
    for mail in mails:
        assert subject(mail) == (f"OpenCoO: application {NUMBER} from {EXPORTER_NAME} ({IEC}) resubmitted")
        body = " ".join(mail_text(mail).split())
        assert f"back in the queue of {OFFICE_NAME}" in body
        assert f"{PUBLIC_URL}/officer/applications/{APPLICATION_ID}" in body
    assert all(
        s["text"].endswith(f"{PUBLIC_URL}/officer/applications/{APPLICATION_ID}")
        for s in sms_about(world, NUMBER)
    )


def test_the_same_event_delivered_twice_sends_each_message_once(world, amqp_uri):
    mailbox, client = world["mailbox"], world["client"]
    payload = make_event("application", "application_submitted", submitted(), "corr-twice")
    publish(amqp_uri, payload, times=2)
    wait_until(
        lambda: sent_total(client, "application_submitted") + sent_total(client, "application_received") >= 6,
        what="the messages sent",
    )
    eventlet.sleep(1.5)  # the twin delivery is handled too
    assert len([m for m in mailbox.messages() if about(NUMBER)(m)]) == 3
    assert len(sms_about(world, NUMBER)) == 3
    assert client.notification.messages(kind="application_submitted")["total"] == 2
    assert client.notification.messages(kind="application_received")["total"] == 4
    assert dlq.list_dead_letters(amqp_uri) == []


def test_a_non_preferential_application_names_no_agreement(world, amqp_uri):
    number = "MPEDA/2026/000/0000007A"
    publish(
        amqp_uri,
        make_event(
            "application",
            "application_submitted",
            submitted(agreement_code=None, application_number=number),
            None,
        ),
    )
    [mail] = world["mailbox"].wait_for(lambda m: about(number)(m) and m["To"] == EXPORTER_EMAIL)
    body = " ".join(mail_text(mail).split())
    assert "a non-preferential Certificate of Origin" in body and "None" not in body
    wait_until(lambda: len(sms_about(world, number)) == 3, what="the SMS")
    assert all("None" not in s["text"] for s in sms_about(world, number))


def test_an_unknown_office_sends_nothing_and_the_event_is_dead_lettered_not_lost(world, amqp_uri):
    mailbox, client = world["mailbox"], world["client"]
    number = "MPEDA/2026/013/0000099A"
    payload = make_event(
        "application",
        "application_submitted",
        submitted(application_number=number, issuing_office_code="MPEDA-NEWPORT"),
        None,
    )
    publish(amqp_uri, payload)

    # Retried (OPENCOO_EVENT_RETRY_DELAYS has two delays in tests), then dead-lettered.
    dead = wait_until(lambda: dlq.list_dead_letters(amqp_uri), what="a dead letter")
    [letter] = dead
    assert letter["event_id"] == payload["event_id"]
    assert letter["event_type"] == "application_submitted"
    assert letter["attempts"] == 3  # the first try and two retries
    assert "ISSUING_OFFICE_UNKNOWN" in letter["error"] and "MPEDA-NEWPORT" in letter["error"]
    assert letter["queue"].endswith("--notification.on_application_submitted")
    eventlet.sleep(1.0)
    # The exporter's contacts were fetched before the office failed: still nothing was kept.
    assert [m for m in mailbox.messages() if about(number)(m)] == []
    assert sms_about(world, number) == []
    assert client.notification.messages(kind="application_submitted")["total"] == 0
    assert client.notification.messages(kind="application_received")["total"] == 0

    # The operator adds the office and an officer, then replays the event: it is all delivered.
    client.registration.create_issuing_office(
        ADMIN, "MPEDA-RO-CHENNAI", "MPEDA-NEWPORT", "MPEDA Newport", "IN-TN"
    )
    client.registration.create_staff(
        ADMIN,
        "officer",
        "newport.officer",
        "Selvi Murugan",
        "selvi@mpeda.example.in",
        "+919400000005",
        "MPEDA",
        "MPEDA-NEWPORT",
    )
    assert [r["event_id"] for r in dlq.replay(amqp_uri)] == [payload["event_id"]]
    found = mailbox.wait_for(lambda m: about(number)(m) and "selvi" in m["To"])
    assert subject(found[0]).startswith(f"OpenCoO: new application {number}")
    wait_until(lambda: len(sms_about(world, number)) == 2, what="the SMS after replay")
    assert {s["to"] for s in sms_about(world, number)} == {EXPORTER_MOBILE, "+919400000005"}
    assert [m["To"] for m in mailbox.messages() if about(number)(m) and m["To"] == EXPORTER_EMAIL] == [
        EXPORTER_EMAIL
    ]
    assert dlq.list_dead_letters(amqp_uri) == []


def test_an_unregistered_iec_sends_nothing_and_is_dead_lettered(world, amqp_uri):
    number = "MPEDA/2026/013/0000100A"
    publish(
        amqp_uri,
        make_event(
            "application",
            "application_submitted",
            submitted(application_number=number, iec="ZZZZZ99999"),
            None,
        ),
    )
    [letter] = wait_until(lambda: dlq.list_dead_letters(amqp_uri), what="a dead letter")
    assert letter["attempts"] == 3 and "EXPORTER_UNKNOWN" in letter["error"]
    eventlet.sleep(0.5)
    assert [m for m in world["mailbox"].messages() if about(number)(m)] == []
    assert sms_about(world, number) == []


# --- registration's office_contacts -----------------------------------------------------------


def test_office_contacts_lists_the_active_officers_of_that_office_only(world):
    client = world["client"]
    client.registration.create_staff(
        ADMIN,
        "agency_admin",
        "mpeda.admin",
        "Agency Admin",
        "admin@mpeda.example.in",
        "+919400000009",
        "MPEDA",
    )
    contacts = client.registration.office_contacts("MPEDA-KOCHI")
    assert contacts["office"] == {
        "code": "MPEDA-KOCHI",
        "name": OFFICE_NAME,
        "state": "IN-KL",
        "agency_code": "MPEDA",
    }
    assert contacts["officers"] == [
        {
            "username": "anil.nair",
            "name": "Anil Nair",
            "email": "anil.nair@mpeda.example.in",
            "mobile": "+919400000001",
        },
        {
            "username": "beena.joseph",
            "name": "Beena Joseph",
            "email": "beena.joseph@mpeda.example.in",
            "mobile": "+919400000002",
        },
    ]
    chennai = client.registration.office_contacts("MPEDA-CHENNAI")
    assert [o["username"] for o in chennai["officers"]] == ["chennai.officer"]
    assert client.registration.office_contacts("MPEDA-KOLKATA")["officers"] == []
    with pytest.raises(NotFound) as unknown:
        client.registration.office_contacts("MPEDA-NOWHERE")
    assert unknown.value.code == "ISSUING_OFFICE_UNKNOWN"
    with pytest.raises(NotFound):  # a regional office is no issuing office
        client.registration.office_contacts("MPEDA-RO-KOCHI")


# --- registration's certificate_parties -------------------------------------------------------


def test_certificate_parties_names_the_exporter_the_agency_and_its_office(world):
    client = world["client"]
    parties = client.registration.certificate_parties(IEC, "MPEDA", "MPEDA-KOCHI")
    assert parties["exporter"] == client.registration.exporter(IEC)
    assert parties["agency"] == {"code": "MPEDA", "name": "Marine Products Export Development Authority"}
    office = parties["office"]
    assert (office["code"], office["name"], office["state"]) == ("MPEDA-KOCHI", OFFICE_NAME, "IN-KL")
    assert office["address"] and office["gstin"].startswith("32")


@pytest.mark.parametrize(
    "agency, office",
    [
        ("EIC", "MPEDA-KOCHI"),  # another agency's office
        ("MPEDA", "MPEDA-NOWHERE"),
        ("MPEDA", "MPEDA-RO-KOCHI"),  # a regional office is no issuing office
        ("MPEDA", None),  # a draft that names no office yet
        ("NOSUCH", "MPEDA-KOCHI"),
    ],
)
def test_certificate_parties_refuses_an_office_the_agency_does_not_have(world, agency, office):
    with pytest.raises(RuleViolation) as refused:
        world["client"].registration.certificate_parties(IEC, agency, office)
    assert refused.value.code == "OFFICE_UNKNOWN"
    assert "issuing_office_code" in refused.value.fields


def test_certificate_parties_of_an_unregistered_iec_is_not_found(world):
    with pytest.raises(NotFound) as unknown:
        world["client"].registration.certificate_parties("ZZZZZ99999", "MPEDA", "MPEDA-KOCHI")
    assert unknown.value.code == "EXPORTER_UNKNOWN"
