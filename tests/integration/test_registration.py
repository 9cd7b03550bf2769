"""Exporter registration with IEC and DSC, login, passwords and staff accounts, over HTTP against
real services (registration, signing, notification) on a real broker, with a real SMTP server.
Every refusal is checked to have created nothing: no exporter, no account, no event."""

import base64
import json
import re
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from kombu import Connection, Exchange, Queue

from tests.conftest import free_port, login, mail_text
from tests.exporters import DIRECTOR, GSTIN_KL, GSTIN_MH, IEC, form, register
from tests.pki import make_ca, make_dsc, openssl_sign


@pytest.fixture
def stack(platform, smtp_mailbox):
    base = platform("registration", "signing", "notification")
    return base, smtp_mailbox


@pytest.fixture
def events(amqp_uri):
    """An outside consumer of registration's events, bound before anything happens."""
    conn = Connection(amqp_uri)
    queue = Queue(
        "test-registration-events",
        Exchange("registration.events", type="topic", durable=True),
        routing_key="#",
    )
    queue(conn.default_channel).declare()

    def drain():
        bound = queue(conn.default_channel)
        got = []
        while (message := bound.get(no_ack=True)) is not None:
            got.append(json.loads(message.body))
        return got

    yield drain
    conn.release()


def nothing_created(base, platform_env, events):
    assert requests.get(f"{base}/api/v1/iec/{IEC}", timeout=10).json()["registered"] is False
    db = sqlite3.connect(platform_env / "db" / "registration.sqlite3")
    assert db.execute("select count(*) from exporter").fetchone() == (0,)
    assert db.execute("select count(*) from account where role='exporter'").fetchone() == (0,)
    assert db.execute("select count(*) from outbox").fetchone() == (0,)
    assert events() == []


