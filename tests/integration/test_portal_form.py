"""The exporter's application form and the screens around it, over HTTP as a browser without
JavaScript sees them (the script's part is tests/e2e/test_portal_form.py): the offices grouped by
agency and region with the data form.js reads, the INR equivalents at the API's exchange rate and
the description of goods, the origin check per product as the API computes it, the landing after
payment, the officer's post-audit list, and a certificate in lieu with its corrections."""

import json
import re
from decimal import Decimal

import requests

from services.chassis.timestamps import today_in_india
from tests.application_fixtures import USD_RATE
from tests.conftest import ADMIN_PASSWORD, login, mail_text, wait_until
from tests.exporters import IEC
from tests.integration.test_applications import application_body, call, world  # noqa: F401
from tests.integration.test_portal import hidden, log_in, portal_port, portal_serving  # noqa: F401
from tests.staff import make_staff

SECOND_PRODUCT = {
    "hs_code": "160521",
    "description": "Prepared shrimps, not in airtight containers",
    "quantity": "300",
    "unit": "KGS",
    "fob_currency": "USD",
    "fob_value": "500.00",
    "fob_inr": "41625.00",
    "preference_criterion": "RVC",
}


def exporter_password(smtp_mailbox) -> str:
    mails = smtp_mailbox.wait_for(lambda m: "exports@malabarseafoods.in" in m["To"].lower())
    return next(
        found.group(1) for found in (re.search(r"Password:\s*(\S+)", mail_text(m)) for m in mails) if found
    )


def inputs(application: dict) -> dict:
    """The form's inputs for an application body (what a person types)."""
    form = {
        name: application[name]
        for name in ("kind", "agreement_code", "shipment_timing", "agency_code", "branch_id")
        + ("regional_office_code", "issuing_office_code")
    }
    for part in ("importer", "transport", "invoice", "declaration"):
        form.update({f"{part}.{k}": v for k, v in application[part].items()})
    for i, product in enumerate(application["products"]):
        form.update({f"products.{i}.{k}": v for k, v in product.items() if k != "raw_materials"})
        for j, material in enumerate(product.get("raw_materials") or []):
            form.update({f"products.{i}.raw_materials.{j}.{k}": v for k, v in material.items()})
    return form


def scripts_are_ours(html: str) -> None:
    """CSP allows no inline script: every script is a file of ours or inert JSON data."""
    for tag, body in re.findall(r"(<script[^>]*>)(.*?)</script>", html, re.S):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
        assert 'src="/static/' not in tag or not body.strip()


