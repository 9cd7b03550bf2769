"""Chromium uses `opencoo bridge` from the portal's documents page (run by
test_portal_bridge.py in a process of its own, as portal_browser.py is).

    python -m tests.e2e.portal_bridge_browser BASE IEC PASSWORD INVOICE_PDF BRIDGE_URL ARTIFACTS
"""

import json
import re
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.e2e.portal_browser import LAPTOP, chromium, log_in


def main(base, iec, password, invoice, bridge_url, artifacts: Path) -> dict:
    artifacts.mkdir(parents=True, exist_ok=True)
    report = {}
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_context(viewport=LAPTOP).new_page()
        page.goto(base + "/login")
        log_in(page, iec, password)
        page.wait_for_url(base + "/dashboard")
        page.get_by_role("link", name="Apply for a certificate of origin").click()
        page.get_by_role("button", name="Save as draft").click()
        page.wait_for_url(re.compile(r".*/applications/[0-9a-f-]+$"))
        page.get_by_role("link", name="Documents").click()
        status = page.locator("[data-bridge-status]")
        expect(status).to_contain_text("bridge", timeout=15000)
        report["offered"] = status.inner_text()
        page.get_by_label("The PDF (at most 2 MB)").set_input_files(invoice)
        page.get_by_role("button", name="Sign with my DSC (opencoo bridge)").click()
        expect(status).to_contain_text("Signed by", timeout=30000)
        report["signed"] = status.inner_text()
        page.screenshot(path=str(artifacts / "signed_by_bridge.png"), full_page=True)
        with page.expect_navigation():
            page.get_by_role("button", name="Upload").click()
        problem = page.locator("#problem")
        report["problem"] = problem.inner_text() if problem.count() else None
        report["uploaded"] = [cell.inner_text() for cell in page.locator("tbody tr td:first-child").all()]
        # another origin (localhost is not 127.0.0.1 to a browser): the bridge answers it nothing
        other = base.replace("127.0.0.1", "localhost")
        page.goto(other + "/")
        report["foreign_page_got"] = page.evaluate(
            "url => fetch(url + '/certificates').then(() => 'answered', () => 'refused')", bridge_url
        )
        browser.close()
    return report


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:6], Path(sys.argv[6]))))
