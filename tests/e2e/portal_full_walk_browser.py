"""The whole walk of the portal in Chromium, as its people would make it (run by
test_portal_full_walk.py in a process of its own, as portal_browser.py is):

the admin loads the HS nomenclature and the dollar's rate and creates an officer of MPEDA Kochi;
the exporter registers with the bridge signing on SoftHSM2, logs in, fills the form with two
products and their raw materials, uploads the invoice signed by the bridge, submits with the DSC,
pays in the sandbox; the officer raises a discrepancy; the exporter corrects and resubmits with
the DSC; the officer approves; the exporter downloads the certificate; a customs officer checks it
by number and by the QR code's address on a phone; the agency admin revokes it, and the phone's
page says so. axe-core runs on every screen; each screen's screenshot is kept.

Passwords arrive as people get them: by email (the platform's mail drop, ``var/mail/*.eml``).

    python -m tests.e2e.portal_full_walk_browser SETTINGS_JSON

SETTINGS_JSON: {base, var, artifacts, admin_password, agency_admin, agency_admin_password, iec,
email, mobile, branches, hs_file, invoice, application}. Prints one JSON line (the report).
"""

import json
import re
import sys
import time
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.mail_drop import emailed_password
from tests.e2e.portal_browser import LAPTOP, PHONE, chromium, log_in
from tests.e2e.portal_registration_browser import register

# Does anything reach past the screen's right edge, or spill out of its box (a long word)? A
# phone widens its layout to fit such content, so the page's own width says nothing.
# The answer names the first such element ("" when none).
OVERFLOW = """width => ([...document.querySelectorAll("main *")].filter(e =>
    e.getBoundingClientRect().right > width + 1 ||
    (!["INPUT", "SELECT", "TEXTAREA"].includes(e.tagName) && e.clientWidth > 0 &&
     getComputedStyle(e).overflowX === "visible" && e.scrollWidth > e.clientWidth + 1))
  .map(e => e.tagName + (e.id ? "#" + e.id : "") + " " + e.textContent.trim().slice(0, 40))[0] || "")"""
DISCREPANCY = "The invoice date does not match the invoice: please correct it."


def input_id(path: str) -> str:
    return "#" + re.sub(r"([.])", r"\\\1", path)


def fill(page: Page, path: str, value) -> None:
    """One value of the application's JSON into its input, whichever kind of input it is."""
    field = page.locator(input_id(path))
    kind = field.evaluate("e => e.tagName === 'SELECT' ? 'select' : e.type")
    if kind == "select":
        field.select_option(str(value))
    elif kind == "checkbox":
        field.set_checked(bool(value))
    else:
        field.fill("" if value is None else str(value))


def fill_scalars(page: Page, prefix: str, values: dict) -> None:
    for name, value in values.items():
        if isinstance(value, (dict, list)):
            continue
        fill(page, f"{prefix}{name}", value)