def test_the_form_groups_offices_shows_inr_and_goods_and_the_submit_page_the_origin_check(
    portal_port, world, smtp_mailbox
):
    base = world["base"]
    password = exporter_password(smtp_mailbox)
    with portal_serving(portal_port):
        browser = requests.Session()
        assert log_in(browser, base, IEC, password).status_code == 303
        blank = browser.get(base + "/applications/new", timeout=10)
        assert blank.status_code == 200
        page = blank.text
        # every office without JavaScript, grouped: regions per agency, issuing offices per region
        group = r'<optgroup label="[^"]+" {}>(?:(?!</optgroup>).)*<option value="{}">'
        assert re.search(group.format('data-agency="MPEDA"', "MPEDA-RO-KOCHI"), page, re.S)
        kochi = 'data-agency="MPEDA" data-region="MPEDA-RO-KOCHI"'
        assert re.search(group.format(kochi, "MPEDA-KOCHI"), page, re.S)
        assert 'data-office-level="agency"' in page and 'data-office-level="office"' in page
        scripts_are_ours(page)
        assert '<script src="/static/form.js" defer></script>' in page
        data = json.loads(
            re.search(r'<script type="application/json" id="form-data">(.*?)</script>', page, re.S)[1]
        )
        assert (
            data["rates"]["rates"]["USD"] == "83.2500" and data["rates"]["on"] == today_in_india().isoformat()
        )
        assert data["hs_path"] == "/api/v1/reference/hs/" and "{amount}" in data["texts"]["inr"]
        assert "data-hs-lookup" in page and 'aria-describedby="hs-products.0"' in page
        assert (
            requests.get(base + "/static/form.js", timeout=10)
            .headers["Content-Type"]
            .startswith("text/javascript")
        )
        assert requests.get(base + "/static/form.css", timeout=10).status_code == 200

        # a draft with two products, saved through the form
        body = application_body()
        body["products"].append(SECOND_PRODUCT)
        saved = browser.post(
            base + "/applications/new",
            data={"csrf_token": hidden(page, "csrf_token"), **inputs(body)},
            timeout=30,
            allow_redirects=False,
        )
        assert saved.status_code == 303, saved.text
        application_id = saved.headers["Location"].rsplit("/", 1)[1]
        edit = browser.get(base + f"/applications/{application_id}/edit", timeout=10).text
        first, second = (Decimal(p["fob_value"]) * USD_RATE for p in body["products"])
        for amount in (first, second):
            assert f"INR equivalent: ₹ {amount:,.2f}" in edit, amount
        goods = edit[edit.index('id="goods-title"') :]
        for product in body["products"]:
            assert product["description"] in goods and product["hs_code"] in goods
        assert "12300 KGS" in goods  # 12000 + 300
        assert f"₹ {first + second:,.2f}" in goods and "₹ 1,041,625.00" in goods  # at the rate; declared
        check = call(world, "GET", f"/api/v1/applications/{application_id}/origin-check").json()
        for product in check["products"]:
            assert product["message"] in edit

        # the check of the form as typed (form.js asks while the exporter types): the first
        # product marked for removal, the answer names the second by its inputs
        typed = {"csrf_token": hidden(page, "csrf_token"), **inputs(body), "products.0.remove": "on"}
        live = browser.post(base + "/applications/origin-check", data=typed, timeout=30)
        assert live.status_code == 200 and live.headers["Content-Type"].startswith("application/json")
        [only] = live.json()["products"]
        assert only["input"] == "products.1" and only["message"] == check["products"][1]["message"]
        unsure = browser.post(
            base + "/applications/origin-check", data={**typed, "products.1.quantity": "lots"}, timeout=30
        )
        assert unsure.status_code == 400 and "products[0].quantity" in unsure.json()["error"]["fields"]
        no_token = {k: v for k, v in typed.items() if k != "csrf_token"}
        assert browser.post(base + "/applications/origin-check", data=no_token, timeout=30).status_code == 403

        # the submit page: the same summary, and the API's origin check product by product
        submit = browser.get(base + f"/applications/{application_id}/submit", timeout=10)
        assert submit.status_code == 200
        for product in check["products"]:
            row = re.search(rf'<tr data-origin-product="{product["index"]}">(.*?)</tr>', submit.text, re.S)[1]
            assert product["message"] in row and (product["rvc_percent"] or "") in row
        assert check["products"][0]["rvc_percent"] == "40.00"
        assert "Description of goods" in submit.text and SECOND_PRODUCT["description"] in submit.text

        # refused inputs change nothing: a date the rates route cannot take, a form without its token
        bad = requests.get(base + "/api/v1/reference/exchange-rates", params={"on": "0202-13-40"}, timeout=10)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
        assert (
            requests.get(base + "/api/v1/reference/exchange-rates", params={"x": "1"}, timeout=10).status_code
            == 400
        )
        forged = browser.post(
            base + f"/applications/{application_id}/edit", data=inputs(application_body()), timeout=10
        )
        assert forged.status_code == 403
        stored = call(world, "GET", f"/api/v1/applications/{application_id}").json()
        assert len(stored["form"]["products"]) == 2
        # an invoice date with no USD rate yet: the form says so (no INR equivalent), still shows
        rates = requests.get(
            base + "/api/v1/reference/exchange-rates", params={"on": "2001-01-01"}, timeout=10
        ).json()
        assert rates == {"on": "2001-01-01", "rates": []}


