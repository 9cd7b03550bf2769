"""The portal in a real browser: Playwright driving Debian's Chromium (``executable_path``, no
browser download), axe-core on every screen, a screenshot of each. Run by test_portal_walk.py in
a process of its own: Playwright brings its own event loop, which eventlet's monkey patching of
the test process would disturb.

    python tests/e2e/portal_browser.py BASE_URL ADMIN_PASSWORD ARTIFACTS_DIR IEC EXPORTER_PASSWORD

Prints one JSON line: each screen's axe violations (id, impact, nodes) and what the walk saw.
"""

import json
import re
import sys
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium(playwright):
    """Debian's Chromium (no browser download), as the tests run it: as root, without /dev/shm."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
    )


def log_in(page: Page, username: str, password: str) -> None:
    """Fill the login form and send it with the keyboard (Enter), as a person without a mouse."""
    question = page.get_by_text(re.compile(r"What is \d+ \+ \d+\?")).inner_text()
    a, b = (int(n) for n in re.findall(r"\d+", question))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_label(question).fill(str(a + b))
    page.keyboard.press("Enter")


def main(base: str, admin_password: str, artifacts: Path, iec: str, exporter_password: str) -> dict:
    artifacts.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    report: dict = {"screens": {}, "seen": {}, "weights": {}}

    def check(page: Page, name: str) -> None:
        results = axe.run(page)
        report["screens"][name] = [
            {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
            for v in results.response["violations"]
        ]
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        # page weight: the HTML and everything it loaded (CSS, JS), as the browser received them
        report["weights"][name] = page.evaluate(
            "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
            ".reduce((sum, e) => sum + (e.decodedBodySize || 0), 0)"
        )

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        laptop = browser.new_context(viewport=LAPTOP)
        page = laptop.new_page()
        page.goto(base + "/")
        expect(page.get_by_label("Enter your certificate number")).to_be_visible()
        check(page, "home")

        page.get_by_role("link", name="Log in").first.click()
        check(page, "login")
        # a wrong password: the message, tied to the form, and the username kept
        log_in(page, "admin", "not the password")
        expect(page.get_by_role("alert")).to_contain_text("username or password")
        report["seen"]["username_kept"] = page.get_by_label("Username").input_value()
        check(page, "login_refused")
        page.get_by_role("link", name="Forgot password?").click()
        check(page, "forgot_password")
        page.goto(base + "/login")
        log_in(page, "admin", admin_password)
        page.wait_for_url(base + "/dashboard")
        report["seen"]["dashboard"] = page.get_by_role("heading", level=1).inner_text()
        check(page, "dashboard_admin")
        page.get_by_role("link", name="Officers and agency admins").click()
        check(page, "staff")
        page.get_by_role("link", name="Change password").click()
        check(page, "change_password")
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(base + "/")
        report["seen"]["after_logout"] = page.url

        exporter = browser.new_context(viewport=LAPTOP)
        page = exporter.new_page()
        page.goto(base + "/login")
        log_in(page, iec, exporter_password)
        page.wait_for_url(base + "/dashboard")
        check(page, "dashboard_exporter")
        page.get_by_role("link", name="Apply for a certificate of origin").click()
        check(page, "application_form")
        page.get_by_label("Agreement (scheme)").select_option("013")
        page.get_by_label("Issuing agency").select_option("MPEDA")
        page.locator("#importer\\.name").fill("Saigon Seafood Trading JSC")
        page.locator("#products\\.0\\.hs_code").fill("030617")
        page.locator("#products\\.0\\.quantity").fill("lots")
        page.get_by_role("button", name="Save as draft").click()
        report["seen"]["form_error"] = page.get_by_role("alert").locator("li").first.inner_text()
        check(page, "application_form_refused")
        page.locator("#products\\.0\\.quantity").fill("12000")
        page.get_by_role("button", name="Save as draft").click()
        page.wait_for_url(re.compile(r".*/applications/[0-9a-f-]+$"))
        report["seen"]["saved_heading"] = page.get_by_role("heading", level=1).inner_text()
        check(page, "application")

        phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        customs = phone.new_page()
        customs.goto(base + "/verify?number=MPEDA/2026/013/9999999Z")
        report["seen"]["verify_unknown"] = customs.get_by_role("alert").inner_text()
        report["seen"]["phone_overflow"] = customs.evaluate(
            "document.documentElement.scrollWidth > window.innerWidth"
        )
        check(customs, "verify_phone")
        browser.close()
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4], sys.argv[5])))
