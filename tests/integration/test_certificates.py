"""Certificates against the real services: approval -> a PDF rendered from our templates, signed
PAdES with the agency's key on SoftHSM2, stored and registered once; verification by number and
by file (pdfsig agrees); revocation; the DRAFT preview; who may see what."""

import subprocess
import uuid

import pytest
import requests
from kombu import Connection, Exchange

from services.contracts.events import make_event
from tests.conftest import wait_until
from tests.integration.test_applications import call, ready_draft, signature_for, world  # noqa: F401
from tests.integration.test_payments import pending_application, rows, sandbox_pay, status_of
from tests.staff import make_staff


@pytest.fixture
def officer(world, smtp_mailbox):
    return make_staff(world["base"], smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI")


def certificates(world, token=None):
    return call(world, "GET", "/api/v1/certificates", token=token).json()["items"]


def issue(world, officer) -> dict:
    """A paid application approved by the officer: its certificate once issued."""
    application_id = pending_application(world)
    sandbox_pay(world, application_id)
    wait_until(lambda: status_of(world, application_id) == "submitted", what="submitted")
    approved = call(
        world,
        "POST",
        f"/api/v1/officer/applications/{application_id}/approve",
        token=officer,
        json={"remarks": "Checked against the invoice."},
    )
    assert approved.status_code == 200, approved.text
    return wait_until(
        lambda: next((c for c in certificates(world) if c["application_id"] == application_id), None),
        timeout=60,
        what="the certificate",
    )


def pdfsig(path) -> str:
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout


def verify_file(world, content: bytes) -> dict:
    answer = requests.post(
        f"{world['base']}/api/v1/verify",
        timeout=60,
        files={"file": ("certificate.pdf", content, "application/pdf")},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_approval_issues_a_signed_certificate_that_verifies(world, officer):
    certificate = issue(world, officer)
    assert certificate["status"] == "valid" and certificate["kind"] == "original"
    wait_until(lambda: status_of(world, certificate["application_id"]) == "issued", what="issued")

    pdf = call(world, "GET", f"/api/v1/certificates/{certificate['id']}.pdf")
    assert pdf.status_code == 200 and pdf.headers["X-Content-SHA256"] == certificate["sha256"]
    path = world["tmp"] / "certificate.pdf"
    path.write_bytes(pdf.content)
    assert "Signature Validation: Signature is Valid." in pdfsig(path)
    shown = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert certificate["number"] in shown and "Viet" in shown  # the importing country
    assert "FORM AI" in shown  # the agreement's form, from the application's particulars

    by_number = requests.get(
        f"{world['base']}/api/v1/verify", timeout=10, params={"number": certificate["number"]}
    )
    assert by_number.status_code == 200
    assert by_number.json()["status"] == "valid"
    assert by_number.json()["sha256"] == certificate["sha256"]
    page = requests.get(
        f"{world['base']}/api/v1/verify",
        timeout=10,
        params={"number": certificate["number"]},
        headers={"Accept": "text/html,application/xhtml+xml"},
    )
    assert page.headers["Content-Type"].startswith("text/html") and "VALID" in page.text

    verdict = verify_file(world, pdf.content)
    assert verdict["valid"] and verdict["signature_valid"] and verdict["matches_registry"]
    assert verdict["certificate"]["number"] == certificate["number"]

    changed = bytearray(pdf.content)
    changed[len(changed) // 3] ^= 0x01
    verdict = verify_file(world, bytes(changed))
    assert not verdict["valid"] and not verdict["matches_registry"]
    appended = verify_file(world, pdf.content + b"\n%tampered\n")
    assert not appended["valid"]
    # Signed and trusted, but by the exporter's DSC, not by an agency: not a certificate.
    from io import BytesIO

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from tests.integration.test_applications import minimal_pdf

    cert, key = world["dsc"]
    by_exporter = BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(minimal_pdf())),
        signers.PdfSignatureMetadata(field_name="Exporter"),
        signer=signers.SimpleSigner.load(str(key), str(cert)),
        output=by_exporter,
    )
    forged = verify_file(world, by_exporter.getvalue())
    assert forged["signature"]["trusted"] and not forged["signature_valid"]
    assert not forged["valid"]
    # Nor by a trusted DSC whose subject says OU=agency-MPEDA: only MPEDA's own certificate is.
    from tests.pki import make_dsc

    cert, key = make_dsc(
        world["var"], world["tmp"] / "mallory", "AAACM4821K", "Mallory", subject_iec="agency-MPEDA"
    )
    posing = BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(minimal_pdf())),
        signers.PdfSignatureMetadata(field_name="OpenCoO"),
        signer=signers.SimpleSigner.load(str(key), str(cert)),
        output=posing,
    )
    forged = verify_file(world, posing.getvalue())
    assert forged["signature"]["trusted"] and forged["signature"]["agency_code"] is None
    assert not forged["signature_valid"] and not forged["valid"]
    garbage = verify_file(world, b"not a pdf at all")
    assert not garbage["valid"] and not garbage["signature_valid"]
    assert rows("certificate", "select count(*) from outbox where event_type = 'certificate_issued'") == [
        (1,)
    ]


