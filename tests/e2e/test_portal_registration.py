"""An exporter registers in Chromium (tests/e2e/portal_registration_browser.py drives it) against
the platform as `make up` runs it, with `opencoo bridge` on a SoftHSM2 token holding the firm's
DSC (made by `opencoo dev make-dsc`): the IEC fetched, the privacy commitment scrolled to its end
to enable "I agree", the branches filled, a GSTIN mistyped and refused at its input, then the
challenge signed by the bridge and the success screen, at a phone's width. axe-core finds no
serious or critical violation on any screen; the emailed password logs in. Screenshots are kept
in the test's folder (``artifacts/``)."""

import json
import re
from pathlib import Path

import requests

from tests.conftest import free_port, login, mail_text
from tests.e2e.conftest import Stack, browser_walk, exporter_bridge

ROOT = Path(__file__).resolve().parents[2]
IEC = "AAACM4821K"
EMAIL = "exports@malabarseafoods.in"
BRANCHES = [{"gstin": "32AAACM4821K1ZP"}, {"sez_state": "IN-MH"}]


def test_an_exporter_registers_in_the_browser_with_the_bridge(stack_env, smtp_mailbox, tmp_path):
    stack_env["OPENCOO_SMTP_URL"] = smtp_mailbox.url
    bridge_port = free_port()
    stack_env["OPENCOO_BRIDGE_URL"] = f"http://127.0.0.1:{bridge_port}"  # the portal's pages may reach it
    stack = Stack(stack_env, tmp_path / "stack.log").start()
    bridge = None
    said = ""
    try:
        bridge, bridge_url, made = exporter_bridge(stack, stack_env, bridge_port, tmp_path, IEC, "Ravi Kumar")
        report = browser_walk(
            stack,
            "portal_registration_browser",
            stack.base,
            IEC,
            "+91 98470 12345",
            EMAIL,
            json.dumps(BRANCHES),
            str(tmp_path / "artifacts"),
        )
        (tmp_path / "artifacts" / "report.json").write_text(json.dumps(report, indent=2))
        mail = smtp_mailbox.wait_for(lambda m: EMAIL in m["To"].lower(), timeout=30)[0]
        password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
        token = login(stack.base, IEC, password)
        me = requests.get(
            f"{stack.base}/api/v1/exporters/me", timeout=10, headers={"Authorization": f"Bearer {token}"}
        ).json()
    finally:
        if bridge is not None:
            bridge.terminate()
            said = bridge.communicate(timeout=10)[1]
        stack.stop()
    assert set(report["screens"]) == {
        "register_start",
        "register_refused",
        "register_form",
        "register_done",
    }
    serious = {
        name: [v for v in found if v["impact"] in ("serious", "critical")]
        for name, found in report["screens"].items()
    }
    assert all(not found for found in serious.values()), serious
    assert not any(report["overflow"].values()), report["overflow"]  # 390 px wide: no sideways scroll
    seen = report["seen"]
    # "I agree" waits for the privacy commitment to be read to its end
    assert seen["disabled_before"] is True and seen["walk_disabled_before"] is True
    assert "Scroll to the end" in seen["hint_before"] and seen["hint_after"].startswith("Read")
    assert seen["offered"].startswith("Your DSC on the bridge: Ravi Kumar"), seen
    assert seen["walk_offered"] == seen["offered"]
    assert "GSTIN" in seen["refused_at"] and "branches.0.gstin" in seen["summary"]
    assert seen["agreed_kept"] is True and seen["signature_kept"] is True
    assert "sent by email" in seen["walk_done"] and re.search(r"ex\*+@", seen["walk_done"])
    assert me["iec"] == IEC
    assert [(b["gstin"], b["in_sez"], b["state"]) for b in me["branches"]] == [
        ("32AAACM4821K1ZP", False, "IN-KL"),
        (None, True, "IN-MH"),
    ]
    # the bridge showed what it signed: the registration challenge, twice (the refused form's and
    # the registration's)
    assert said.count("signing the registration challenge") == 2, said
    assert all((tmp_path / "artifacts" / f"{name}.png").stat().st_size > 1000 for name in report["screens"])
