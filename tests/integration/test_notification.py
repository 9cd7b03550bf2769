"""The notification service against a real RabbitMQ, real SMTP servers (aiosmtpd: plain, STARTTLS
with AUTH, implicit TLS) and a real HTTP SMS endpoint: events become stored messages, the
dispatcher delivers them, retries with backoff, redacts passwords once delivered, and operators
list the delivery log over RPC."""

import datetime
import email
import ipaddress
import json
import re
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import eventlet
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kombu import Connection, Exchange
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.chassis.config import database_url
from services.chassis.database import make_engine
from services.chassis.errors import BadRequest, Conflict, NotFound
from services.chassis.migrations import upgrade
from services.contracts.events import make_event
from services.notification.messages import MASK
from services.notification.models import Message
from services.notification.service import NotificationService
from tests.conftest import free_port, wait_until

PASSWORD = "Xy7#kP2q<&>Lm9"  # has characters HTML escapes, so both bodies' forms are checked
CREDENTIALS = {
    "username": "ABCDE12345",
    "role": "exporter",
    "name": "Sea Foods Pvt Ltd",
    "email": "exports@seafoods.in",
    "mobile": "+919876543210",
    "password": PASSWORD,
    "reason": "registration",
}
EXPORTER = {
    "iec": "ABCDE12345",
    "name": "Sea Foods Pvt Ltd",
    "email": "exports@seafoods.in",
    "mobile": "98765 43210",
}
SMTP_USER, SMTP_PASSWORD = "mailer", "s3cret/pa ss"


# --- harness ----------------------------------------------------------------------------------


@pytest.fixture
def env(platform_env, monkeypatch):
    for name in ("OPENCOO_SMTP_URL", "OPENCOO_SMS_URL", "OPENCOO_SMTP_CA", "OPENCOO_MAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENCOO_DELIVERY_RETRY_DELAYS", "0.2,0.4")
    monkeypatch.setenv("OPENCOO_DELIVERY_POLL", "0.5")
    monkeypatch.setenv("OPENCOO_PUBLIC_URL", "https://coo.example.in")
    upgrade("notification")
    return monkeypatch


def publish(amqp_uri, event_type, data=None, payload=None, times=1):
    payload = payload or make_event("registration", event_type, data, "corr-notify")
    with Connection(amqp_uri) as conn:
        producer = conn.Producer()
        for _ in range(times):
            producer.publish(
                payload,
                exchange=Exchange("registration.events", type="topic", durable=True),
                routing_key=event_type,
                serializer="json",
            )
    return payload


def listed(client, **filters):
    return client.notification.messages(**filters)["items"]


def only(client, **filters):
    items = listed(client, **filters)
    assert len(items) == 1, items
    return items[0]


def stored(message_id) -> Message:
    engine = make_engine(database_url("notification"))
    try:
        with Session(engine) as session:
            return session.scalar(select(Message).where(Message.id == message_id))
    finally:
        engine.dispose()


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def bodies(msg):
    return (msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content())


class Collector:
    def __init__(self):
        self.messages = []  # (envelope, session) per message received

    async def handle_DATA(self, server, session, envelope):
        # STARTTLS sets session.ssl; with implicit TLS the transport itself is TLS.
        session.encrypted = (
            session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        )
        self.messages.append((envelope, session))
        return "250 OK"

    @property
    def parsed(self):
        return [parse(envelope.content) for envelope, _ in self.messages]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server():
    """``smtp_server(mode, port=None)`` starts an aiosmtpd server: "plain", "starttls" (STARTTLS
    required, then AUTH required) or "smtps" (implicit TLS, AUTH required).

    One at a time: under eventlet every Controller "thread" is a greenthread of the one OS thread,
    and asyncio allows one running loop per OS thread."""
    controllers = []

    def start(mode="plain", port=None, tls=None):
        collector = Collector()
        kwargs = {}
        if mode == "starttls":
            kwargs = dict(
                tls_context=tls.server_context(),
                require_starttls=True,
                auth_required=True,
                authenticator=authenticator,
            )
        elif mode == "smtps":
            kwargs = dict(
                ssl_context=tls.server_context(),
                auth_required=True,
                authenticator=authenticator,
                auth_require_tls=False,
            )
        controller = Controller(
            collector, hostname="127.0.0.1", port=port or free_port(), server_hostname="localhost", **kwargs
        )
        controller.start()
        controllers.append(controller)
        collector.port = controller.port
        collector.controller = controller
        return collector

    yield start
    for controller in controllers:
        try:
            controller.stop()
        except AssertionError:
            pass  # already stopped by the test