def test_landing_after_payment_post_audit_and_a_certificate_in_lieu(portal_port, world, smtp_mailbox):
    from tests.integration.test_examination import IKCEPA, paid

    base = world["base"]
    admin = login(base, "admin", ADMIN_PASSWORD)
    flagged = call(
        world,
        "POST",
        "/api/v1/admin/self-certification",
        token=admin,
        json={"iec": IEC, "agency_code": "MPEDA"},
    )
    assert flagged.status_code == 201, flagged.text
    application_id = paid(world, until=("approved", "issued"), **IKCEPA)  # approved on payment
    number = call(world, "GET", f"/api/v1/applications/{application_id}").json()["number"]
    officer_token = make_staff(base, smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI")
    officer_mail = smtp_mailbox.wait_for(lambda m: "kochi.officer@" in m["To"].lower())[0]
    officer_password = re.search(r"Password:\s*(\S+)", mail_text(officer_mail)).group(1)
    assert officer_token
    password = exporter_password(smtp_mailbox)
    with portal_serving(portal_port):
        exporter = requests.Session()
        assert log_in(exporter, base, IEC, password).status_code == 303
        # the landing after payment: the manual's message with the number, and the GST receipt
        landing = exporter.get(base + f"/applications/{application_id}", timeout=10)
        assert (
            f"Your application reference no. {number} has been successfully submitted to MPEDA - "
            in landing.text
        )
        receipt = re.search(r'href="(/payments/[^"]+/receipt\.pdf)"', landing.text)[1]
        pdf = exporter.get(base + receipt, timeout=30)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        fee = exporter.get(base + f"/applications/{application_id}/fee", timeout=10)
        assert number in fee.text and receipt in fee.text

        # the post-audit list: the officer's, not the exporter's
        assert exporter.get(base + "/officer/post-audit", timeout=10).status_code == 403
        desk = requests.Session()
        assert log_in(desk, base, "kochi.officer", officer_password).status_code == 303
        dashboard = desk.get(base + "/dashboard", timeout=10)
        assert "Self-certified, for post-audit: 1" in dashboard.text
        audit = desk.get(base + "/officer/post-audit", timeout=10)
        assert audit.status_code == 200 and f"/officer/applications/{application_id}" in audit.text
        assert "/officer/post-audit/export.xlsx?" in audit.text
        sheet = desk.get(base + "/officer/post-audit/export.xlsx", timeout=30)
        assert sheet.status_code == 200 and sheet.content[:2] == b"PK"
        view = desk.get(base + f"/officer/applications/{application_id}", timeout=10)
        assert view.status_code == 200 and "self-certification" in view.text
        assert desk.get(base + "/officer/post-audit?status=nonsense", timeout=10).status_code == 400

        # a certificate in lieu: the corrections go to the API as the in-lieu request's form
        wait_until(
            lambda: call(world, "GET", f"/api/v1/applications/{application_id}").json()["status"] == "issued",
            timeout=60,
            what="issued",
        )
        listed = exporter.get(base + "/certificates", timeout=10)
        certificate_id = re.search(r'href="/certificates/([0-9a-f-]+)/in-lieu"', listed.text)[1]
        form = exporter.get(base + f"/certificates/{certificate_id}/in-lieu", timeout=10)
        assert form.status_code == 200 and 'value="Busan Marine Foods Co."' in form.text
        token = hidden(form.text, "csrf_token")
        before = call(world, "GET", "/api/v1/applications").json()["total"]
        nothing = exporter.post(
            base + f"/certificates/{certificate_id}/in-lieu",
            data={"csrf_token": token, "reason": "The importer's name was misspelt"},
            timeout=30,
        )
        assert nothing.status_code == 400 and 'id="error-form"' in nothing.text  # no correction given
        no_reason = exporter.post(
            base + f"/certificates/{certificate_id}/in-lieu",
            data={"csrf_token": token, "importer.name": "Busan Marine Foods Company Ltd."},
            timeout=30,
        )
        assert no_reason.status_code == 400 and 'aria-invalid="true"' in no_reason.text
        assert 'value="Busan Marine Foods Company Ltd."' in no_reason.text  # kept as typed
        assert call(world, "GET", "/api/v1/applications").json()["total"] == before
        asked = exporter.post(
            base + f"/certificates/{certificate_id}/in-lieu",
            data={
                "csrf_token": token,
                "reason": "The importer's name was misspelt",
                "importer.name": "Busan Marine Foods Company Ltd.",
                "products.0.marks_and_numbers": "MSF/KR/118/1-600",
            },
            timeout=30,
            allow_redirects=False,
        )
        assert asked.status_code == 303, asked.text
        request_id = asked.headers["Location"].rsplit("/", 1)[1]
        made = call(world, "GET", f"/api/v1/applications/{request_id}").json()
        assert made["status"] == "pending_payment" and made["number"].startswith(number + "/")
        assert made["form"]["importer"]["name"] == "Busan Marine Foods Company Ltd."
        assert made["form"]["importer"]["country"] == "KR"  # the rest of the part is the original's
        product = made["form"]["products"][0]
        assert product["marks_and_numbers"] == "MSF/KR/118/1-600" and len(product["raw_materials"]) == 2


def test_the_officers_discrepancy_is_shown_to_the_exporter_on_the_application_and_the_form(
    portal_port, world, smtp_mailbox
):
    from tests.integration.test_examination import decide, paid

    application_id = paid(world)
    officer = make_staff(world["base"], smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI")
    comment = "Attach the packing list and correct the port of discharge"
    assert decide(world, officer, application_id, "discrepancy", {"comment": comment}).status_code == 200
    password = exporter_password(smtp_mailbox)
    with portal_serving(portal_port):
        browser = requests.Session()
        assert log_in(browser, world["base"], IEC, password).status_code == 303
        view = browser.get(world["base"] + f"/applications/{application_id}", timeout=10).text
        shown = view[view.index('id="discrepancy-title"') :]
        assert comment in shown[: shown.index("</section>")] and "Resubmit with DSC" in view
        assert "has been successfully submitted" not in view  # sent back: no longer the landing
        form = browser.get(world["base"] + f"/applications/{application_id}/edit", timeout=10)
        assert "The officer asks you to correct" in form.text and comment in form.text