def test_the_same_approval_delivered_twice_issues_one_certificate(world, officer, amqp_uri):
    certificate = issue(world, officer)
    particulars = {
        "application_id": certificate["application_id"],
        "application_number": certificate["number"],
        "officer": "kochi.officer",
        "iec": certificate["iec"],
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
    }
    event = make_event("application", "application_approved", particulars, "twice")
    with Connection(amqp_uri) as conn:
        producer = conn.Producer()
        for payload in (event, {**event, "event_id": str(uuid.uuid4())}):
            producer.publish(
                payload,
                exchange=Exchange("application.events", type="topic", durable=True),
                routing_key="application_approved",
                serializer="json",
            )
    wait_until(
        lambda: rows("certificate", "select count(*) from inbox") >= [(3,)], what="both deliveries handled"
    )
    assert rows("certificate", "select count(*) from certificate") == [(1,)]
    assert rows("certificate", "select count(*) from outbox where event_type = 'certificate_issued'") == [
        (1,)
    ]


def test_revocation_by_the_agency_shows_in_verification(world, officer, smtp_mailbox):
    certificate = issue(world, officer)
    mpeda_admin = make_staff(world["base"], smtp_mailbox, "mpeda.admin")
    eic_admin = make_staff(world["base"], smtp_mailbox, "eic.admin", agency="EIC")
    path = f"/api/v1/admin/certificates/{certificate['id']}/revoke"
    assert call(world, "POST", path, json={"reason": "x"}).status_code == 403  # the exporter
    assert call(world, "POST", path, token=eic_admin, json={"reason": "x"}).status_code == 404
    assert call(world, "POST", path, token=mpeda_admin, json={}).status_code == 400
    assert rows("certificate", "select status from certificate") == [("valid",)]

    revoked = call(
        world, "POST", path, token=mpeda_admin, json={"reason": "Goods found not to be of Indian origin."}
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = call(world, "POST", path, token=mpeda_admin, json={"reason": "again"})
    assert again.status_code == 409
    shown = requests.get(
        f"{world['base']}/api/v1/verify", timeout=10, params={"number": certificate["number"]}
    ).json()
    assert shown["status"] == "revoked" and "Indian origin" in shown["status_reason"]
    pdf = call(world, "GET", f"/api/v1/certificates/{certificate['id']}.pdf").content
    verdict = verify_file(world, pdf)
    assert verdict["signature_valid"] and verdict["matches_registry"] and not verdict["valid"]
    assert verdict["status"] == "revoked"
    assert rows("certificate", "select count(*) from outbox where event_type = 'certificate_revoked'") == [
        (1,)
    ]


def test_who_sees_certificates_and_the_draft_preview(world, officer, smtp_mailbox):
    from tests.exporters import register_other_exporter

    certificate = issue(world, officer)
    other_officer = make_staff(world["base"], smtp_mailbox, "chennai.officer", office="MPEDA-CHENNAI")
    other_exporter = register_other_exporter(world, smtp_mailbox)
    for token in (other_officer, other_exporter):
        for path in (
            f"/api/v1/certificates/{certificate['id']}",
            f"/api/v1/certificates/{certificate['id']}.pdf",
        ):
            assert call(world, "GET", path, token=token).status_code == 404, path
        assert certificates(world, token) == []
    assert [c["id"] for c in certificates(world, officer)] == [certificate["id"]]
    unknown = requests.get(f"{world['base']}/api/v1/verify", params={"number": "NOPE/1"}, timeout=10)
    assert unknown.status_code == 404
    assert requests.get(f"{world['base']}/api/v1/verify", timeout=10).status_code == 400
    assert requests.post(f"{world['base']}/api/v1/verify", timeout=10).status_code == 400
    answers = [
        requests.post(
            f"{world['base']}/api/v1/verify", timeout=10, files={"file": ("x.pdf", b"junk")}
        ).status_code
        for _ in range(20)
    ]
    assert answers[-1] == 429 and 200 in answers  # 20 a minute per address, this test's 21st

    draft = ready_draft(world)
    preview = call(world, "GET", f"/api/v1/applications/{draft}/preview.pdf")
    assert preview.status_code == 200 and preview.content.startswith(b"%PDF-")
    # a file of ours opened from the platform's origin runs nothing and is never sniffed
    assert preview.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in preview.headers["Content-Security-Policy"].split("; ")
    path = world["tmp"] / "preview.pdf"
    path.write_bytes(preview.content)
    assert "DRAFT" in subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "Signature" not in pdfsig(path) or "does not contain any signatures" in pdfsig(path)
    assert (
        call(world, "GET", f"/api/v1/applications/{draft}/preview.pdf", token=other_exporter).status_code
        == 404
    )
    empty = call(world, "POST", "/api/v1/applications", json={"kind": "preferential"}).json()
    assert call(world, "GET", f"/api/v1/applications/{empty['id']}/preview.pdf").status_code == 422


def request_copy(world, certificate, token=None, **fields):
    return call(
        world, "POST", f"/api/v1/certificates/{certificate['id']}/duplicates", token=token, data=fields
    )


def approve_and_issue(world, officer, application_id, paid=False) -> dict:
    if not paid:
        sandbox_pay(world, application_id)
    wait_until(lambda: status_of(world, application_id) == "submitted", what="submitted")
    approved = call(
        world, "POST", f"/api/v1/officer/applications/{application_id}/approve", token=officer, json={}
    )
    assert approved.status_code == 200, approved.text
    return wait_until(
        lambda: next((c for c in certificates(world) if c["application_id"] == application_id), None),
        timeout=60,
        what="the certificate",
    )


def pdf_text(world, certificate) -> str:
    path = world["tmp"] / f"{certificate['id']}.pdf"
    path.write_bytes(call(world, "GET", f"/api/v1/certificates/{certificate['id']}.pdf").content)
    assert "Signature Validation: Signature is Valid." in pdfsig(path)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout


def test_duplicate_and_in_lieu_certificates(world, officer, smtp_mailbox):
    import json

    from tests.exporters import register_other_exporter

    original = issue(world, officer)
    other = register_other_exporter(world, smtp_mailbox)
    moved = json.dumps({"issuing_office_code": "MPEDA-CHENNAI"})
    for fields, token, status in (
        ({"kind": "copy", "reason": "lost"}, None, 400),
        ({"kind": "duplicate"}, None, 400),
        ({"kind": "duplicate", "reason": "lost", "form": "{}"}, None, 200),  # empty: none
        ({"kind": "duplicate", "reason": "lost", "form": '{"x": 1}'}, None, 400),
        ({"kind": "in_lieu", "reason": "typo"}, None, 400),
        ({"kind": "in_lieu", "reason": "typo", "form": "[1]"}, None, 400),
        ({"kind": "in_lieu", "reason": "typo", "form": moved}, None, 422),
        ({"kind": "duplicate", "reason": "lost"}, other, 404),
        ({"kind": "duplicate", "reason": "lost"}, officer, 403),
    ):
        answer = request_copy(world, original, token=token, **fields)
        expected = 201 if status == 200 else status  # the first valid one creates the request
        assert answer.status_code == expected, (fields, answer.text)
    assert rows("application", "select count(*) from application where request_kind is not null") == [(1,)]

    duplicate = request_copy(world, original, kind="duplicate", reason="Original lost in transit.")
    assert duplicate.status_code == 200  # the open request, not a second one
    duplicate = duplicate.json()
    assert duplicate["status"] == "pending_payment" and duplicate["request_kind"] == "duplicate"
    assert duplicate["number"] == original["number"] + "/00000001"
    fee = call(world, "GET", f"/api/v1/applications/{duplicate['id']}/fee").json()
    assert fee["service"] == "duplicate" and fee["total"] == 39200
    sandbox_pay(world, duplicate["id"])
    wait_until(lambda: status_of(world, duplicate["id"]) == "submitted", what="submitted")
    sent_back = call(
        world,
        "POST",
        f"/api/v1/officer/applications/{duplicate['id']}/discrepancy",
        token=officer,
        json={"comment": "Attach the police report of the loss."},
    )
    assert sent_back.status_code == 200, sent_back.text
    changed = dict(duplicate["form"], exporter_comments="different particulars")
    edited = call(world, "PUT", f"/api/v1/applications/{duplicate['id']}", json=changed)
    assert edited.status_code == 422
    assert edited.json()["error"]["code"] == "DUPLICATE_UNCHANGEABLE"
    assert call(world, "GET", f"/api/v1/applications/{duplicate['id']}").json()["form"] == duplicate["form"]
    resubmitted = call(
        world,
        "POST",
        f"/api/v1/applications/{duplicate['id']}/resubmit",
        json={"signature": signature_for(world, duplicate["id"])},
    )
    assert resubmitted.status_code == 200, resubmitted.text
    copy = approve_and_issue(world, officer, duplicate["id"], paid=True)
    assert copy["kind"] == "duplicate" and copy["original_number"] == original["number"]
    assert "DUPLICATE" in pdf_text(world, copy)
    assert (
        requests.get(f"{world['base']}/api/v1/verify", params={"number": copy["number"]}, timeout=10).json()[
            "status"
        ]
        == "valid"
    )

    from_copy = request_copy(world, copy, kind="duplicate", reason="copy of the copy")
    assert from_copy.status_code == 409
    assert from_copy.json()["error"]["code"] == "CERTIFICATE_NOT_ORIGINAL"

    corrected = {
        "importer": {
            "name": "Saigon Seafood Trading JSC",
            "country": "VN",
            "address": "14 Nguyen Hue, District 1, Ho Chi Minh City",
        }
    }
    in_lieu = request_copy(
        world, original, kind="in_lieu", reason="Importer address wrong.", form=json.dumps(corrected)
    )
    assert in_lieu.status_code == 201, in_lieu.text
    # Unpaid, it takes the corrections asked for last: a mistake is mended without paying twice.
    breaking = request_copy(
        world,
        original,
        kind="in_lieu",
        reason="Another error.",
        form=json.dumps({**corrected, "importer": {**corrected["importer"], "country": "IN"}}),
    )
    assert breaking.status_code == 422 and breaking.json()["error"]["code"] == "APPLICATION_INVALID"
    in_lieu_id = in_lieu.json()["id"]
    assert call(world, "GET", f"/api/v1/applications/{in_lieu_id}").json()["form"] == in_lieu.json()["form"]
    corrected["exporter_comments"] = "Importer's address as on the bill of lading."
    mended = request_copy(
        world, original, kind="in_lieu", reason="And the comment.", form=json.dumps(corrected)
    )
    assert mended.status_code == 200 and mended.json()["id"] == in_lieu_id, mended.text
    assert mended.json()["form"]["exporter_comments"] == corrected["exporter_comments"]
    assert rows("application", "select count(*) from application where request_kind = 'in_lieu'") == [(1,)]
    assert [
        (h["from"], h["to"])
        for h in call(world, "GET", f"/api/v1/applications/{in_lieu_id}/history").json()["items"]
    ][-1] == ("pending_payment", "pending_payment")
    assert in_lieu.json()["number"] == original["number"] + "/00000002"
    late = request_copy(world, original, kind="duplicate", reason="A second copy for the bank.")
    assert late.status_code == 201, late.text
    late = late.json()["id"]
    sandbox_pay(world, late)
    wait_until(lambda: status_of(world, late) == "submitted", what="submitted")
    replacement = approve_and_issue(world, officer, in_lieu.json()["id"])
    # The duplicate paid before the in-lieu was issued can no longer be issued: the officer is
    # told so, and rejects it.
    stale = call(world, "POST", f"/api/v1/officer/applications/{late}/approve", token=officer, json={})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "ORIGINAL_NOT_VALID"
    assert "superseded" in stale.json()["error"]["message"]
    assert status_of(world, late) == "submitted"
    rejected = call(
        world,
        "POST",
        f"/api/v1/officer/applications/{late}/reject",
        token=officer,
        json={"reason": f"Replaced by {replacement['number']}: ask from that one."},
    )
    assert rejected.status_code == 200 and status_of(world, late) == "rejected"
    text = pdf_text(world, replacement)
    assert f"IN LIEU OF {original['number']}" in text and "14 Nguyen Hue" in text
    superseded = requests.get(
        f"{world['base']}/api/v1/verify", timeout=10, params={"number": original["number"]}
    ).json()
    assert superseded["status"] == "superseded"
    assert superseded["superseded_by"] == replacement["number"]
    copy_now = requests.get(
        f"{world['base']}/api/v1/verify", timeout=10, params={"number": copy["number"]}
    ).json()
    assert copy_now["status"] == "superseded"  # the duplicate showed the wrong particulars too
    assert request_copy(world, original, kind="duplicate", reason="again").status_code == 409
