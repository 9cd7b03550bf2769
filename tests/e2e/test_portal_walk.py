"""The portal in Chromium against the platform as `make up` runs it (tests/e2e/portal_browser.py
drives the browser): the home page, logging in with the keyboard, the dashboard, logging out, and
a certificate check on a phone-sized screen; axe-core finds no serious or critical violation on
any screen. Screenshots are kept in the test's folder (``artifacts/``)."""

import re
from pathlib import Path

from tests.conftest import ADMIN_PASSWORD, mail_text
from tests.e2e.conftest import Stack, browser_walk
from tests.exporters import IEC, registered_exporter

HERE = Path(__file__).resolve().parent


def test_the_portal_in_a_browser(stack_env, smtp_mailbox, tmp_path):
    stack_env["OPENCOO_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    stack_env["OPENCOO_SMTP_URL"] = smtp_mailbox.url
    stack = Stack(stack_env, tmp_path / "stack.log").start()
    try:
        # the demo exporter, registered over the API (its registration in the browser is to come)
        registered_exporter(stack.base, smtp_mailbox, tmp_path, Path(stack_env["OPENCOO_VAR"]))
        mail = smtp_mailbox.wait_for(lambda m: "exports@malabarseafoods.in" in m["To"].lower())[0]
        password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
        report = browser_walk(
            stack, "portal_browser", stack.base, ADMIN_PASSWORD, str(tmp_path / "artifacts"), IEC, password
        )
    finally:
        stack.stop()
    assert set(report["screens"]) == {
        "home",
        "login",
        "login_refused",
        "forgot_password",
        "dashboard_admin",
        "staff",
        "change_password",
        "verify_phone",
        "dashboard_exporter",
        "application_form",
        "application_form_refused",
        "application",
    }
    heavy = {name: size for name, size in report["weights"].items() if not 1000 < size < 150_000}
    assert heavy == {}, heavy  # every screen under 150 KB of HTML, CSS and JS
    assert report["seen"]["form_error"].startswith("products.0.quantity")
    assert report["seen"]["saved_heading"] == "Draft application"
    assert report["seen"]["username_kept"] == "admin"
    serious = {
        name: [v for v in found if v["impact"] in ("serious", "critical")]
        for name, found in report["screens"].items()
    }
    assert all(not found for found in serious.values()), serious
    assert report["seen"]["dashboard"] == "Dashboard"
    assert report["seen"]["after_logout"].endswith("/")
    assert "no certificate" in report["seen"]["verify_unknown"].lower()
    assert report["seen"]["phone_overflow"] is False
    assert all((tmp_path / "artifacts" / f"{name}.png").stat().st_size > 1000 for name in report["screens"])
