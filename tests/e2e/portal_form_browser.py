"""The application form's script (static/form.js) in a real browser: Playwright driving Debian's
Chromium, run by test_portal_form.py in a process of its own (Playwright's event loop and
eventlet's monkey patching do not mix).

    python -m tests.e2e.portal_form_browser BASE_URL ARTIFACTS_DIR IEC EXPORTER_PASSWORD

Prints one JSON line: what the walk saw, and the axe violations of the screens it checked.
"""

import json
import re
import sys
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.portal_browser import LAPTOP, PHONE, chromium, log_in

TOO_LARGE = 3 * 1024 * 1024  # over the API's 2 MB


def main(base: str, artifacts: Path, iec: str, password: str) -> dict:
    artifacts.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    report: dict = {"screens": {}, "seen": {}}

    def check(page: Page, name: str) -> None:
        results = axe.run(page)
        report["screens"][name] = [
            {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
            for v in results.response["violations"]
        ]
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)

    def groups(page: Page, select: str) -> list[str]:
        """The agencies of the option groups a select offers now."""
        return page.eval_on_selector_all(f"#{select} optgroup", "gs => gs.map(g => g.dataset.agency)")

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_context(viewport=LAPTOP).new_page()
        page.goto(base + "/login")
        log_in(page, iec, password)
        page.wait_for_url(base + "/dashboard")
        page.goto(base + "/applications/new")

        # agency -> regional office -> issuing office
        report["seen"]["agencies_before"] = sorted(set(groups(page, "issuing_office_code")))
        page.get_by_label("Issuing agency").select_option("MPEDA")
        report["seen"]["regions_after"] = sorted(set(groups(page, "regional_office_code")))
        report["seen"]["offices_after"] = sorted(set(groups(page, "issuing_office_code")))
        page.get_by_label("Regional office").select_option("MPEDA-RO-KOCHI")
        report["seen"]["office_regions"] = page.eval_on_selector_all(
            "#issuing_office_code optgroup", "gs => gs.map(g => g.dataset.region)"
        )
        page.get_by_label("Issuing office").select_option("MPEDA-KOCHI")

        # the HS code's description as it is typed (the API's public HS reference)
        hs_requests: list[str] = []
        page.on("request", lambda r: hs_requests.append(r.url) if "/reference/hs/" in r.url else None)
        page.locator("#products\\.0\\.hs_code").press_sequentially("030617", delay=40)
        note = page.locator("#hs-products\\.0")
        expect(note).to_contain_text("030617:", timeout=10_000)
        report["seen"]["hs_description"] = note.inner_text()
        report["seen"]["hs_requests"] = len(hs_requests)  # one per pause, not one per key

        # the INR equivalent, at the rate the page carries, as the value is typed
        page.locator("#products\\.0\\.fob_currency").fill("USD")
        page.locator("#products\\.0\\.fob_value").fill("100")
        equivalent = page.locator("#inr-products\\.0")
        expect(equivalent).to_contain_text("₹")
        report["seen"]["inr_equivalent"] = equivalent.inner_text()
        page.locator("#products\\.0\\.fob_value").fill("200")
        report["seen"]["inr_equivalent_after"] = equivalent.inner_text()
        # an invoice date before the first USD rate: the rates of that day, and none for USD
        page.locator("#invoice\\.date").fill("2020-01-01")
        expect(equivalent).to_contain_text("No exchange rate", timeout=10_000)
        report["seen"]["inr_on_old_date"] = equivalent.inner_text()

        # the origin check of the form as it stands, after a pause in typing
        page.get_by_label("Agreement (scheme)").select_option("013")
        page.locator("#products\\.0\\.preference_criterion").fill("RVC")
        page.locator("#products\\.0\\.fob_inr").fill("16650")
        origin = page.locator('[data-product="products.0"] [data-origin-note]')
        expect(origin).to_contain_text("RVC", timeout=10_000)
        report["seen"]["origin"] = origin.inner_text()
        check(page, "application_form_js")

        # at 390 px the form still fits the screen
        phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        small = phone.new_page()
        small.goto(base + "/login")
        log_in(small, iec, password)
        small.wait_for_url(base + "/dashboard")
        small.goto(base + "/applications/new")
        report["seen"]["phone_overflow"] = small.evaluate(
            "document.documentElement.scrollWidth > window.innerWidth"
        )
        check(small, "application_form_phone")

        # saved, then a document over 2 MB: refused in the browser, nothing sent
        page.locator("#importer\\.name").fill("Saigon Seafood Trading JSC")
        page.get_by_role("button", name="Save as draft").click()
        page.wait_for_url(re.compile(r".*/applications/[0-9a-f-]+$"))
        saved = page.url
        page.goto(saved + "/submit")
        report["seen"]["submit_origin_rows"] = page.locator("[data-origin-product]").count()
        check(page, "submit")
        page.goto(saved)
        page.get_by_role("link", name="Documents").click()
        report["seen"]["limit_said"] = page.locator("#file-limit").inner_text()
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.locator("#file").set_input_files(
            {"name": "big.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7\n" + b"0" * TOO_LARGE}
        )
        page.locator("#signature").fill("c2lnbmF0dXJl")
        page.get_by_role("button", name="Upload").click()
        error = page.locator("#file-error")
        expect(error).to_be_visible()
        report["seen"]["too_large"] = error.inner_text()
        report["seen"]["posts_after_too_large"] = posts
        check(page, "documents_refused")
        browser.close()
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4])))
