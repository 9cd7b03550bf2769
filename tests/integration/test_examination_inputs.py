"""Bad inputs to examination, duplicates and revocation over HTTP against the real platform: each is
refused with a clear 4xx (code and field where the API gives them) and changes nothing (statuses,
histories, rows); the good inputs beside them do what they say. The officer queue's filters and
its Excel export (one office's applications only), an officer of another office reaching nothing,
duplicate and in-lieu requests with their supporting documents and fees, and revocation with the
verification page a customs officer opens."""

import base64
import hashlib
import io
import json
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import requests

from tests.conftest import ADMIN_PASSWORD, login
from tests.exporters import DIRECTOR, IEC
from tests.integration.test_applications import call, minimal_pdf, ready_draft, world  # noqa: F401
from tests.integration.test_certificates import issue, officer  # noqa: F401
from tests.integration.test_examination import CHENNAI, IKCEPA, QUEUE, history, paid, queue
from tests.integration.test_payments import pending_application, rows, status_of
from tests.pki import make_ca, make_dsc, openssl_sign
from tests.staff import make_staff

EXPORT = f"{QUEUE}/export.xlsx"


def count(service, sql, **params) -> int:
    return rows(service, sql, **params)[0][0]


def application_state(world, ids) -> dict:
    """What must stay as it is: each application's status and history, and the rows behind."""
    return {
        "applications": {i: (status_of(world, i), history(world, i)) for i in ids},
        "application_rows": count("application", "select count(*) from application"),
        "status_changes": count("application", "select count(*) from status_change"),
        "documents": count("application", "select count(*) from document"),
        "outbox": count("application", "select count(*) from outbox"),
    }


def refused(answer, status, code=None, field=None):
    assert answer.status_code == status, (answer.status_code, answer.text)
    error = answer.json()["error"]
    if code:
        assert error["code"] == code, error
    if field:
        assert field in error.get("fields", {}), error
    return error


def sheet_rows(answer) -> list[tuple]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    rows_ = list(openpyxl.load_workbook(io.BytesIO(answer.content)).active.iter_rows(values_only=True))
    assert rows_[0][0] == "Application number" and rows_[0][5] == "Issuing office"
    return rows_[1:]


# --- the officer queue and its export -------------------------------------------------------------