class Tls:
    """A private CA and a server certificate for localhost and 127.0.0.1."""

    def __init__(self, folder):
        import ssl  # noqa: F401  (green under the test's monkey patching, as in the service)

        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OpenCoO test mail CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_file = folder / "mail-ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file = folder / "mail-server.pem"
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file = folder / "mail-server.key"
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def server_context(self):
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture
def tls(tmp_path):
    return Tls(tmp_path)


@pytest.fixture
def sms_gateway():
    """A local HTTP SMS gateway recording the JSON bodies POSTed to it. ``statuses`` lists the
    answers to give, in order (then 200)."""
    received, statuses = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            received.append(
                {"path": self.path, "content_type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            status = statuses.pop(0) if statuses else 200
            reply = json.dumps({"ok": status == 200}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.received, server.statuses = received, statuses
    server.url = f"http://127.0.0.1:{server.server_address[1]}/v1/sms?api_key=k3y"
    yield server
    server.shutdown()
    server.server_close()


# --- delivery ---------------------------------------------------------------------------------


def test_credentials_email_over_starttls_with_auth_then_password_is_redacted(
    env, run_services, rpc_client, amqp_uri, smtp_server, tls
):
    server = smtp_server("starttls", tls=tls)
    env.setenv("OPENCOO_SMTP_URL", f"smtp://{SMTP_USER}:s3cret%2Fpa%20ss@localhost:{server.port}")
    env.setenv("OPENCOO_SMTP_CA", str(tls.ca_file))
    run_services(NotificationService)
    client = rpc_client()

    event = publish(amqp_uri, "credentials_issued", CREDENTIALS)
    wait_until(lambda: server.messages, what="the credentials email")
    envelope, session = server.messages[0]
    assert session.ssl is not None and session.authenticated  # STARTTLS, then AUTH
    assert envelope.rcpt_tos == ["exports@seafoods.in"]
    assert envelope.mail_from == "no-reply@opencoo.local"
    mail = server.parsed[0]
    assert mail["Subject"] == "OpenCoO: your password for IEC ABCDE12345"
    assert mail["To"] == "exports@seafoods.in"
    assert mail["From"] == "OpenCoO <no-reply@opencoo.local>"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = bodies(mail)
    assert f"Password: {PASSWORD}" in text and "Username: ABCDE12345" in text
    assert "Xy7#kP2q&lt;&amp;&gt;Lm9" in html and PASSWORD not in html
    assert "https://coo.example.in/" in text and "change it after you log in" in text

    item = wait_until(
        lambda: [m for m in listed(client) if m["status"] == "sent"], what="the message marked sent"
    )[0]
    assert item["kind"] == "credentials" and item["channel"] == "email"
    assert item["event_id"] == event["event_id"] and item["correlation_id"] == "corr-notify"
    assert item["attempts"] == 1 and [a["ok"] for a in item["delivery_attempts"]] == [True]
    assert item["secret_redacted"] is True and item["sent_at"]
    assert mail["Message-ID"] == f"<{item['id']}@opencoo.local>"
    row = stored(item["id"])
    assert row.secret is None and row.secret_redacted
    assert PASSWORD not in row.body_text and f"Password: {MASK}" in row.body_text
    assert MASK in row.body_html and "Xy7#kP2q" not in row.body_html


def test_exporter_registered_sends_an_sms_and_no_second_email(
    env, run_services, rpc_client, amqp_uri, smtp_server, sms_gateway
):
    server = smtp_server("plain")
    env.setenv("OPENCOO_SMTP_URL", f"smtp://127.0.0.1:{server.port}")
    env.setenv("OPENCOO_SMS_URL", sms_gateway.url)
    run_services(NotificationService)
    client = rpc_client()

    publish(amqp_uri, "exporter_registered", EXPORTER)
    wait_until(lambda: sms_gateway.received, what="the SMS")
    sms = sms_gateway.received[0]
    assert sms["content_type"] == "application/json" and sms["path"] == "/v1/sms?api_key=k3y"
    assert set(sms["json"]) == {"to", "text"}
    assert sms["json"]["to"] == "+919876543210"  # E.164 from "98765 43210"
    assert sms["json"]["text"].startswith("OpenCoO: IEC ABCDE12345 (Sea Foods Pvt Ltd) is registered")

    item = wait_until(lambda: listed(client, status="sent"), what="the SMS marked sent")[0]
    assert (item["kind"], item["channel"], item["recipient"]) == (
        "exporter_registered",
        "sms",
        "+919876543210",
    )
    assert item["subject"] is None and item["body_html"] is None
    assert item["secret_redacted"] is False  # it carried no secret
    eventlet.sleep(0.5)
    # The credentials email (its own event) is the exporter's confirmation by email.
    assert len(sms_gateway.received) == 1 and server.messages == []


# aiosmtpd knows TLS only from STARTTLS: with implicit TLS it must be told AUTH needs no more.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtps_with_auth(env, run_services, rpc_client, amqp_uri, smtp_server, tls):
    server = smtp_server("smtps", tls=tls)
    env.setenv("OPENCOO_SMTP_URL", f"smtps://{SMTP_USER}:s3cret%2Fpa%20ss@127.0.0.1:{server.port}")
    env.setenv("OPENCOO_SMTP_CA", str(tls.ca_file))
    run_services(NotificationService)

    publish(amqp_uri, "credentials_issued", {**CREDENTIALS, "reason": "password_reset"})
    wait_until(lambda: server.messages, what="the email over SMTPS")
    _, session = server.messages[0]
    assert session.encrypted and session.authenticated
    assert server.parsed[0]["Subject"] == "OpenCoO: your new password"
    wait_until(lambda: listed(rpc_client(), status="sent"), what="the message marked sent")


def test_the_same_event_delivered_twice_gives_one_email(env, run_services, rpc_client, amqp_uri, smtp_server):
    server = smtp_server("plain")
    env.setenv("OPENCOO_SMTP_URL", f"smtp://127.0.0.1:{server.port}")
    env.setenv("OPENCOO_MAIL_FROM", "DGFT CoO Desk <coo@dgft.example.in>")
    run_services(NotificationService)
    client = rpc_client()

    publish(amqp_uri, "credentials_issued", CREDENTIALS, times=3)
    wait_until(lambda: listed(client, status="sent"), what="the message marked sent")
    eventlet.sleep(1.0)  # > 1 dispatcher poll
    assert len(server.messages) == 1
    envelope, session = server.messages[0]
    assert not session.encrypted  # plain smtp://: no STARTTLS offered
    assert envelope.mail_from == "coo@dgft.example.in"
    assert server.parsed[0]["From"] == "DGFT CoO Desk <coo@dgft.example.in>"
    assert client.notification.messages()["total"] == 1


def test_tls_is_verified_and_required_when_asked(env, run_services, rpc_client, amqp_uri, smtp_server, tls):
    env.setenv("OPENCOO_DELIVERY_RETRY_DELAYS", "0.1")
    run_services(NotificationService)
    client = rpc_client()

    # A server whose certificate comes from a CA we were not told about.
    untrusted = smtp_server("starttls", tls=tls)
    env.setenv("OPENCOO_SMTP_URL", f"smtp://{SMTP_USER}:x@localhost:{untrusted.port}")
    publish(amqp_uri, "credentials_issued", CREDENTIALS)
    failed = wait_until(lambda: listed(client, status="failed"), what="failure")[0]
    assert "CERTIFICATE_VERIFY_FAILED" in failed["last_error"]
    assert failed["attempts"] == 2 and untrusted.messages == []
    untrusted.controller.stop()

    # smtp+starttls:// against a server that offers no STARTTLS.
    plain = smtp_server("plain")
    env.setenv("OPENCOO_SMTP_URL", f"smtp+starttls://127.0.0.1:{plain.port}")
    publish(amqp_uri, "credentials_issued", {**CREDENTIALS, "email": "other@seafoods.in"})
    failed = wait_until(
        lambda: listed(client, status="failed", recipient="other@seafoods.in"), what="failure"
    )[0]
    assert "does not offer STARTTLS" in failed["last_error"] and plain.messages == []

    # A password in the URL is never sent over a connection without TLS.
    env.setenv("OPENCOO_SMTP_URL", f"smtp://{SMTP_USER}:x@127.0.0.1:{plain.port}")
    publish(amqp_uri, "credentials_issued", {**CREDENTIALS, "email": "third@seafoods.in"})
    failed = wait_until(
        lambda: listed(client, status="failed", recipient="third@seafoods.in"), what="failure"
    )[0]
    assert "refusing to send the SMTP password unencrypted" in failed["last_error"]
    assert plain.messages == []


def test_smtp_down_is_retried_with_backoff_and_sent_once_it_is_up(
    env, run_services, rpc_client, amqp_uri, smtp_server
):
    delays = [0.3, 0.6, 1.2, 2.4, 4.8]
    env.setenv("OPENCOO_DELIVERY_RETRY_DELAYS", ",".join(map(str, delays)))
    port = free_port()  # nothing listens there yet
    env.setenv("OPENCOO_SMTP_URL", f"smtp://127.0.0.1:{port}")
    run_services(NotificationService)
    client = rpc_client()

    publish(amqp_uri, "credentials_issued", CREDENTIALS)
    pending = wait_until(
        lambda: [m for m in listed(client) if m["attempts"] >= 1], what="a failed first attempt"
    )[0]
    assert pending["status"] == "pending" and "ConnectionRefusedError" in pending["last_error"]
    assert pending["next_attempt_at"] > pending["delivery_attempts"][0]["attempted_at"]
    # Not yet delivered: the password is still stored (for the next try) but never shown.
    assert PASSWORD not in json.dumps(pending) and MASK in pending["body_text"]
    assert stored(pending["id"]).secret == PASSWORD

    server = smtp_server("plain", port=port)
    sent = wait_until(lambda: listed(client, status="sent"), timeout=15, what="delivery")[0]
    assert len(server.messages) == 1
    tries = sent["delivery_attempts"]
    assert [a["ok"] for a in tries] == [False] * (len(tries) - 1) + [True]
    assert len(tries) >= 2 and sent["attempts"] == len(tries) and sent["last_error"] is None
    times = [datetime.datetime.fromisoformat(a["attempted_at"].rstrip("Z")) for a in tries]
    for i in range(1, len(times)):
        assert (times[i] - times[i - 1]).total_seconds() >= delays[i - 1] - 0.01


def test_after_all_retries_it_is_failed_and_an_operator_can_retry_it(
    env, run_services, rpc_client, amqp_uri, smtp_server
):
    port = free_port()
    env.setenv("OPENCOO_SMTP_URL", f"smtp://127.0.0.1:{port}")
    run_services(NotificationService)
    client = rpc_client()

    publish(amqp_uri, "credentials_issued", CREDENTIALS)
    failed = wait_until(lambda: listed(client, status="failed"), what="the message failed")[0]
    assert failed["attempts"] == 3  # the first try and two retries
    assert [a["ok"] for a in failed["delivery_attempts"]] == [False, False, False]
    assert failed["last_error"].startswith(
        f"SMTP 127.0.0.1:{port} (opportunistic TLS): ConnectionRefusedError"
    )
    assert failed["next_attempt_at"] is None and failed["secret_redacted"] is False
    times = [
        datetime.datetime.fromisoformat(a["attempted_at"].rstrip("Z")) for a in failed["delivery_attempts"]
    ]
    assert (times[1] - times[0]).total_seconds() >= 0.19
    assert (times[2] - times[1]).total_seconds() >= 0.39
    eventlet.sleep(1.0)
    assert only(client)["attempts"] == 3  # no more tries on its own

    server = smtp_server("plain", port=port)
    again = client.notification.retry(failed["id"])
    assert again["status"] == "pending"
    wait_until(lambda: listed(client, status="sent"), what="the retried message sent")
    assert len(server.messages) == 1
    assert f"Password: {PASSWORD}" in bodies(server.parsed[0])[0]
    done = only(client)
    assert done["attempts"] == 4 and done["secret_redacted"] is True

    with pytest.raises(Conflict):
        client.notification.retry(failed["id"])
    with pytest.raises(NotFound):
        client.notification.retry("no-such-message")


def test_sms_gateway_error_is_retried(env, run_services, rpc_client, amqp_uri, sms_gateway):
    env.setenv("OPENCOO_SMS_URL", sms_gateway.url)
    sms_gateway.statuses.extend([503])
    run_services(NotificationService)
    client = rpc_client()

    publish(amqp_uri, "exporter_registered", EXPORTER)
    sms = wait_until(
        lambda: [m for m in listed(client, status="sent") if m["channel"] == "sms"], what="the SMS sent"
    )[0]
    assert [a["ok"] for a in sms["delivery_attempts"]] == [False, True]
    error = sms["delivery_attempts"][0]["error"]
    assert "answered 503" in error and "k3y" not in error
    assert len(sms_gateway.received) == 2


# --- without servers: the mail drop and the SMS log ------------------------------------------


def test_without_urls_mail_goes_to_eml_files_and_sms_to_a_log(
    env, platform_env, run_services, rpc_client, amqp_uri
):
    run_services(NotificationService)
    client = rpc_client()

    publish(amqp_uri, "exporter_registered", EXPORTER)
    publish(amqp_uri, "credentials_issued", CREDENTIALS)
    mail_dir, sms_log = platform_env / "mail", platform_env / "sms.log"
    files = wait_until(lambda: sorted(mail_dir.glob("*.eml")), what="the .eml file")
    assert [p for p in mail_dir.iterdir() if p.suffix != ".eml"] == []  # no temporary left
    [path] = files
    creds = parse(path.read_bytes())
    assert creds["Subject"] == "OpenCoO: your password for IEC ABCDE12345"
    assert b"\r\n" in path.read_bytes()  # RFC 5322 line ends
    assert creds.get_content_type() == "multipart/alternative"
    assert f"Password: {PASSWORD}" in bodies(creds)[0]
    assert creds["To"] == "exports@seafoods.in" and creds["Date"] and creds["Message-ID"]

    wait_until(lambda: sms_log.exists() and sms_log.read_text(), what="the SMS log")
    lines = [json.loads(line) for line in sms_log.read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["to"] == "+919876543210"
    assert "IEC ABCDE12345" in lines[0]["text"]

    wait_until(lambda: client.notification.messages(status="sent")["total"] == 2, what="both messages sent")
    creds_item = only(client, kind="credentials")
    assert creds_item["secret_redacted"] is True
    # <UTC timestamp>-<message id>.eml
    assert re.fullmatch(rf"\d{{8}}T\d{{12}}Z-{creds_item['id']}\.eml", path.name)


# --- for operators ----------------------------------------------------------------------------


def test_messages_rpc_lists_with_attempts_filters_and_pages(env, run_services, rpc_client, amqp_uri):
    run_services(NotificationService)
    client = rpc_client()
    publish(amqp_uri, "exporter_registered", EXPORTER)
    publish(amqp_uri, "credentials_issued", CREDENTIALS)
    publish(
        amqp_uri,
        "credentials_issued",
        {
            **CREDENTIALS,
            "username": "officer.kochi",
            "role": "officer",
            "email": "officer@mpeda.example.in",
            "reason": "staff_account",
        },
    )
    wait_until(lambda: client.notification.messages(status="sent")["total"] == 3, what="3 sent")

    page = client.notification.messages()
    assert page["page"] == 1 and page["per_page"] == 50 and page["total"] == 3
    item = page["items"][0]
    assert set(item) >= {
        "id",
        "kind",
        "channel",
        "recipient",
        "subject",
        "body_text",
        "body_html",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "sent_at",
        "event_id",
        "correlation_id",
        "secret_redacted",
        "delivery_attempts",
    }
    assert all(len(m["delivery_attempts"]) == 1 and m["delivery_attempts"][0]["ok"] for m in page["items"])
    created = [m["created_at"] for m in page["items"]]
    assert created == sorted(created, reverse=True)  # newest first

    officer = only(client, recipient="officer@mpeda.example.in")
    assert officer["subject"] == "OpenCoO: your officer account"
    assert "Username: officer.kochi" in officer["body_text"]
    assert PASSWORD not in officer["body_text"]
    assert [m["channel"] for m in listed(client, recipient="98765 43210")] == ["sms"]
    assert [m["kind"] for m in listed(client, recipient="exports@seafoods.in")] == ["credentials"]
    assert len(listed(client, kind="credentials")) == 2
    assert listed(client, status="failed") == [] and listed(client, kind="nothing") == []
    first = client.notification.messages(per_page=2)
    second = client.notification.messages(per_page=2, page=2)
    assert first["total"] == second["total"] == 3
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert {m["id"] for m in first["items"]}.isdisjoint(m["id"] for m in second["items"])

    with pytest.raises(BadRequest) as bad:
        client.notification.messages(status="lost")
    assert "status" in bad.value.fields
    with pytest.raises(BadRequest):
        client.notification.messages(page=0)
    with pytest.raises(BadRequest):
        client.notification.messages(per_page=1000)


# --- several processes of the service ---------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_dispatchers_never_send_a_message_twice(
    database, request, env, run_services, rpc_client, amqp_uri, smtp_server
):
    if database == "postgresql":
        request.getfixturevalue("postgres_databases")
        upgrade("notification")
    env.setenv("OPENCOO_DELIVERY_POLL", "0.05")  # both look all the time
    server = smtp_server("plain")
    env.setenv("OPENCOO_SMTP_URL", f"smtp://127.0.0.1:{server.port}")
    run_services(NotificationService)
    run_services(NotificationService)  # competing consumers and dispatchers
    client = rpc_client()

    count = 30
    for i in range(count):
        publish(amqp_uri, "credentials_issued", {**CREDENTIALS, "email": f"exporter{i}@example.in"})
    wait_until(
        lambda: client.notification.messages(status="sent")["total"] == count,
        timeout=30,
        what="every message sent",
    )
    eventlet.sleep(0.5)
    ids = [mail["Message-ID"] for mail in server.parsed]
    assert len(ids) == count and len(set(ids)) == count
    items = client.notification.messages(per_page=count)["items"]
    assert all(m["attempts"] == 1 for m in items)