def save(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Save as draft").click()
    problem = page.locator("#problem")
    assert not problem.count(), problem.inner_text()


def fill_application(page: Page, base: str, application: dict, check) -> str:
    """The form as the manual has it, saved as a draft after each row added: returns its id."""
    page.get_by_role("link", name="Apply for a certificate of origin").click()
    check(page, "application_form")
    fill_scalars(page, "", application)
    for section in ("importer", "transport", "invoice", "declaration"):
        fill_scalars(page, f"{section}.", application[section])
    fill_scalars(page, "products.0.", application["products"][0])
    save(page)
    application_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    edit = f"{base}/applications/{application_id}/edit"
    for p, product in enumerate(application["products"]):
        if p:
            page.goto(edit)
            fill_scalars(page, f"products.{p}.", product)
            save(page)
        for m, material in enumerate(product["raw_materials"]):
            page.goto(edit)
            fill_scalars(page, f"products.{p}.raw_materials.{m}.", material)
            save(page)
    page.goto(edit)
    check(page, "application_form_filled")
    return application_id


def main(settings: dict) -> dict:
    artifacts = Path(settings["artifacts"])
    artifacts.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    report: dict = {"screens": {}, "seen": {}, "overflow": {}}

    def check(page: Page, name: str) -> None:
        page.wait_for_load_state()  # a link just followed: the new page, not the old one
        results = axe.run(page)
        report["screens"][name] = [
            {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
            for v in results.response["violations"]
        ]
        report["overflow"][name] = page.evaluate(OVERFLOW, page.viewport_size["width"])
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        try:
            walk(browser, settings, report, check)
        except Exception:
            # what each person saw when the walk stopped, for whoever reads the failure
            for n, page in enumerate(p for context in browser.contexts for p in context.pages):
                page.screenshot(path=str(artifacts / f"stopped-{n}.png"), full_page=True)
                print(f"stopped-{n}: {page.url}", file=sys.stderr)
            raise
        browser.close()
    return report


def walk(browser, settings: dict, report: dict, check) -> None:
    base, var = settings["base"], Path(settings["var"])
    artifacts = Path(settings["artifacts"])

    def person(username: str, password: str, viewport=LAPTOP) -> Page:
        page = browser.new_context(viewport=viewport, accept_downloads=True).new_page()
        page.goto(base + "/login")
        log_in(page, username, password)
        page.wait_for_url(base + "/dashboard")
        return page

    # --- the admin: the HS nomenclature, the dollar's rate, an officer for MPEDA Kochi ----
    admin = person("admin", settings["admin_password"])
    check(admin, "dashboard_admin")
    admin.get_by_role("link", name="HS nomenclature").click()
    admin.get_by_label("CSV file").set_input_files(settings["hs_file"])
    admin.get_by_role("button", name="Load the nomenclature").click()
    expect(admin.locator("dl.facts")).to_be_visible(timeout=60000)  # the script shows the result
    report["seen"]["hs_loaded"] = admin.locator("dl.facts").inner_text()
    check(admin, "admin_hs")
    admin.goto(base + "/admin/exchange-rates")
    admin.get_by_label("Currency").select_option("USD")
    admin.get_by_label("From").fill(settings["rate_from"])
    admin.get_by_label("Rupees per unit").fill(settings["usd_rate"])
    with admin.expect_navigation():
        admin.get_by_role("button", name="Set the rate").click()
    check(admin, "admin_exchange_rates")
    admin.goto(base + "/admin/staff")
    hired = time.time()
    for name, value in {
        "username": "kochi.officer",
        "name": "Anitha Menon",
        "email": "kochi.officer@mpeda.example.in",
        "mobile": "+919847011111",
    }.items():
        admin.locator(f"#{name}").fill(value)
    admin.locator("#agency_code").select_option("MPEDA")
    admin.locator("#issuing_office_code").select_option("MPEDA-KOCHI")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Create the officer").click()
    officer_password = emailed_password(var, "kochi.officer@mpeda.example.in", hired - 1)

    # --- the exporter registers with the bridge, then logs in ----------------------------
    signup = browser.new_context(viewport=LAPTOP).new_page()
    signup.goto(base + "/")
    check(signup, "home")
    signup.get_by_role("link", name="Manual and FAQ").first.click()
    expect(signup.get_by_role("heading", name="Questions often asked")).to_be_visible()
    check(signup, "help")
    signup.go_back()
    signup.get_by_role("link", name="Register as an exporter").click()
    registered = time.time()
    report["seen"]["registration"] = register(
        signup,
        base,
        settings["iec"],
        settings["mobile"],
        settings["email"],
        settings["branches"],
        check=check,
    )
    exporter = person(settings["iec"], emailed_password(var, settings["email"], registered - 1))
    check(exporter, "dashboard_exporter")

    # --- the form, the invoice signed by the bridge, submission with the DSC, payment -----
    application_id = fill_application(exporter, base, settings["application"], check)
    exporter.goto(f"{base}/applications/{application_id}/documents")
    status = exporter.locator("[data-bridge-status]")
    expect(status).to_contain_text("bridge", timeout=15000)
    exporter.get_by_label("The PDF", exact=False).set_input_files(settings["invoice"])
    exporter.get_by_role("button", name="Sign with my DSC (opencoo bridge)").click()
    expect(status).to_contain_text("Signed by", timeout=30000)
    with exporter.expect_navigation():
        exporter.get_by_role("button", name="Upload").click()
    check(exporter, "documents")
    exporter.goto(f"{base}/applications/{application_id}/submit")
    check(exporter, "submit")
    report["seen"]["origin_check"] = exporter.locator("#origin-title").locator("..").inner_text()
    submit_with_bridge(exporter)
    expect(exporter.get_by_role("heading", name="Order summary")).to_be_visible()
    check(exporter, "fee")
    exporter.get_by_role("button", name=re.compile(r"^Pay ")).click()
    exporter.get_by_role("button", name="Pay (success)").click()
    exporter.get_by_role("link", name="Return to OpenCoO").click()
    exporter.wait_for_url(f"{base}/applications/{application_id}")
    report["seen"]["landing"] = exporter.locator("#main").inner_text()
    check(exporter, "paid")

    # --- the officer: the queue, the application, a discrepancy ------------------------
    officer = person("kochi.officer", officer_password)
    officer.goto(base + "/officer/applications")
    check(officer, "officer_queue")
    officer.locator(f'a[href="/officer/applications/{application_id}"]').first.click()
    check(officer, "officer_application")
    decide(officer, "Raise discrepancy", DISCREPANCY)
    report["seen"]["after_discrepancy"] = officer.locator("#main").inner_text()[:400]

    # --- the exporter corrects the form and resubmits with the DSC ---------------------
    exporter.goto(f"{base}/applications/{application_id}")
    report["seen"]["comment_shown"] = DISCREPANCY in exporter.locator("#main").inner_text()
    check(exporter, "application_discrepancy")
    exporter.goto(f"{base}/applications/{application_id}/edit")
    fill(exporter, "invoice.number", settings["application"]["invoice"]["number"] + "-A")
    save(exporter)
    exporter.goto(f"{base}/applications/{application_id}/submit")
    submit_with_bridge(exporter)
    check(exporter, "resubmitted")

    # --- the officer approves ----------------------------------------------------------
    officer.goto(f"{base}/officer/applications/{application_id}")
    decide(officer, "Approve", "Checked against the corrected invoice.")

    # --- the exporter downloads the certificate ----------------------------------------
    number = None
    deadline = time.time() + 90
    while time.time() < deadline:
        exporter.goto(base + "/certificates")
        links = exporter.get_by_role("link", name=re.compile(r"PDF", re.I))
        if links.count():
            break
        time.sleep(2)
    check(exporter, "certificates")
    with exporter.expect_download() as download:
        links.first.click()
    pdf = artifacts / "certificate.pdf"
    download.value.save_as(pdf)
    number = re.search(r"[A-Z]+/\d{4}/\d{3}/\w+", exporter.locator("#main").inner_text()).group(0)
    report["seen"]["number"] = number

    # --- a customs officer at the port: by number, and by the QR code's address ---------
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    phone.goto(base + "/")
    phone.get_by_label("Enter your certificate number").fill(number)
    with phone.expect_navigation():
        phone.keyboard.press("Enter")
    report["seen"]["verify_valid"] = phone.locator("#main").inner_text()
    check(phone, "verify_valid_phone")
    phone.goto(f"{base}/api/v1/verify?number={number}")  # what the QR code of issued certificates holds
    report["seen"]["qr_landed"] = phone.url
    report["seen"]["qr_page"] = phone.locator("#main").inner_text()

    # --- the agency admin revokes it; the phone's page says so -------------------------
    agency = person(settings["agency_admin"], settings["agency_admin_password"])
    agency.get_by_role("link", name="Revoke a certificate").click()
    agency.get_by_label("Certificate number").fill(number)
    with agency.expect_navigation():
        agency.keyboard.press("Enter")
    check(agency, "admin_revocation")
    agency.get_by_label("Reason for revoking").fill("Goods found not to originate in India on post-audit.")
    with agency.expect_navigation():
        agency.get_by_role("button", name="Revoke the certificate").click()
    report["seen"]["revoked_page"] = agency.locator("#main").inner_text()
    phone.reload()
    report["seen"]["verify_revoked"] = phone.locator("#main").inner_text()
    check(phone, "verify_revoked_phone")


def submit_with_bridge(page: Page) -> None:
    status = page.locator("[data-bridge-status]")
    expect(status).to_contain_text("bridge", timeout=15000)
    page.get_by_role("button", name="Sign with my DSC (opencoo bridge)").click()
    expect(status).to_contain_text("Signed by", timeout=30000)
    with page.expect_navigation():
        page.get_by_role("button", name="Submit with DSC").click()


def decide(page: Page, decision: str, comment: str) -> None:
    form = page.locator("form", has=page.get_by_role("button", name=decision))
    form.get_by_role("textbox").fill(comment)
    with page.expect_navigation():
        form.get_by_role("button", name=decision).click()


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
