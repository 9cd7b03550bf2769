"""CoO applications over HTTP against real services: drafts, documents signed with the DSC,
submission with the DSC over the canonical payload, numbers under concurrency, lists, Excel export,
and that no other exporter reaches any of it."""

import base64
import io
import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import eventlet
import openpyxl
import pytest
import requests

from services.chassis.timestamps import today_in_india
from tests.application_fixtures import valid_application
from tests.conftest import ADMIN_PASSWORD, SHARED_DATA, login
from tests.exporters import IEC
from tests.pki import make_dsc, openssl_sign

HS2022 = os.path.join(SHARED_DATA, "hs2022.csv")
USD_RATE = "83.2500"


def minimal_pdf(text="Commercial invoice MSF/2026/118") -> bytes:
    """A real one-page PDF, written by pyHanko's writer."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    stream = generic.StreamObject(stream_data=f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode())
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(n) for n in (0, 0, 595, 842)]
            ),
            generic.NameObject("/Contents"): writer.add_object(stream),
        }
    )
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def application_body(**overrides):
    """The complete AIFTA shrimp application of tests/application_fixtures.py, dated today; its
    second raw material (shrimp feed from Norway, CIF 600,000 INR) makes the RVC 40%."""
    body = valid_application(today_in_india())
    body.update(overrides)
    return body


@pytest.fixture
def world(platform, smtp_mailbox, tmp_path, platform_env):
    """The platform, the HS nomenclature and a USD rate loaded by the admin, and a registered
    exporter with its DSC."""
    from tests.exporters import registered_exporter

    base = platform()  # every service
    admin = login(base, "admin", ADMIN_PASSWORD)
    auth = {"Authorization": f"Bearer {admin}"}
    with open(HS2022, "rb") as f:
        assert (
            requests.post(
                f"{base}/api/v1/admin/reference/hs",
                headers=auth,
                timeout=60,
                files={"file": ("hs2022.csv", f, "text/csv")},
            ).status_code
            == 200
        )
    rate = requests.post(
        f"{base}/api/v1/admin/exchange-rates",
        headers=auth,
        timeout=10,
        json={
            "currency": "USD",
            "valid_from": (date.today() - timedelta(days=90)).isoformat(),
            "rate": USD_RATE,
        },
    )
    assert rate.status_code == 201, rate.text
    token, dsc = registered_exporter(base, smtp_mailbox, tmp_path, platform_env)
    return {"base": base, "token": token, "dsc": dsc, "tmp": tmp_path, "var": platform_env}


def call(world, method, path, token=None, **kwargs):
    headers = {"Authorization": f"Bearer {token or world['token']}"}
    return requests.request(method, world["base"] + path, headers=headers, timeout=30, **kwargs)


def upload(world, application_id, content, *, kind="invoice", sign=True, dsc=None, name="invoice.pdf"):
    cert, key = dsc or world["dsc"]
    data = {"kind": kind}
    if sign:
        data["signature"] = base64.b64encode(openssl_sign(content, cert, key, world["tmp"])).decode()
    return call(
        world,
        "POST",
        f"/api/v1/applications/{application_id}/documents",
        files={"file": (name, content, "application/pdf")},
        data=data,
    )


def signature_for(world, application_id, dsc=None, payload=None) -> str:
    cert, key = dsc or world["dsc"]
    signed = call(world, "GET", f"/api/v1/applications/{application_id}/signing-payload").json()
    data = payload if payload is not None else base64.b64decode(signed["payload"])
    return base64.b64encode(openssl_sign(data, cert, key, world["tmp"])).decode()


def post_submit(world, application_id, signature):
    return call(world, "POST", f"/api/v1/applications/{application_id}/submit", json={"signature": signature})


def submit(world, application_id, dsc=None, payload=None):
    return post_submit(world, application_id, signature_for(world, application_id, dsc=dsc, payload=payload))


def ready_draft(world, **overrides):
    draft = call(world, "POST", "/api/v1/applications", json=application_body(**overrides))
    assert draft.status_code == 201, draft.text
    application_id = draft.json()["id"]
    uploaded = upload(world, application_id, minimal_pdf())
    assert uploaded.status_code == 201, uploaded.text
    return application_id


def test_draft_to_submission_with_number_history_and_evidence(world):
    application_id = ready_draft(world)
    check = call(world, "GET", f"/api/v1/applications/{application_id}/origin-check").json()
    assert check["products"][0]["rvc_percent"] in ("40.00", "40.0", 40.0, "40")
    signature = signature_for(world, application_id)
    submitted = post_submit(world, application_id, signature)
    assert submitted.status_code == 200, submitted.text
    body = submitted.json()
    assert body["status"] == "pending_payment"
    year = datetime.now(ZoneInfo("Asia/Kolkata")).year  # numbers use India's year
    assert body["number"] == f"MPEDA/{year}/013/0000001A"
    history = call(world, "GET", f"/api/v1/applications/{application_id}/history").json()["items"]
    assert [(h["from"], h["to"]) for h in history] == [(None, "draft"), ("draft", "pending_payment")]
    assert all(h["actor"] == IEC for h in history)
    # no more edits once submitted
    edit = call(world, "PUT", f"/api/v1/applications/{application_id}", json=application_body())
    assert edit.status_code == 409 and edit.json()["error"]["code"] == "APPLICATION_NOT_EDITABLE"
    # the same submission again (a retried request) answers as the first did; nothing new
    again = post_submit(world, application_id, signature)
    assert again.status_code == 200 and again.json()["number"] == body["number"]
    other = base64.b64encode(openssl_sign(b"other", *world["dsc"], world["tmp"])).decode()
    assert post_submit(world, application_id, other).status_code == 409
    listed = call(world, "GET", "/api/v1/applications", params={"status": "pending_payment"})
    assert [a["id"] for a in listed.json()["items"]] == [application_id]


def test_the_aifta_rvc_threshold(world):
    failing = application_body()
    failing["products"][0]["raw_materials"][1].update(
        {"unit_cif_value": "116.67", "quantity": "6000", "total_cif_value": "700020.00"}
    )
    application_id = ready_draft(world, products=failing["products"])
    check = call(world, "GET", f"/api/v1/applications/{application_id}/origin-check").json()
    assert check["products"][0]["meets"] is False
    refused = submit(world, application_id)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "APPLICATION_INVALID"
    message = " ".join(error["fields"]["products[0].preference_criterion"])
    assert "30.00%" in message and "35" in message
    assert call(world, "GET", f"/api/v1/applications/{application_id}").json()["status"] == "draft"


def test_a_tampered_payload_or_another_iecs_dsc_is_refused(world):
    application_id = ready_draft(world)
    signed = call(world, "GET", f"/api/v1/applications/{application_id}/signing-payload").json()
    tampered = bytearray(base64.b64decode(signed["payload"]))
    tampered[10] ^= 1
    refused = submit(world, application_id, payload=bytes(tampered))
    assert refused.json()["error"]["code"] == "DSC_SIGNATURE_INVALID"
    other = make_dsc(world["var"], world["tmp"] / "other", "AABCS7319Q", "Lakshmi Sundaram")
    refused = submit(world, application_id, dsc=other)
    assert refused.json()["error"]["code"] == "DSC_IEC_MISMATCH"
    after = call(world, "GET", f"/api/v1/applications/{application_id}").json()
    assert after["status"] == "draft" and after["number"] is None


def test_document_refusals(world):
    draft = call(world, "POST", "/api/v1/applications", json={"kind": "preferential"}).json()
    path = draft["id"]
    too_big = b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024 + 1 - 9)
    assert upload(world, path, too_big).status_code == 413
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    refused = upload(world, path, png, name="scan.pdf")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "DOCUMENT_NOT_PDF"
    unsigned = upload(world, path, minimal_pdf(), sign=False)
    assert unsigned.status_code == 422
    assert unsigned.json()["error"]["code"] == "DOCUMENT_UNSIGNED"
    wrong_kind = upload(world, path, minimal_pdf(), kind="selfie")
    assert wrong_kind.status_code == 422
    assert wrong_kind.json()["error"]["code"] == "DOCUMENT_KIND_INVALID"
    # a valid PDF with the signature of another valid PDF
    cert, key = world["dsc"]
    other_signature = openssl_sign(minimal_pdf("another invoice"), cert, key, world["tmp"])
    mismatch = call(
        world,
        "POST",
        f"/api/v1/applications/{path}/documents",
        files={"file": ("x.pdf", minimal_pdf(), "application/pdf")},
        data={"kind": "invoice", "signature": base64.b64encode(other_signature).decode()},
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["code"] == "DSC_SIGNATURE_INVALID"
    assert call(world, "GET", f"/api/v1/applications/{path}").json()["documents"] == []


def test_fifty_concurrent_submissions_get_fifty_consecutive_numbers(world):
    ids = [ready_draft(world) for _ in range(50)]
    pool = eventlet.GreenPool(50)
    results = list(pool.imap(lambda i: submit(world, i), ids))
    assert [r.status_code for r in results] == [200] * 50, [r.text for r in results if r.status_code != 200][
        :3
    ]
    numbers = sorted(r.json()["number"] for r in results)
    year = datetime.now(ZoneInfo("Asia/Kolkata")).year  # numbers use India's year
    assert numbers == [f"MPEDA/{year}/013/{n:07d}A" for n in range(1, 51)]


def test_lists_filters_and_excel_export(world):
    first = call(world, "POST", "/api/v1/applications", json=application_body()).json()
    call(world, "POST", "/api/v1/applications", json={"kind": "non_preferential", "agency_code": "EIC"})
    drafts = call(world, "GET", "/api/v1/applications", params={"agency": "MPEDA"}).json()
    assert [a["id"] for a in drafts["items"]] == [first["id"]] and drafts["total"] == 1
    bad = call(world, "GET", "/api/v1/applications", params={"status": "lost"})
    assert bad.status_code == 400
    export = call(world, "GET", "/api/v1/applications/export.xlsx", params={"agency": "MPEDA"})
    assert export.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(export.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Application number" and len(rows) == 2


def test_another_exporter_reaches_nothing(world, smtp_mailbox):
    application_id = ready_draft(world)
    document_id = call(world, "GET", f"/api/v1/applications/{application_id}").json()["documents"][0]["id"]
    # a second exporter, Sundaram Textiles, registered like the first
    from tests.exporters import register_other_exporter

    other = register_other_exporter(world, smtp_mailbox)
    for method, path, *body in [
        ("GET", f"/api/v1/applications/{application_id}"),
        ("PUT", f"/api/v1/applications/{application_id}"),
        ("DELETE", f"/api/v1/applications/{application_id}"),
        ("POST", f"/api/v1/applications/{application_id}/clone"),
        ("GET", f"/api/v1/applications/{application_id}/history"),
        ("GET", f"/api/v1/applications/{application_id}/signing-payload"),
        ("GET", f"/api/v1/applications/{application_id}/origin-check"),
        ("POST", f"/api/v1/applications/{application_id}/submit", {"signature": "AAAA"}),
        ("GET", f"/api/v1/applications/{application_id}/documents/{document_id}"),
    ]:
        response = call(world, method, path, token=other, json=body[0] if body else application_body())
        assert response.status_code == 404, (method, path, response.status_code)
    sneaky_upload = call(
        world,
        "POST",
        f"/api/v1/applications/{application_id}/documents",
        token=other,
        files={"file": ("x.pdf", minimal_pdf(), "application/pdf")},
        data={"kind": "invoice", "signature": "AAAA"},
    )
    assert sneaky_upload.status_code == 404
    assert call(world, "GET", "/api/v1/applications", token=other).json()["total"] == 0
    export = call(world, "GET", "/api/v1/applications/export.xlsx", token=other)
    assert len(list(openpyxl.load_workbook(io.BytesIO(export.content)).active.rows)) == 1
    assert call(world, "GET", f"/api/v1/applications/{application_id}").status_code == 200


def test_officers_of_the_issuing_office_read_submitted_applications_and_documents(world, smtp_mailbox):
    import re

    from tests.conftest import mail_text

    application_id = ready_draft(world)
    admin = login(world["base"], "admin", ADMIN_PASSWORD)
    officers = {}
    for username, office, email in (
        ("kochi.officer", "MPEDA-KOCHI", "kochi@mpeda.gov.in"),
        ("chennai.officer", "MPEDA-CHENNAI", "chennai@mpeda.gov.in"),
    ):
        made = call(
            world,
            "POST",
            "/api/v1/admin/officers",
            token=admin,
            json={
                "username": username,
                "name": username,
                "email": email,
                "mobile": "+919847000123",
                "agency_code": "MPEDA",
                "issuing_office_code": office,
            },
        )
        assert made.status_code == 201, made.text
        mail = smtp_mailbox.wait_for(lambda m, e=email: e in m["To"].lower())[0]
        password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
        officers[office] = login(world["base"], username, password)

    path = f"/api/v1/applications/{application_id}"
    assert call(world, "GET", path, token=officers["MPEDA-KOCHI"]).status_code == 404  # a draft
    assert submit(world, application_id).status_code == 200
    seen = call(world, "GET", path, token=officers["MPEDA-KOCHI"])
    assert seen.status_code == 200 and seen.json()["status"] == "pending_payment"
    document = seen.json()["documents"][0]
    pdf = call(world, "GET", f"{path}/documents/{document['id']}", token=officers["MPEDA-KOCHI"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["X-Content-SHA256"] == document["sha256"]
    assert call(world, "GET", path, token=officers["MPEDA-CHENNAI"]).status_code == 404
    assert call(world, "PUT", path, token=officers["MPEDA-KOCHI"], json=application_body()).status_code == 403


def _product(**changes):
    product = application_body()["products"][0]
    product.update(changes)
    return [product]


def _material(**changes):
    product = application_body()["products"][0]
    product["raw_materials"][1].update(changes)
    return [product]


# the platform's calendar is India's: near midnight there, the machine's date is a day behind
TOMORROW = (today_in_india() + timedelta(days=1)).isoformat()
LAST_WEEK = (today_in_india() - timedelta(days=7)).isoformat()


@pytest.mark.parametrize(
    "overrides, path, fragment",
    [
        ({"products": _product(hs_code="030698")}, "products[0].hs_code", "not in the HS"),
        (
            {"importer": {"name": "Acme", "country": "US", "address": "NY"}},
            "importer.country",
            "not a partner",
        ),
        ({"importer": {"name": "Acme", "country": "XX", "address": "?"}}, "importer.country", "ISO 3166"),
        ({"invoice": {"number": "X-1", "date": TOMORROW}}, "invoice.date", "future"),
        (
            {
                "transport": {
                    "mode": "sea",
                    "vessel_or_flight": "MSC ANNA",
                    "port_of_loading": "Cochin",
                    "port_of_discharge": "HCMC",
                    "departure_date": LAST_WEEK,
                }
            },
            "transport.departure_date",
            "",
        ),
        (
            {"products": _material(total_cif_value="500000.00")},
            "products[0].raw_materials[1].total_cif_value",
            "",
        ),
        ({"products": _product(fob_inr="900000.00")}, "products[0].fob_inr", ""),
        ({"products": _product(unit="XYZ")}, "products[0].unit", "unit list"),
        (
            {"products": _product(preference_criterion="CC")},
            "products[0].preference_criterion",
            "not a criterion of AIFTA",
        ),
        ({"products": _material(origin_country="ZZ")}, "products[0].raw_materials[1].origin_country", ""),
        ({"branch_id": "B7"}, "branch_id", "not one of your registered branches"),
        ({"issuing_office_code": "EIC-MUMBAI"}, "issuing_office_code", ""),
        ({"kind": "non_preferential"}, "agreement_code", "names no agreement"),
    ],
)
def test_each_rule_names_its_field_path_and_changes_nothing(world, overrides, path, fragment):
    application_id = ready_draft(world, **overrides)
    refused = submit(world, application_id)
    assert refused.status_code == 422, refused.text
    fields = refused.json()["error"]["fields"]
    assert path in fields, fields
    assert fragment in " ".join(fields[path])
    after = call(world, "GET", f"/api/v1/applications/{application_id}").json()
    assert (after["status"], after["number"]) == ("draft", None)
    history = call(world, "GET", f"/api/v1/applications/{application_id}/history").json()
    assert [h["to"] for h in history["items"]] == ["draft"]


def test_an_application_without_its_invoice_document_is_refused(world):
    draft = call(world, "POST", "/api/v1/applications", json=application_body()).json()
    refused = submit(world, draft["id"])
    assert refused.status_code == 422
    assert "documents" in refused.json()["error"]["fields"]


def test_malformed_drafts_are_400_with_paths(world):
    bad = application_body()
    bad["products"][0]["raw_materials"][0]["quantity"] = "lots"
    bad["colour"] = "blue"
    response = call(world, "POST", "/api/v1/applications", json=bad)
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert "products[0].raw_materials[0].quantity" in fields and "colour" in fields
    assert call(world, "GET", "/api/v1/applications").json()["total"] == 0


def test_the_same_document_sent_twice_is_kept_once(world):
    draft = call(world, "POST", "/api/v1/applications", json=application_body()).json()
    content = minimal_pdf()
    first = upload(world, draft["id"], content)
    again = upload(world, draft["id"], content)  # a retried request
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    packing = upload(world, draft["id"], content, kind="packing_list")
    assert packing.json()["id"] != first.json()["id"]  # another kind is another document
    documents = call(world, "GET", f"/api/v1/applications/{draft['id']}").json()["documents"]
    assert len(documents) == 2


def test_a_document_uploaded_by_mistake_is_removed_while_the_application_may_change(world):
    application_id = ready_draft(world)
    mistake = upload(world, application_id, minimal_pdf(), kind="other", name="wrong.pdf").json()
    path = f"/api/v1/applications/{application_id}/documents/{mistake['id']}"
    assert call(world, "DELETE", path).status_code == 204
    kept = call(world, "GET", f"/api/v1/applications/{application_id}").json()["documents"]
    assert [d["kind"] for d in kept] == ["invoice"]
    assert call(world, "GET", path).status_code == 404
    gone = call(world, "DELETE", path)  # twice: it is gone
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "DOCUMENT_NOT_FOUND"
    # once submitted, nothing is removed, and nothing changes
    assert submit(world, application_id).status_code == 200
    invoice = f"/api/v1/applications/{application_id}/documents/{kept[0]['id']}"
    refused = call(world, "DELETE", invoice)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "APPLICATION_NOT_EDITABLE"
    assert call(world, "GET", invoice).status_code == 200
