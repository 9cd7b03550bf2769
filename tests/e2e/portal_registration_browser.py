"""An exporter registers in Chromium through the portal, with the DSC's proof made by
`opencoo bridge` (run by test_portal_registration.py in a process of its own, as
portal_browser.py is: Playwright's event loop and eventlet do not mix).

    python -m tests.e2e.portal_registration_browser BASE IEC MOBILE EMAIL BRANCHES_JSON ARTIFACTS

BRANCHES_JSON: one object a branch, in the IEC record's order: {"gstin": …} or {"sez_state": "IN-MH"}.
Prints one JSON line: each screen's axe violations and what the walk saw.

The steps are functions for other walks to reuse: ``fetch_iec``, ``agree_to_privacy``,
``fill_registration``, ``sign_with_bridge`` and ``register`` (all of them).
"""

import json
import sys
from collections.abc import Callable
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.portal_browser import PHONE, chromium


def fetch_iec(page: Page, base: str, iec: str) -> None:
    """From the registration page: type the IEC, fetch its record with Enter; the form shows."""
    if "/register" not in page.url:
        page.goto(base + "/register")
    page.get_by_label("Import Export Code (IEC)").fill(iec)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your firm, as the IEC directory holds it")).to_be_visible()


def agree_to_privacy(page: Page) -> dict:
    """Read the privacy commitment to its end (the keyboard scrolls the focused box), which
    enables "I agree", and tick it. Returns what the page said before and after."""
    agree = page.get_by_label("I agree to the privacy commitment", exact=False)
    seen = {"disabled_before": agree.is_disabled()}
    hint = page.locator("#privacy-hint")
    seen["hint_before"] = hint.inner_text() if hint.is_visible() else ""
    page.locator("#privacy").focus()
    page.keyboard.press("End")
    expect(agree).to_be_enabled(timeout=5000)
    seen["hint_after"] = hint.inner_text()
    agree.check()
    return seen


def fill_registration(page: Page, mobile: str, email: str, branches: list[dict], aeo: str = "") -> None:
    """The contacts of the IEC record, each branch's GSTIN or SEZ and state, the AEO number."""
    page.get_by_label("Mobile number").fill(mobile)
    page.get_by_label("Email", exact=True).fill(email)
    # the branches as the page lists them, by their labels ("GSTIN of branch B1")
    ids = [text.rsplit(" ", 1)[-1] for text in page.locator('label[for$=".gstin"]').all_inner_texts()]
    for branch_id, branch in zip(ids, branches, strict=True):
        gstin = page.get_by_label(f"GSTIN of branch {branch_id}")
        sez = page.get_by_label(f"Branch {branch_id} is in an SEZ")
        if branch.get("sez_state"):
            gstin.fill("")
            sez.check()
            page.get_by_label(f"State of branch {branch_id}", exact=False).select_option(branch["sez_state"])
        else:
            sez.uncheck()
            gstin.fill(branch["gstin"])
    page.get_by_label("AEO registration number", exact=False).fill(aeo)


def sign_with_bridge(page: Page) -> dict:
    """ "Sign with my DSC": the bridge signs the challenge, the page puts the signature into the
    form and sends it. Returns what the page said of the bridge."""
    status = page.locator("[data-bridge-status]")
    expect(status).to_contain_text("bridge", timeout=15000)
    seen = {"offered": status.inner_text()}
    with page.expect_navigation(timeout=30000):
        page.get_by_role("button", name="Sign with my DSC").click()
    return seen


def register(
    page: Page,
    base: str,
    iec: str,
    mobile: str,
    email: str,
    branches: list[dict],
    aeo: str = "",
    check: Callable[[Page, str], None] = lambda page, name: None,
) -> dict:
    """The whole registration from the registration page to the success screen, with the bridge;
    ``check(page, name)`` runs on each screen (axe, screenshots)."""
    fetch_iec(page, base, iec)
    check(page, "register_form")
    seen = agree_to_privacy(page)
    fill_registration(page, mobile, email, branches, aeo)
    seen.update(sign_with_bridge(page))
    expect(page.get_by_role("heading", level=1)).to_have_text("Registered")
    seen["done"] = page.get_by_role("status").inner_text()
    check(page, "register_done")
    return seen


def main(base, iec, mobile, email, branches, artifacts: Path) -> dict:
    artifacts.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    report: dict = {"screens": {}, "seen": {}, "overflow": {}}

    def check(page: Page, name: str) -> None:
        results = axe.run(page)
        report["screens"][name] = [
            {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
            for v in results.response["violations"]
        ]
        report["overflow"][name] = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        # a phone-sized screen: the form must work at 390 px
        page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
        page.goto(base + "/")
        page.get_by_role("link", name="Register as an exporter").click()
        check(page, "register_start")

        # first a GSTIN mistyped: signed and sent, refused at that GSTIN, the rest kept
        typo = [{**branches[0], "gstin": branches[0]["gstin"][:-1] + "X"}, *branches[1:]]
        fetch_iec(page, base, iec)
        report["seen"].update(agree_to_privacy(page))
        fill_registration(page, mobile, email, typo)
        report["seen"].update(sign_with_bridge(page))
        field = page.locator("#branches\\.0\\.gstin")
        expect(field).to_have_attribute("aria-invalid", "true")
        report["seen"]["refused_at"] = page.locator("#error-branches\\.0\\.gstin").inner_text()
        report["seen"]["summary"] = page.get_by_role("alert").inner_text()
        report["seen"]["agreed_kept"] = page.get_by_label("I agree", exact=False).is_checked()
        report["seen"]["signature_kept"] = bool(page.get_by_label("Signature (base64)").input_value())
        check(page, "register_refused")

        # then the registration as it should go, from the start
        page.goto(base + "/register")
        walk = register(page, base, iec, mobile, email, branches, check=check)
        report["seen"].update({f"walk_{key}": value for key, value in walk.items()})
        browser.close()
    return report


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5], json.loads(sys.argv[5]), Path(sys.argv[6]))))
