"""The seed walk end to end, against the stack started as `make up` starts it, over HTTP only, as
the exporter, the admin, the officer and the public would walk it; mail through a real SMTP
server. Registration with an openssl-made DSC -> draft -> signed invoice -> DSC-signed submission
-> fee -> sandbox payment -> discrepancy (email and SMS) -> edit and DSC-signed resubmission -> approval ->
signed certificate (pdfsig) -> verification by number and by file -> a duplicate with its own
fee, payment, approval and its own verifiable certificate marked DUPLICATE. Then Ctrl-C."""

import base64
import json
import re
import signal
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from tests.conftest import ADMIN_PASSWORD, SHARED_DATA, login, mail_text, wait_until
from tests.e2e.conftest import Stack
from tests.exporters import DIRECTOR, IEC, form, register
from tests.integration.test_applications import application_body, minimal_pdf
from tests.pki import openssl_sign
from tests.staff import make_staff

EMAIL = "exports@malabarseafoods.in"
EXPORTER_MOBILE = "+919847012345"  # the registration form's "+91 98470 12345", as texted
OFFICE = "MPEDA-KOCHI"
QUEUE = "/api/v1/officer/applications"
DISCREPANCY = "The invoice number on the form differs from the invoice: please correct."
# A duplicate fee distinct from the issue fee (350 + 12 %), so that the bill shows which it is.
DUPLICATE_FEE = {"base_paise": 20000, "gst_rate": "18"}  # 200 + CGST 18 + SGST 18 = 236.00


def openssl(*args, cwd):
    result = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def openssl_dsc(var: Path, folder: Path):
    """The director's DSC made with plain openssl, issued by the stack's dev CA."""
    folder.mkdir()
    key, csr, cert, ext = (folder / n for n in ("dsc.key", "dsc.csr", "dsc.pem", "ext.cnf"))
    openssl(
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        f"/C=IN/OU={IEC}/CN={DIRECTOR}",
        cwd=folder,
    )
    ext.write_text("keyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=CA:FALSE\n")
    openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        var / "pki" / "dev-ca.pem",
        "-CAkey",
        var / "pki" / "dev-ca.key",
        "-CAcreateserial",
        "-days",
        "365",
        "-extfile",
        ext,
        "-out",
        cert,
        cwd=folder,
    )
    return cert, key


def sms_texts(var: Path, mobile: str) -> list[str]:
    """What the platform texted ``mobile``: with no SMS gateway set, one JSON line an SMS in
    var/sms.log (services/notification/delivery.py, SmsLog)."""
    path = var / "sms.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [sms["text"] for sms in map(json.loads, lines) if sms["to"] == mobile]


