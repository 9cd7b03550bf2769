"""The issue's whole walk in Chromium against the platform as `make up` runs it, with
`opencoo bridge` signing on a SoftHSM2 token (tests/e2e/portal_full_walk_browser.py drives the
browser). Checked here with tools we did not write: the downloaded certificate's signature with
`pdfsig`, the certificate's state through the API; in the browser, axe-core on every screen."""

import json
import subprocess
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import requests

from tests.application_fixtures import valid_application
from tests.conftest import ADMIN_PASSWORD, free_port, login
from tests.e2e.conftest import Stack, browser_walk, exporter_bridge
from tests.e2e.mail_drop import emailed_password
from tests.integration.test_applications import HS2022, USD_RATE, minimal_pdf

ROOT = Path(__file__).resolve().parents[2]
IEC = "AAACM4821K"
EMAIL = "exports@malabarseafoods.in"


def two_products() -> dict:
    """The AIFTA shrimp application with a second product, a smaller lot of the same shrimps."""
    application = valid_application(date.today())
    second = json.loads(json.dumps(application["products"][0]))
    second.update(
        description="Frozen vannamei shrimps, peeled and deveined, 100 cartons of 10 kg",
        quantity="1000",
        fob_value="2002.00",
        fob_inr="166666.00",
        marks_and_numbers="MSF/VN/118/601-700",
        packages="100 cartons",
    )
    for material in second["raw_materials"]:
        material.update(quantity="500", total_cif_value=str(Decimal(material["unit_cif_value"]) * 500))
    application["products"].append(second)
    application["exporter_comments"] = "Two lots of one shipment."
    return application


def test_the_whole_walk_in_the_browser(stack_env, tmp_path):
    stack_env["OPENCOO_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    bridge_port = free_port()
    stack_env["OPENCOO_BRIDGE_URL"] = f"http://127.0.0.1:{bridge_port}"
    var = Path(stack_env["OPENCOO_VAR"])
    stack = Stack(stack_env, tmp_path / "stack.log").start()
    bridge = None
    try:
        admin = {"Authorization": f"Bearer {login(stack.base, 'admin', ADMIN_PASSWORD)}"}
        hired = time.time()
        created = requests.post(
            f"{stack.base}/api/v1/admin/agency-admins",
            headers=admin,
            timeout=30,
            json={
                "username": "mpeda.admin",
                "name": "Suresh Pillai",
                "email": "admin@mpeda.example.in",
                "mobile": "+919847022222",
                "agency_code": "MPEDA",
            },
        )
        assert created.status_code == 201, created.text
        bridge, _, made = exporter_bridge(stack, stack_env, bridge_port, tmp_path, IEC, "Ravi Kumar")
        invoice = tmp_path / "invoice.pdf"
        invoice.write_bytes(minimal_pdf())
        settings = {
            "base": stack.base,
            "var": str(var),
            "artifacts": str(tmp_path / "artifacts"),
            "admin_password": ADMIN_PASSWORD,
            "agency_admin": "mpeda.admin",
            "agency_admin_password": emailed_password(var, "admin@mpeda.example.in", hired - 1),
            "iec": IEC,
            "email": EMAIL,
            "mobile": "+91 98470 12345",
            "branches": [{"gstin": "32AAACM4821K1ZP"}, {"gstin": "27AAACM4821K1ZG"}],
            "hs_file": HS2022,
            "usd_rate": USD_RATE,
            "rate_from": (date.today() - timedelta(days=90)).isoformat(),
            "invoice": str(invoice),
            "application": two_products(),
        }
        report = browser_walk(stack, "portal_full_walk_browser", json.dumps(settings), timeout=600)
        (tmp_path / "artifacts" / "report.json").write_text(json.dumps(report, indent=2))
        number = report["seen"]["number"]
        state = requests.get(f"{stack.base}/api/v1/verify", params={"number": number}, timeout=10).json()
    finally:
        if bridge is not None:
            bridge.terminate()
            bridge.communicate(timeout=10)
        stack.stop()
    serious = {
        name: [v for v in found if v["impact"] in ("serious", "critical")]
        for name, found in report["screens"].items()
    }
    assert all(not found for found in serious.values()), serious
    assert len(report["screens"]) >= 20
    assert all((tmp_path / "artifacts" / f"{name}.png").stat().st_size > 1000 for name in report["screens"])
    # the certificate downloaded in the browser is signed, as a tool we did not write sees it
    signed = subprocess.run(
        ["pdfsig", str(tmp_path / "artifacts" / "certificate.pdf")], capture_output=True, text=True
    )
    assert "Signature Validation: Signature is Valid." in signed.stdout, signed.stdout + signed.stderr
    assert report["seen"]["comment_shown"] is True
    assert number in report["seen"]["verify_valid"] and "Valid" in report["seen"]["verify_valid"]
    assert "/verify?number=" in report["seen"]["qr_landed"] and number in report["seen"]["qr_page"]
    assert "Revoked" in report["seen"]["verify_revoked"]
    assert "post-audit" in report["seen"]["verify_revoked"]
    assert state["status"] == "revoked"
    assert not any(report["overflow"][name] for name in report["overflow"] if name.endswith("_phone"))
