"""The exporter's DSC used from the browser: `opencoo bridge` on a SoftHSM2 token signs the
registration challenge (asked the way the portal's page asks it), then, in Chromium, the page's
script asks the bridge to sign an invoice before upload, and the API accepts the signature as the
exporter's. A page of another origin gets nothing from the bridge."""

import re
from pathlib import Path

import requests

from tests.conftest import ADMIN_PASSWORD, free_port, mail_text
from tests.e2e.conftest import Stack, browser_walk, exporter_bridge
from tests.e2e.test_registration_walk import challenge, register_and_log_in
from tests.integration.test_applications import minimal_pdf

ROOT = Path(__file__).resolve().parents[2]
IEC = "AAACM4821K"


def test_the_bridge_signs_for_the_page_in_the_browser(stack_env, smtp_mailbox, tmp_path):
    stack_env["OPENCOO_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    stack_env["OPENCOO_SMTP_URL"] = smtp_mailbox.url
    bridge_port = free_port()
    stack_env["OPENCOO_BRIDGE_URL"] = f"http://127.0.0.1:{bridge_port}"  # the portal's pages may reach it
    stack = Stack(stack_env, tmp_path / "stack.log").start()
    bridge = None
    try:
        bridge, bridge_url, made = exporter_bridge(stack, stack_env, bridge_port, tmp_path, IEC, "Ravi Kumar")
        # the registration challenge, signed by the bridge as the registration page asks it
        c = challenge(stack.base, IEC)
        signed = requests.post(
            bridge_url + "/sign",
            headers={"Origin": stack.base},
            timeout=30,
            json={
                "kind": "registration_challenge",
                "reference": c["challenge_id"],
                "iec": IEC,
                "data_b64": c["nonce"],
            },
        )
        assert signed.status_code == 200, signed.text
        register_and_log_in(
            stack.base,
            smtp_mailbox,
            IEC,
            "exports@malabarseafoods.in",
            "+919847012345",
            [
                {"branch_id": "B1", "gstin": "32AAACM4821K1ZP"},
                {"branch_id": "B2", "gstin": "27AAACM4821K1ZG"},
            ],
            Path(made["certificate"]).read_text(),
            c["challenge_id"],
            signed.json()["signature_b64"],
        )
        mail = smtp_mailbox.wait_for(lambda m: "exports@malabarseafoods.in" in m["To"].lower())[0]
        password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
        invoice = tmp_path / "invoice.pdf"
        invoice.write_bytes(minimal_pdf())  # a real PDF, as the API checks it
        report = browser_walk(
            stack,
            "portal_bridge_browser",
            stack.base,
            IEC,
            password,
            str(invoice),
            bridge_url,
            str(tmp_path / "artifacts"),
        )
    finally:
        if bridge is not None:
            bridge.terminate()
            said = bridge.communicate(timeout=10)[1]
        stack.stop()
    assert report["offered"].startswith("Your DSC on the bridge: Ravi Kumar"), report
    assert report["signed"].startswith("Signed by"), report
    assert report["uploaded"] == ["Commercial invoice"], report
    assert report["foreign_page_got"] == "refused", report
    assert "signing a document 'invoice.pdf' for IEC AAACM4821K" in said