def test_the_officer_queue_and_export_refuse_bad_queries_and_filter_good_ones(world, smtp_mailbox):
    kochi = make_staff(world["base"], smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI")
    chennai = make_staff(world["base"], smtp_mailbox, "chennai.officer", office="MPEDA-CHENNAI")
    aifta = paid(world)  # Kochi, AIFTA (013), paid first
    ikcepa = paid(world, **IKCEPA)  # Kochi, IKCEPA (002), paid second
    elsewhere = paid(world, **CHENNAI)  # the same exporter, issued by MPEDA Chennai
    unpaid = pending_application(world)  # Kochi, awaiting payment
    draft = ready_draft(world)  # Kochi, a draft: no officer sees it
    numbers = {
        i: call(world, "GET", f"/api/v1/applications/{i}").json()["number"]
        for i in (aifta, ikcepa, elsewhere, unpaid)
    }
    before = application_state(world, [aifta, ikcepa, elsewhere, unpaid, draft])

    # Bad query values: 400 naming the field, on the queue and on its export alike.
    for params, field in (
        ({"status": "bogus"}, "status"),
        ({"status": ""}, "status"),
        ({"page": "0"}, "page"),
        ({"page": "first"}, "page"),
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "201"}, "per_page"),
        ({"per_page": "500"}, "per_page"),
        ({"date_from": "x"}, "date_from"),
        ({"date_to": "2026-13-01"}, "date_to"),
        ({"post_audit": "maybe"}, "post_audit"),
        ({"sort": "bogus"}, "sort"),
        ({"agreement": "0130"}, "agreement"),
        ({"number": "N" * 65}, "number"),
    ):
        for path in (QUEUE, EXPORT):
            answer = call(world, "GET", path, token=kochi, params=params)
            refused(answer, 400, "VALIDATION_ERROR", field)
            assert answer.headers["Content-Type"].startswith("application/json"), path

    # Good filters filter: the queue is submitted applications, first paid first.
    assert queue(world, kochi) == [aifta, ikcepa]
    assert queue(world, chennai) == [elsewhere]
    assert queue(world, kochi, agreement="002") == [ikcepa]
    assert queue(world, kochi, agreement="013") == [aifta]
    assert queue(world, kochi, agreement="044") == []
    assert queue(world, kochi, number=numbers[aifta].lower()) == [aifta]  # in any case
    assert queue(world, kochi, number="/002/") == [ikcepa]
    assert queue(world, kochi, number="%") == []  # a LIKE wildcard is a plain character
    assert queue(world, kochi, number=numbers[elsewhere]) == []  # another office's
    today = datetime.now(ZoneInfo("Asia/Kolkata")).date()  # days are India's
    day = today.isoformat()
    tomorrow, yesterday = (today + timedelta(days=1)).isoformat(), (today - timedelta(days=1)).isoformat()
    assert queue(world, kochi, date_from=day, date_to=day) == [aifta, ikcepa]
    assert queue(world, kochi, date_from=yesterday) == [aifta, ikcepa]
    assert queue(world, kochi, date_from=tomorrow) == []
    assert queue(world, kochi, date_to=yesterday) == []
    assert queue(world, kochi, date_from=tomorrow, date_to=yesterday) == []
    assert queue(world, kochi, status="pending_payment") == [unpaid]
    assert queue(world, kochi, status="draft") == []
    assert queue(world, kochi, post_audit="false") == [aifta, ikcepa]
    assert queue(world, kochi, post_audit="true") == []
    second_page = call(world, "GET", QUEUE, token=kochi, params={"page": 2, "per_page": 1}).json()
    assert ([a["id"] for a in second_page["items"]], second_page["total"]) == ([ikcepa], 2)
    assert queue(world, kochi, per_page=200, page=3) == []

    # The export: exactly the officer's own office's applications, filtered like the queue.
    exported = sheet_rows(call(world, "GET", EXPORT, token=kochi))
    assert [r[0] for r in exported] == [numbers[aifta], numbers[ikcepa]]
    assert {r[5] for r in exported} == {"MPEDA-KOCHI"} and {r[1] for r in exported} == {"submitted"}
    assert [
        r[0] for r in sheet_rows(call(world, "GET", EXPORT, token=kochi, params={"agreement": "002"}))
    ] == [numbers[ikcepa]]
    assert [
        r[0]
        for r in sheet_rows(call(world, "GET", EXPORT, token=kochi, params={"status": "pending_payment"}))
    ] == [numbers[unpaid]]
    assert sheet_rows(call(world, "GET", EXPORT, token=kochi, params={"date_from": tomorrow})) == []
    assert [r[0] for r in sheet_rows(call(world, "GET", EXPORT, token=chennai))] == [numbers[elsewhere]]
    # The applications export open to officers shows their office's too, never a draft.
    listed = sheet_rows(call(world, "GET", "/api/v1/applications/export.xlsx", token=kochi))
    assert sorted(r[0] for r in listed) == sorted(numbers[i] for i in (aifta, ikcepa, unpaid))
    assert {r[5] for r in listed} == {"MPEDA-KOCHI"}
    # Exporters are not officers: the queue's export is not theirs.
    assert call(world, "GET", EXPORT).status_code == 403

    assert application_state(world, [aifta, ikcepa, elsewhere, unpaid, draft]) == before


# --- an officer of another office -----------------------------------------------------------------