class Client:
    def __init__(self, base, token=None):
        self.base, self.token = base, token

    def __call__(self, method, path, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return requests.request(method, self.base + path, headers=headers, timeout=60, **kwargs)

    def ok(self, method, path, status=200, **kwargs):
        response = self(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response


def pay_in_sandbox(exporter, application_id, amount: str):
    """The exporter pays: the provider's page shows the amount, the payer chooses success."""
    payment = exporter.ok("POST", f"/api/v1/applications/{application_id}/payments", 201).json()
    page = requests.get(payment["redirect_url"], timeout=30)
    assert page.status_code == 200 and amount in page.text, page.text
    decided = requests.post(payment["redirect_url"], data={"outcome": "success"}, timeout=30)
    assert decided.status_code == 200 and "completed" in decided.text, decided.text


def status_of(exporter, application_id):
    return exporter.ok("GET", f"/api/v1/applications/{application_id}").json()["status"]


def signature(exporter, application_id, dsc, tmp) -> str:
    """The DSC's detached CMS signature over the application's current signing payload."""
    signed = exporter.ok("GET", f"/api/v1/applications/{application_id}/signing-payload").json()
    return base64.b64encode(openssl_sign(base64.b64decode(signed["payload"]), *dsc, tmp)).decode()


def pdfsig(path) -> str:
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout


def pdftotext(path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout


def verify_file(base, content: bytes) -> dict:
    answer = requests.post(
        f"{base}/api/v1/verify", timeout=60, files={"file": ("certificate.pdf", content, "application/pdf")}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def issued_certificate(exporter, application_id):
    return wait_until(
        lambda: next(
            (
                c
                for c in exporter.ok("GET", "/api/v1/certificates").json()["items"]
                if c["application_id"] == application_id
            ),
            None,
        ),
        timeout=90,
        what="the certificate",
    )


def download(exporter, certificate, path: Path) -> bytes:
    pdf = exporter.ok("GET", f"/api/v1/certificates/{certificate['id']}.pdf")
    assert pdf.headers["X-Content-SHA256"] == certificate["sha256"]
    path.write_bytes(pdf.content)
    assert "Signature Validation: Signature is Valid." in pdfsig(path)
    return pdf.content


def walk(base, mailbox, var: Path, tmp: Path):
    today = datetime.now(ZoneInfo("Asia/Kolkata")).date()  # fees and numbers use India's date

    # --- the exporter registers with an openssl DSC; the password comes by email ---------------
    dsc = openssl_dsc(var, tmp / "dsc")
    registered = register(base, form(base, tmp, var, dsc=dsc))
    assert registered.status_code == 201, registered.text
    mail = mailbox.wait_for(lambda m: EMAIL in m["To"].lower(), timeout=60)[0]
    password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
    exporter = Client(base, login(base, IEC, password))

    # --- the admin loads the HS nomenclature and the USD rate ----------------------------------
    admin = Client(base, login(base, "admin", ADMIN_PASSWORD))
    with open(Path(SHARED_DATA) / "hs2022.csv", "rb") as f:
        admin.ok("POST", "/api/v1/admin/reference/hs", files={"file": ("hs2022.csv", f, "text/csv")})
    admin.ok(
        "POST",
        "/api/v1/admin/exchange-rates",
        201,
        json={
            "currency": "USD",
            "valid_from": (date.today() - timedelta(days=90)).isoformat(),
            "rate": "83.2500",
        },
    )
    assert requests.get(f"{base}/api/v1/reference/hs/030617", timeout=10).json()["verified"]

    # --- draft, signed invoice, DSC-signed submission -------------------------------------------
    draft = exporter.ok("POST", "/api/v1/applications", 201, json=application_body()).json()
    application_id = draft["id"]
    invoice = minimal_pdf()
    exporter.ok(
        "POST",
        f"/api/v1/applications/{application_id}/documents",
        201,
        files={"file": ("invoice.pdf", invoice, "application/pdf")},
        data={"kind": "invoice", "signature": base64.b64encode(openssl_sign(invoice, *dsc, tmp)).decode()},
    )
    submitted = exporter.ok(
        "POST",
        f"/api/v1/applications/{application_id}/submit",
        json={"signature": signature(exporter, application_id, dsc, tmp)},
    )
    number = submitted.json()["number"]
    assert submitted.json()["status"] == "pending_payment"
    assert number == f"MPEDA/{today.year}/013/0000001A"

    # --- the fee (MPEDA Kochi, branch in Kerala: CGST + SGST) and the sandbox payment -----------
    fee = exporter.ok("GET", f"/api/v1/applications/{application_id}/fee").json()
    assert (fee["base"], fee["cgst"], fee["sgst"], fee["igst"], fee["total"]) == (35000, 2100, 2100, 0, 39200)
    pay_in_sandbox(exporter, application_id, "392.00")
    wait_until(lambda: status_of(exporter, application_id) == "submitted", what="submitted")
    assert exporter.ok("GET", f"/api/v1/applications/{application_id}/fee").json()["paid"]

    # --- an officer of MPEDA Kochi raises a discrepancy ----------------------------------------
    officer = Client(base, make_staff(base, mailbox, "kochi.officer", office=OFFICE))
    queue = officer.ok("GET", QUEUE).json()["items"]
    assert [a["id"] for a in queue] == [application_id]
    raised = officer.ok("POST", f"{QUEUE}/{application_id}/discrepancy", json={"comment": DISCREPANCY})
    assert raised.json()["status"] == "discrepancy"
    assert status_of(exporter, application_id) == "discrepancy"
    mailbox.wait_for(lambda m: EMAIL in m["To"].lower() and DISCREPANCY in mail_text(m), timeout=60)
    wait_until(
        lambda: [
            t for t in sms_texts(var, EXPORTER_MOBILE) if number in t and "returned with a discrepancy" in t
        ],
        timeout=60,
        what="the discrepancy SMS to the exporter's mobile",
    )

    # --- the exporter corrects the form and resubmits with a new DSC signature -----------------
    current = exporter.ok("GET", f"/api/v1/applications/{application_id}").json()
    corrected = dict(
        current["form"],
        exporter_comments="Invoice number corrected as asked.",
        invoice=dict(current["form"]["invoice"], number="MSF/2026/118-A"),
    )
    edited = exporter.ok("PUT", f"/api/v1/applications/{application_id}", json=corrected)
    assert edited.json()["status"] == "discrepancy"
    resubmitted = exporter.ok(
        "POST",
        f"/api/v1/applications/{application_id}/resubmit",
        json={"signature": signature(exporter, application_id, dsc, tmp)},
    )
    assert (resubmitted.json()["status"], resubmitted.json()["number"]) == ("submitted", number)
    assert resubmitted.json()["form"]["exporter_comments"] == "Invoice number corrected as asked."
    mailbox.wait_for(
        lambda m: (
            m["To"] == "kochi.officer@mpeda.example.in"
            and "resubmitted" in str(m["Subject"])
            and number in str(m["Subject"])
        ),
        timeout=60,
    )

    # --- the officer approves; the certificate is issued --------------------------------------
    assert [a["id"] for a in officer.ok("GET", QUEUE).json()["items"]] == [application_id]
    officer.ok(
        "POST",
        f"{QUEUE}/{application_id}/approve",
        json={"remarks": "Checked against the corrected invoice."},
    )
    certificate = issued_certificate(exporter, application_id)
    assert (certificate["number"], certificate["status"], certificate["kind"]) == (
        number,
        "valid",
        "original",
    )
    wait_until(lambda: status_of(exporter, application_id) == "issued", what="issued")
    history = exporter.ok("GET", f"/api/v1/applications/{application_id}/history").json()
    assert [(h["from"], h["to"]) for h in history["items"]] == [
        (None, "draft"),
        ("draft", "pending_payment"),
        ("pending_payment", "submitted"),
        ("submitted", "discrepancy"),
        ("discrepancy", "submitted"),
        ("submitted", "approved"),
        ("approved", "issued"),
    ]

    # --- the signed PDF; verification by number and by file -----------------------------------
    pdf = download(exporter, certificate, tmp / "certificate.pdf")
    shown = pdftotext(tmp / "certificate.pdf")
    assert number in shown and "MSF/2026/118-A" in shown and "DUPLICATE" not in shown
    by_number = requests.get(f"{base}/api/v1/verify", params={"number": number}, timeout=30)
    assert by_number.status_code == 200, by_number.text
    assert (by_number.json()["status"], by_number.json()["sha256"]) == ("valid", certificate["sha256"])
    verdict = verify_file(base, pdf)
    assert verdict["valid"] and verdict["signature_valid"] and verdict["matches_registry"], verdict
    changed = bytearray(pdf)
    changed[len(changed) // 2] ^= 0x01
    assert not verify_file(base, bytes(changed))["valid"]

    # --- a duplicate: its own application, fee, payment, approval and certificate -------------
    admin.ok(
        "POST",
        "/api/v1/admin/fees",
        201,
        json={
            "agency_code": "MPEDA",
            "service": "duplicate",
            "valid_from": today.isoformat(),
            **DUPLICATE_FEE,
        },
    )
    schedule = admin.ok("GET", "/api/v1/admin/fees", params={"agency": "MPEDA", "per_page": 200}).json()[
        "items"
    ]
    in_force = max(
        (
            w
            for w in schedule
            if w["service"] == "duplicate"
            and w["valid_from"] <= today.isoformat()
            and (w["valid_to"] is None or w["valid_to"] >= today.isoformat())
        ),
        key=lambda w: w["valid_from"],
    )
    assert (in_force["base_paise"], in_force["gst_rate"]) == (
        DUPLICATE_FEE["base_paise"],
        DUPLICATE_FEE["gst_rate"],
    )

    asked = exporter(
        "POST",
        f"/api/v1/certificates/{certificate['id']}/duplicates",
        files={"kind": (None, "duplicate"), "reason": (None, "The original was lost in transit.")},
    )
    assert asked.status_code == 201, asked.text
    duplicate = asked.json()
    duplicate_id, duplicate_number = duplicate["id"], duplicate["number"]
    assert duplicate_id != application_id
    assert (duplicate["status"], duplicate_number, duplicate["request_kind"]) == (
        "pending_payment",
        f"{number}/00000001",
        "duplicate",
    )

    fee = exporter.ok("GET", f"/api/v1/applications/{duplicate_id}/fee").json()
    half_gst = in_force["base_paise"] * int(in_force["gst_rate"]) // 200
    assert (fee["base"], fee["cgst"], fee["sgst"], fee["igst"], fee["total"]) == (
        in_force["base_paise"],
        half_gst,
        half_gst,
        0,
        in_force["base_paise"] + 2 * half_gst,
    )
    assert fee["service"] == "duplicate"
    pay_in_sandbox(exporter, duplicate_id, f"{fee['total'] / 100:.2f}")
    wait_until(lambda: status_of(exporter, duplicate_id) == "submitted", what="submitted")

    assert [a["id"] for a in officer.ok("GET", QUEUE).json()["items"]] == [duplicate_id]
    officer.ok("POST", f"{QUEUE}/{duplicate_id}/approve", json={"remarks": "Duplicate issued."})
    copy = issued_certificate(exporter, duplicate_id)
    assert (copy["number"], copy["kind"], copy["original_number"], copy["status"]) == (
        duplicate_number,
        "duplicate",
        number,
        "valid",
    )
    wait_until(lambda: status_of(exporter, duplicate_id) == "issued", what="duplicate issued")

    shown = requests.get(f"{base}/api/v1/verify", params={"number": duplicate_number}, timeout=30)
    assert shown.status_code == 200, shown.text
    assert (shown.json()["status"], shown.json()["kind"], shown.json()["original_number"]) == (
        "valid",
        "duplicate",
        number,
    )
    copy_pdf = download(exporter, copy, tmp / "duplicate.pdf")
    text = pdftotext(tmp / "duplicate.pdf")
    assert "DUPLICATE" in text and duplicate_number in text
    assert verify_file(base, copy_pdf)["valid"]
    # a duplicate does not replace the original: both stand
    assert (
        requests.get(f"{base}/api/v1/verify", params={"number": number}, timeout=30).json()["status"]
        == "valid"
    )


def test_the_seed_walk_end_to_end(stack_env, smtp_mailbox, tmp_path):
    stack_env["OPENCOO_SMTP_URL"] = smtp_mailbox.url
    stack_env["OPENCOO_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    stack = Stack(stack_env, tmp_path / "stack.log").start()
    try:
        walk(stack.base, smtp_mailbox, Path(stack_env["OPENCOO_VAR"]), tmp_path)
    finally:
        code, left = stack.stop()
    assert left == {}, "processes left behind after Ctrl-C"
    assert code == 128 + signal.SIGINT, stack.text[-3000:]
    assert not re.search(r"stopped \(rc=(?!0\))", stack.text), stack.text[-3000:]