def test_the_whole_registration_walk(stack, tmp_path, platform_env, events):
    base, mailbox = stack
    record = requests.get(f"{base}/api/v1/iec/{IEC}", timeout=10).json()
    assert record["name"] == "Malabar Sea Foods Private Limited"
    assert record["directors"] == ["Ravi Kumar", "Anita Menon"]
    assert record["email"].startswith("ex") and "*" in record["email"]  # masked for anyone
    assert "pan" not in record and record["registered"] is False

    response = register(base, form(base, tmp_path, platform_env))
    assert response.status_code == 201, response.text
    assert response.json()["username"] == IEC

    mail = mailbox.wait_for(lambda m: "exports@malabarseafoods.in" in m["To"].lower())[0]
    password = re.search(r"[Pp]assword:\s*(\S+)", mail_text(mail)).group(1)
    token = login(base, IEC, password)
    for method, path in (
        ("GET", "/api/v1/admin/officers"),
        ("POST", "/api/v1/admin/agencies"),
        ("POST", "/api/v1/admin/reference/hs"),
    ):
        refused = requests.request(
            method, base + path, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 403, path  # an exporter token on admin APIs
    published = events()
    assert {e["event_type"] for e in published} == {"exporter_registered", "credentials_issued"}
    registered = next(e for e in published if e["event_type"] == "exporter_registered")
    assert (registered["iec"], registered["mobile"]) == (IEC, "+919847012345")
    assert requests.get(f"{base}/api/v1/iec/{IEC}", timeout=10).json()["registered"] is True
    # the password left with its event and is not kept in registration's outbox
    db = sqlite3.connect(platform_env / "db" / "registration.sqlite3")
    kept = [
        json.loads(p)
        for (p,) in db.execute("select payload from outbox where event_type = 'credentials_issued'")
    ]
    assert [k["password"] for k in kept] == ["[scrubbed]"]
    assert password not in (platform_env / "db" / "registration.sqlite3").read_bytes().decode("latin-1")

    again = requests.post(f"{base}/api/v1/registrations/challenge", json={"iec": IEC}, timeout=10)
    assert again.status_code == 409 and again.json()["error"]["code"] == "IEC_ALREADY_REGISTERED"


def test_an_iec_registers_once_even_with_a_challenge_taken_before(stack, tmp_path, platform_env):
    base, _ = stack
    first = form(base, tmp_path, platform_env)
    second = form(base, tmp_path / "second", platform_env)  # challenge taken before
    assert register(base, first).status_code == 201
    again = register(base, second)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "IEC_ALREADY_REGISTERED"


def test_a_sez_branch_and_an_aeo_number(stack, tmp_path, platform_env):
    base, _ = stack
    body = form(
        base,
        tmp_path,
        platform_env,
        branches=[
            {"branch_id": "B1", "gstin": GSTIN_KL},
            {"branch_id": "B2", "in_sez": True, "state": "IN-MH"},
        ],
        aeo_number="INAAACM4821K1F123",
    )
    response = register(base, body)
    assert response.status_code == 201, response.text
    assert response.json()["aeo_number"] == "INAAACM4821K1F123"
    assert response.json()["branches"][1] == {
        "branch_id": "B2",
        "gstin": None,
        "in_sez": True,
        "state": "IN-MH",
        "address": "Sewri, Mumbai 400015",
    }


def dsc_case(platform_env, tmp_path, kind):
    folder = tmp_path / "dsc"
    if kind == "expired":
        return make_dsc(platform_env, folder, IEC, DIRECTOR, days_valid=(-400, -1))
    if kind == "not_yet_valid":
        return make_dsc(platform_env, folder, IEC, DIRECTOR, days_valid=(2, 400))
    if kind == "untrusted":
        return make_dsc(platform_env, folder, IEC, DIRECTOR, ca=make_ca(folder))
    if kind == "other_iec":
        return make_dsc(platform_env, folder, IEC, DIRECTOR, subject_iec="AABCS7319Q")
    if kind == "not_director":
        return make_dsc(platform_env, folder, IEC, "Someone Else")
    raise ValueError(kind)


@pytest.mark.parametrize(
    "kind, code",
    [
        ("expired", "DSC_EXPIRED"),
        ("not_yet_valid", "DSC_NOT_YET_VALID"),
        ("untrusted", "DSC_UNTRUSTED"),
        ("other_iec", "DSC_IEC_MISMATCH"),
        ("not_director", "DSC_SIGNER_NOT_DIRECTOR"),
    ],
)
def test_each_dsc_refusal_creates_nothing(stack, tmp_path, platform_env, events, kind, code):
    base, _ = stack
    response = register(base, form(base, tmp_path, platform_env, dsc=dsc_case(platform_env, tmp_path, kind)))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    nothing_created(base, platform_env, events)


def test_a_signature_over_other_data_is_invalid(stack, tmp_path, platform_env, events):
    base, _ = stack
    body = form(base, tmp_path, platform_env)
    cert, key = make_dsc(platform_env, tmp_path / "dsc2", IEC, DIRECTOR)
    body["dsc"]["certificate"] = cert.read_text()
    body["dsc"]["signature"] = base64.b64encode(openssl_sign(b"not the nonce", cert, key, tmp_path)).decode()
    response = register(base, body)
    assert response.json()["error"]["code"] == "DSC_SIGNATURE_INVALID"
    nothing_created(base, platform_env, events)


def test_a_certificate_other_than_the_signer_is_refused(stack, tmp_path, platform_env, events):
    base, _ = stack
    body = form(base, tmp_path, platform_env)
    other, _ = make_dsc(platform_env, tmp_path / "other", IEC, "Anita Menon")
    body["dsc"]["certificate"] = other.read_text()
    response = register(base, body)
    assert response.json()["error"]["code"] == "DSC_SIGNATURE_INVALID"
    nothing_created(base, platform_env, events)


def test_a_challenge_is_single_use_and_expires(stack, tmp_path, platform_env, events):
    base, _ = stack
    body = form(base, tmp_path, platform_env, dsc=dsc_case(platform_env, tmp_path, "expired"))
    assert register(base, body).json()["error"]["code"] == "DSC_EXPIRED"
    good_cert, good_key = make_dsc(platform_env, tmp_path / "good", IEC, DIRECTOR)
    body["dsc"]["certificate"] = good_cert.read_text()
    # the same challenge again, now with a good DSC: spent
    reused = register(base, body)
    assert reused.json()["error"]["code"] == "CHALLENGE_EXPIRED"
    assert "dsc.challenge_id" in reused.json()["error"]["fields"]

    fresh = form(base, tmp_path, platform_env, dsc=(good_cert, good_key))
    db = sqlite3.connect(platform_env / "db" / "registration.sqlite3")
    db.execute(
        "update registration_challenge set expires_at = '2000-01-01 00:00:00' where id = ?",
        (fresh["dsc"]["challenge_id"],),
    )
    db.commit()
    assert register(base, fresh).json()["error"]["code"] == "CHALLENGE_EXPIRED"
    unknown = form(base, tmp_path, platform_env, dsc=(good_cert, good_key))
    unknown["dsc"]["challenge_id"] = "no-such-challenge"
    assert register(base, unknown).json()["error"]["code"] == "CHALLENGE_EXPIRED"
    nothing_created(base, platform_env, events)


@pytest.mark.parametrize(
    "overrides, status, code, field",
    [
        ({"mobile": "+919999999999"}, 422, "CONTACT_MISMATCH", "mobile"),
        ({"email": "someone@else.in"}, 422, "CONTACT_MISMATCH", "email"),
        ({"declaration_accepted": False}, 422, "DECLARATION_NOT_ACCEPTED", "declaration_accepted"),
        ({"branches": [{"branch_id": "B1", "gstin": GSTIN_KL}]}, 422, "BRANCHES_INVALID", "branches"),
        (
            {
                "branches": [
                    {"branch_id": "B1", "gstin": "32AAACM4821K1ZQ"},
                    {"branch_id": "B2", "gstin": GSTIN_MH},
                ]
            },
            422,
            "BRANCHES_INVALID",
            "branches[0].gstin",
        ),
        (
            {
                "branches": [
                    {"branch_id": "B1", "gstin": "33AABCS7319Q1ZX"},
                    {"branch_id": "B2", "gstin": GSTIN_MH},
                ]
            },
            422,
            "BRANCHES_INVALID",
            "branches[0].gstin",
        ),
        (
            {"branches": [{"branch_id": "B1", "gstin": GSTIN_KL}, {"branch_id": "B2", "in_sez": True}]},
            422,
            "BRANCHES_INVALID",
            "branches[1].state",
        ),
        (
            {"branches": [{"branch_id": "B1", "gstin": GSTIN_KL}, {"branch_id": "B2"}]},
            422,
            "BRANCHES_INVALID",
            "branches[1]",
        ),
        (
            {
                "branches": [
                    {"branch_id": "B1", "gstin": GSTIN_KL},
                    {"branch_id": "B2", "gstin": GSTIN_MH},
                    {"branch_id": "B9", "gstin": GSTIN_MH},
                ]
            },
            422,
            "BRANCHES_INVALID",
            "branches[2].branch_id",
        ),
        ({"aeo_number": "INAABCS7319Q1F123"}, 422, "AEO_INVALID", "aeo_number"),
        ({"aeo_number": "AEO-123"}, 422, "AEO_INVALID", "aeo_number"),
        ({"declaration_accepted": "yes"}, 400, "VALIDATION_ERROR", "declaration_accepted"),
        ({"branches": "B1"}, 400, "VALIDATION_ERROR", "branches"),
    ],
)
def test_each_form_refusal_names_its_field_and_creates_nothing(
    stack, tmp_path, platform_env, events, overrides, status, code, field
):
    base, _ = stack
    response = register(base, form(base, tmp_path, platform_env, **overrides))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert field in error["fields"]
    if code == "CONTACT_MISMATCH":
        assert "DGFT" in error["message"]
    nothing_created(base, platform_env, events)


@pytest.mark.parametrize(
    "iec, status, code",
    [("ZZZZZ9999Z", 404, "IEC_UNKNOWN"), ("short", 400, "IEC_INVALID"), ("AAACM4821K!", 400, "IEC_INVALID")],
)
def test_unknown_and_malformed_iecs(stack, iec, status, code):
    base, _ = stack
    assert requests.get(f"{base}/api/v1/iec/{iec}", timeout=10).json()["error"]["code"] == code
    response = requests.post(f"{base}/api/v1/registrations/challenge", json={"iec": iec}, timeout=10)
    assert response.status_code == status and response.json()["error"]["code"] == code


# --- the IEC directory over HTTP -------------------------------------------------------------


class DirectoryServer:
    def __init__(self, records):
        self.records, self.broken = {r["iec"]: r for r in records}, False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                iec = self.path.rsplit("/", 1)[-1]
                if server.broken:
                    self.send_response(500)
                    self.end_headers()
                    return
                record = server.records.get(iec)
                self.send_response(200 if record else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(record or {"error": "not found"}).encode())

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_directory(monkeypatch):
    from services.registration.iec_directory import DEMO_DIRECTORY

    records = json.loads(DEMO_DIRECTORY.read_text())["records"]
    records[0] = {**records[0], "name": "Malabar Sea Foods (from the HTTP directory)"}
    server = DirectoryServer(records)
    monkeypatch.setenv("OPENCOO_IEC_DIRECTORY", f"http://127.0.0.1:{server.port}")
    yield server
    server.stop()


def test_the_iec_directory_over_http_and_its_outage(http_directory, platform):
    base = platform("registration")
    record = requests.get(f"{base}/api/v1/iec/{IEC}", timeout=10)
    assert record.json()["name"] == "Malabar Sea Foods (from the HTTP directory)"
    assert requests.get(f"{base}/api/v1/iec/ZZZZZ9999Z", timeout=10).status_code == 404

    http_directory.broken = True
    failing = requests.get(f"{base}/api/v1/iec/{IEC}", timeout=30)
    assert failing.status_code == 503
    assert failing.json()["error"]["code"] == "IEC_DIRECTORY_UNAVAILABLE"
    http_directory.stop()
    down = requests.post(f"{base}/api/v1/registrations/challenge", json={"iec": IEC}, timeout=30)
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "IEC_DIRECTORY_UNAVAILABLE"


def test_iec_lookups_are_rate_limited(stack):
    base, _ = stack
    statuses = [requests.get(f"{base}/api/v1/iec/{IEC}", timeout=10).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429
    limited = requests.get(f"{base}/api/v1/iec/{IEC}", timeout=10)
    assert int(limited.headers["Retry-After"]) > 0


def test_one_malformed_record_in_the_iec_file_spoils_only_its_own_iec(platform, monkeypatch, tmp_path):
    """Found when tried as a new user: one bad record made every registration challenge a 500.
    Now the others are served, the bad IEC gets a clear 422, an unreadable file a 503."""
    from services.registration.iec_directory import DEMO_DIRECTORY

    records = json.loads(DEMO_DIRECTORY.read_text(encoding="utf-8"))["records"]
    bad = dict(records[1], pan="not a PAN")
    path = tmp_path / "iec.json"
    path.write_text(json.dumps({"records": [records[0], bad, *records[2:]]}), encoding="utf-8")
    monkeypatch.setenv("OPENCOO_IEC_DIRECTORY", str(path))
    base = platform("registration")

    def challenge(iec):
        return requests.post(f"{base}/api/v1/registrations/challenge", json={"iec": iec}, timeout=30)

    good = challenge(records[0]["iec"])
    assert good.status_code == 200, good.text
    refused = challenge(bad["iec"])
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "IEC_RECORD_INVALID"
    assert requests.get(f"{base}/api/v1/iec/{bad['iec']}", timeout=30).status_code == 422
    path.write_text("{ this is not JSON", encoding="utf-8")
    down = challenge(records[0]["iec"])
    assert down.status_code == 503 and down.json()["error"]["code"] == "IEC_DIRECTORY_UNAVAILABLE"