def test_an_officer_of_another_office_reaches_nothing_and_changes_nothing(world, smtp_mailbox):
    kochi = make_staff(world["base"], smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI")
    chennai = make_staff(world["base"], smtp_mailbox, "chennai.officer", office="MPEDA-CHENNAI")
    eic = make_staff(world["base"], smtp_mailbox, "eic.officer", office="EIC-MUMBAI", agency="EIC")
    application_id = paid(world)  # MPEDA-KOCHI's, awaiting examination
    path = f"/api/v1/applications/{application_id}"
    [document] = call(world, "GET", path).json()["documents"]
    before = application_state(world, [application_id])

    for token in (chennai, eic):
        for method, url, body in (
            ("GET", path, None),
            ("GET", f"{path}/history", None),
            ("GET", f"{path}/origin-check", None),
            ("GET", f"{path}/documents/{document['id']}", None),
            (
                "POST",
                f"{QUEUE}/{application_id}/discrepancy",
                {"comment": "The invoice date differs from the invoice."},
            ),
            ("POST", f"{QUEUE}/{application_id}/reject", {"reason": "Origin not shown."}),
            ("POST", f"{QUEUE}/{application_id}/approve", {"remarks": "Fine."}),
        ):
            answer = call(world, method, url, token=token, json=body)
            assert answer.status_code == 404, (method, url, answer.status_code, answer.text)
            assert answer.json()["error"]["code"] in ("APPLICATION_NOT_FOUND", "DOCUMENT_NOT_FOUND"), (
                answer.text
            )
            assert document["sha256"] not in answer.text
        assert queue(world, token) == []
        assert sheet_rows(call(world, "GET", EXPORT, token=token)) == []

    assert application_state(world, [application_id]) == before
    view = call(world, "GET", path).json()
    assert (view["status"], view["decided_by"], view["remarks"]) == ("submitted", None, None)
    assert (
        count(
            "application",
            "select count(*) from outbox where event_type in "
            "('discrepancy_raised', 'application_rejected', 'application_approved')",
        )
        == 0
    )
    # The application's own office still finds all of it.
    assert queue(world, kochi) == [application_id]
    assert history(world, application_id, token=kochi) == before["applications"][application_id][1]
    pdf = call(world, "GET", f"{path}/documents/{document['id']}", token=kochi)
    assert pdf.status_code == 200 and pdf.headers["X-Content-SHA256"] == document["sha256"]


# --- duplicates and certificates in lieu ----------------------------------------------------------


def test_duplicate_and_in_lieu_requests_check_their_documents_and_corrections(world, officer):
    original = issue(world, officer)
    path = f"/api/v1/certificates/{original['id']}/duplicates"
    cert, key = world["dsc"]

    def sign(content, dsc=(cert, key)):
        return base64.b64encode(openssl_sign(content, *dsc, world["tmp"])).decode()

    def ask(fields, content=None, signature=None, name="supporting.pdf", signature_file=None):
        files = {"file": (name, content, "application/pdf")} if content is not None else {}
        if signature_file is not None:
            files["signature"] = ("supporting.p7s", signature_file, "application/pkcs7-signature")
        data = dict(fields, **({"signature": signature} if signature else {}))
        return call(world, "POST", path, data=data, files=files or None)

    def requests_made():
        return count("application", "select count(*) from application where request_kind is not null")

    before = application_state(world, [original["application_id"]])
    duplicate = {"kind": "duplicate", "reason": "Original lost in transit."}

    # Supporting documents that are not a signed PDF of 2 MB or less: refused, nothing made.
    report = minimal_pdf("Police report of the loss, Kochi Harbour station")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    too_big = b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024 + 1 - 9)
    other_iec = make_dsc(world["var"], world["tmp"] / "other", "AABCS7319Q", "Lakshmi Sundaram")
    stranger = make_dsc(
        world["var"], world["tmp"] / "stranger", IEC, DIRECTOR, ca=make_ca(world["tmp"], "Stranger CA")
    )
    for answer, status, code, field in (
        (ask(duplicate, png, sign(png), name="scan.pdf"), 422, "DOCUMENT_NOT_PDF", "file"),
        (ask(duplicate, too_big, sign(too_big)), 413, "DOCUMENT_TOO_LARGE", "file"),
        (ask(duplicate, report), 422, "DOCUMENT_UNSIGNED", "signature"),
        (ask(duplicate, report, sign(report, other_iec)), 422, "DSC_IEC_MISMATCH", None),
        (ask(duplicate, report, sign(report, stranger)), 422, "DSC_UNTRUSTED", None),
        (ask(duplicate, report, sign(minimal_pdf("another report"))), 422, "DSC_SIGNATURE_INVALID", None),
    ):
        refused(answer, status, code, field)
        assert requests_made() == 0
    assert application_state(world, [original["application_id"]]) == before

    # A properly signed PDF: the request is made and lists it beside the original's invoice.
    made = ask(duplicate, report, sign(report), name="police-report.pdf")
    assert made.status_code == 201, made.text
    request = made.json()
    assert (request["status"], request["request_kind"]) == ("pending_payment", "duplicate")
    assert request["number"] == original["number"] + "/00000001"
    listed = call(world, "GET", f"/api/v1/applications/{request['id']}").json()["documents"]
    assert sorted(d["kind"] for d in listed) == ["invoice", "other"]
    [supporting] = [d for d in listed if d["kind"] == "other"]
    assert supporting["filename"] == "police-report.pdf"
    assert supporting["sha256"] == hashlib.sha256(report).hexdigest()
    assert supporting["size"] == len(report) and supporting["pages"] == 1
    assert DIRECTOR in supporting["signer"]
    stored = call(world, "GET", f"/api/v1/applications/{request['id']}/documents/{supporting['id']}")
    assert stored.status_code == 200 and stored.content == report
    fee = call(world, "GET", f"/api/v1/applications/{request['id']}/fee").json()
    assert (fee["service"], fee["total"]) == ("duplicate", 39200)
    assert requests_made() == 1

    # An in-lieu whose corrected form breaks a rule: 422 naming the field, no request row left,
    # not even of the signed document sent with it.
    counts = application_state(world, [original["application_id"], request["id"]])
    wrong = json.dumps(
        {"importer": {"name": "Acme Seafood Inc.", "country": "US", "address": "Fulton Market, New York"}}
    )
    in_lieu = {"kind": "in_lieu", "reason": "Importer address wrong."}
    breaking = ask(dict(in_lieu, form=wrong), report, sign(report), name="letter.pdf")
    error = refused(breaking, 422, "APPLICATION_INVALID", "importer.country")
    assert "not a partner" in " ".join(error["fields"]["importer.country"])
    assert count("application", "select count(*) from application where request_kind = 'in_lieu'") == 0
    assert application_state(world, [original["application_id"], request["id"]]) == counts
    assert requests_made() == 1

    # The correct in-lieu, its signature sent as a DER file part: made and billed as in lieu.
    corrected = json.dumps(
        {
            "importer": {
                "name": "Saigon Seafood Trading JSC",
                "country": "VN",
                "address": "14 Nguyen Hue, District 1, Ho Chi Minh City",
            }
        }
    )
    letter = minimal_pdf("Importer's letter on the address")
    replacement = ask(
        dict(in_lieu, form=corrected),
        letter,
        name="letter.pdf",
        signature_file=openssl_sign(letter, cert, key, world["tmp"]),
    )
    assert replacement.status_code == 201, replacement.text
    replacement = replacement.json()
    assert replacement["request_kind"] == "in_lieu"
    assert replacement["number"] == original["number"] + "/00000002"
    assert replacement["form"]["importer"]["address"].startswith("14 Nguyen Hue")
    assert any(
        d["filename"] == "letter.pdf" and d["sha256"] == hashlib.sha256(letter).hexdigest()
        for d in replacement["documents"]
    )
    fee = call(world, "GET", f"/api/v1/applications/{replacement['id']}/fee")
    assert fee.status_code == 200, fee.text
    assert (fee.json()["service"], fee.json()["total"]) == ("in_lieu", 39200)
    assert requests_made() == 2
    # Asked again before paying, with other corrections and another signed letter: the open
    # request takes both; the first letter given once more is kept once.
    amended = json.dumps({**json.loads(corrected), "exporter_comments": "As on the B/L."})
    second_letter = minimal_pdf("The importer's second letter")
    again = ask(dict(in_lieu, form=amended), second_letter, sign(second_letter), name="letter2.pdf")
    assert again.status_code == 200 and again.json()["id"] == replacement["id"], again.text
    assert again.json()["form"]["exporter_comments"] == "As on the B/L."
    repeated = ask(dict(in_lieu, form=amended), letter, sign(letter), name="letter.pdf")
    assert repeated.status_code == 200, repeated.text
    assert sorted(
        d["filename"] for d in repeated.json()["documents"] if d["filename"].startswith("letter")
    ) == ["letter.pdf", "letter2.pdf"]
    # A signed copy of the original's own invoice is a supporting document of its own.
    [copied] = [d for d in repeated.json()["documents"] if d["kind"] == "invoice"]
    invoice = call(world, "GET", f"/api/v1/applications/{replacement['id']}/documents/{copied['id']}").content
    with_invoice = ask(dict(in_lieu, form=amended), invoice, sign(invoice), name="invoice-copy.pdf")
    assert with_invoice.status_code == 200, with_invoice.text
    same_file = [
        d for d in with_invoice.json()["documents"] if d["sha256"] == hashlib.sha256(invoice).hexdigest()
    ]
    assert sorted(d["kind"] for d in same_file) == ["invoice", "other"], same_file
    assert requests_made() == 2
    # The original itself is untouched by all of it.
    assert status_of(world, original["application_id"]) == "issued"
    assert call(world, "GET", f"/api/v1/certificates/{original['id']}").json()["status"] == "valid"


