"""The application form's script in Chromium against the platform as `make up` runs it
(tests/e2e/portal_form_browser.py drives the browser): choosing an agency narrows the offices,
an HS code typed shows its description, the INR equivalent follows the value, a document over
2 MB is refused before it is sent; axe-core finds no serious or critical violation."""

import re
from datetime import timedelta
from pathlib import Path

import requests

from services.chassis.timestamps import today_in_india
from tests.conftest import ADMIN_PASSWORD, login, mail_text
from tests.e2e.conftest import Stack, browser_walk
from tests.exporters import IEC, registered_exporter
from tests.integration.test_applications import HS2022, USD_RATE

ROOT = Path(__file__).resolve().parents[2]


def test_the_form_script_in_a_browser(stack_env, smtp_mailbox, tmp_path):
    stack_env["OPENCOO_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    stack_env["OPENCOO_SMTP_URL"] = smtp_mailbox.url
    stack = Stack(stack_env, tmp_path / "stack.log").start()
    try:
        admin = {"Authorization": f"Bearer {login(stack.base, 'admin', ADMIN_PASSWORD)}"}
        with open(HS2022, "rb") as f:
            loaded = requests.post(
                stack.base + "/api/v1/admin/reference/hs", headers=admin, timeout=120, files={"file": f}
            )
        assert loaded.status_code == 200, loaded.text
        start = (today_in_india() - timedelta(days=30)).isoformat()
        rate = {"currency": "USD", "valid_from": start, "rate": USD_RATE}
        made = requests.post(
            stack.base + "/api/v1/admin/exchange-rates", headers=admin, timeout=10, json=rate
        )
        assert made.status_code == 201, made.text
        registered_exporter(stack.base, smtp_mailbox, tmp_path, Path(stack_env["OPENCOO_VAR"]))
        mail = smtp_mailbox.wait_for(lambda m: "exports@malabarseafoods.in" in m["To"].lower())[0]
        password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
        report = browser_walk(
            stack, "portal_form_browser", stack.base, str(tmp_path / "artifacts"), IEC, password
        )
    finally:
        stack.stop()
    seen = report["seen"]
    assert len(seen["agencies_before"]) > 1  # every agency's offices without a choice
    assert seen["regions_after"] == ["MPEDA"] and seen["offices_after"] == ["MPEDA"]
    assert set(seen["office_regions"]) == {"MPEDA-RO-KOCHI"}
    assert seen["hs_description"].startswith("030617: ") and len(seen["hs_description"]) > 10
    assert 1 <= seen["hs_requests"] <= 2  # typed key by key, looked up once per pause
    assert seen["inr_equivalent"] == "INR equivalent: ₹ 8,325.00"
    assert seen["inr_equivalent_after"] == "INR equivalent: ₹ 16,650.00"
    assert seen["inr_on_old_date"] == "No exchange rate for USD on 2020-01-01."
    assert seen["origin"] == "Origin check: RVC 100.00% meets the 35% required by AIFTA."
    assert "2 MB at most" in seen["limit_said"]
    assert "larger than 2 MB" in seen["too_large"] and seen["posts_after_too_large"] == []
    assert seen["phone_overflow"] is False
    assert seen["submit_origin_rows"] == 1 and set(report["screens"]) == {
        "application_form_js",
        "application_form_phone",
        "submit",
        "documents_refused",
    }
    serious = {
        name: [v for v in found if v["impact"] in ("serious", "critical")]
        for name, found in report["screens"].items()
    }
    assert all(not found for found in serious.values()), serious