# --- revocation and the verification page ---------------------------------------------------------


def test_revocation_refusals_and_the_verification_page(world, officer, smtp_mailbox):
    certificate = issue(world, officer)
    mpeda_admin = make_staff(world["base"], smtp_mailbox, "mpeda.admin")
    admin = login(world["base"], "admin", ADMIN_PASSWORD)
    path = f"/api/v1/admin/certificates/{certificate['id']}/revoke"
    html = {"Accept": "text/html,application/xhtml+xml"}

    def unchanged():
        assert rows("certificate", "select status, revoked_at, revoked_by from certificate") == [
            ("valid", None, None)
        ]
        assert (
            count("certificate", "select count(*) from outbox where event_type = 'certificate_revoked'") == 0
        )
        shown = requests.get(
            f"{world['base']}/api/v1/verify", timeout=10, params={"number": certificate["number"]}
        ).json()
        assert (shown["status"], shown["status_reason"]) == ("valid", None)

    for token in (mpeda_admin, admin):
        refused(call(world, "POST", path, token=token, json={"reason": "x" * 2001}), 400, field="reason")
        refused(call(world, "POST", path, token=token, json={"reason": "   "}), 400, field="reason")
        refused(call(world, "POST", path, token=token, json={"reason": 7}), 400, field="reason")
        unknown = f"/api/v1/admin/certificates/{uuid.uuid4()}/revoke"
        refused(
            call(world, "POST", unknown, token=token, json={"reason": "Not of origin."}),
            404,
            "CERTIFICATE_NOT_FOUND",
        )
        unchanged()
    assert call(world, "POST", path, token=officer, json={"reason": "Not of origin."}).status_code == 403
    assert call(world, "POST", path, json={"reason": "Not of origin."}).status_code == 403
    unchanged()

    page = requests.get(
        f"{world['base']}/api/v1/verify", timeout=10, headers=html, params={"number": certificate["number"]}
    )
    assert page.status_code == 200 and "<td>VALID</td>" in page.text

    reason = "<b>Goods</b> found not to be of Indian origin."
    revoked = call(world, "POST", path, token=mpeda_admin, json={"reason": reason})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
    page = requests.get(
        f"{world['base']}/api/v1/verify", timeout=10, headers=html, params={"number": certificate["number"]}
    )
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "REVOKED — not valid" in page.text and "<td>VALID</td>" not in page.text
    assert "&lt;b&gt;Goods&lt;/b&gt; found not to be of Indian origin." in page.text
    assert "<b>Goods</b>" not in page.text  # the reason is text, never markup
    assert certificate["number"] in page.text

    for number, status, words in (
        ("MPEDA/2026/013/9999999A", 404, "no certificate has this number"),
        ("<i>NOPE</i>", 404, "&lt;i&gt;NOPE&lt;/i&gt;"),
        ("", 400, "give the certificate number"),
    ):
        answer = requests.get(
            f"{world['base']}/api/v1/verify", timeout=10, headers=html, params={"number": number}
        )
        assert answer.status_code == status, (number, answer.text)
        assert answer.headers["Content-Type"].startswith("text/html"), answer.headers
        assert words in answer.text and "<i>NOPE</i>" not in answer.text
        assert "<table>" not in answer.text


def test_a_page_number_too_large_for_the_database_is_a_400(world, smtp_mailbox):
    kochi = make_staff(world["base"], smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI")
    application_id = paid(world)
    before = application_state(world, [application_id])
    for path, token in ((QUEUE, kochi), ("/api/v1/applications", None), ("/api/v1/certificates", None)):
        answer = call(world, "GET", path, token=token, params={"page": str(10**19)})
        refused(answer, 400, "VALIDATION_ERROR", "page")
    last = call(world, "GET", QUEUE, token=kochi, params={"page": "1000000"})
    assert last.status_code == 200 and last.json()["items"] == []
    assert application_state(world, [application_id]) == before
    assert queue(world, kochi) == [application_id]
