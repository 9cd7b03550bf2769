"""`opencoo bridge` on a SoftHSM2 token, as the exporter runs it: the portal's origin only (with
the Private Network Access preflight), the PIN from a file and never from the page, a wrong PIN
reported, a token without the IEC's certificate reported, and signatures that `openssl cms`
verifies."""

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.integration.test_exporter_signing import IEC, make_dsc, openssl_verify, var  # noqa: F401

PORTAL = "https://coo.example.in"
DOCUMENT = b"%PDF-1.7\ncommercial invoice INV-2026-0042\n%%EOF\n"


def start_bridge(made: dict, pin: str, origin: str, port: int, env: dict, folder: Path):
    """`opencoo bridge` for the token ``made`` (make-dsc's output), once it answers: (process, URL).
    A bridge that exits at once (a wrong PIN) is returned too, for its message."""
    pin_file = folder / "pin"
    pin_file.write_text(pin)
    bridge = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "opencoo"),
            "bridge",
            "--module",
            made["module"],
            "--token",
            made["token"],
            "--pin-file",
            str(pin_file),
            "--port",
            str(port),
            "--portal-origin",
            origin,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline and bridge.poll() is None:
        try:
            requests.options(url + "/sign", headers={"Origin": origin}, timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    return bridge, url


def start(made, var, tmp_path, pin):  # noqa: F811  (var: the fixture's folder)
    env = {**os.environ, "OPENCOO_VAR": str(var), "SOFTHSM2_CONF": made["conf"]}
    return start_bridge(made, pin, PORTAL, free_port(), env, tmp_path)


@pytest.fixture
def token(var, tmp_path):  # noqa: F811
    return make_dsc(iec=IEC, name="Asha Rao")


def test_the_bridge_signs_for_the_portal_only(token, var, tmp_path):  # noqa: F811
    bridge, base = start(token, var, tmp_path, token["PIN"])
    try:
        preflight = requests.options(
            base + "/sign",
            timeout=5,
            headers={
                "Origin": PORTAL,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Private-Network": "true",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == PORTAL
        assert preflight.headers["Access-Control-Allow-Private-Network"] == "true"
        for other in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {}):
            refused = requests.post(base + "/sign", headers=other, timeout=5, json={})
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "ORIGIN_REFUSED"
            assert "Access-Control-Allow-Origin" not in refused.headers
        held = requests.get(base + "/certificates", headers={"Origin": PORTAL}, timeout=10).json()
        assert [c["iec"] for c in held["certificates"] if c["iec"]] == [IEC]  # and its issuers

        body = {
            "kind": "document",
            "reference": "invoice.pdf",
            "iec": IEC,
            "data_b64": base64.b64encode(DOCUMENT).decode(),
        }
        signed = requests.post(base + "/sign", headers={"Origin": PORTAL}, json=body, timeout=30)
        assert signed.status_code == 200, signed.text
        (tmp_path / "doc.pdf").write_bytes(DOCUMENT)
        (tmp_path / "doc.p7s").write_bytes(base64.b64decode(signed.json()["signature_b64"]))
        verified = openssl_verify(tmp_path / "doc.p7s", tmp_path / "doc.pdf", var / "pki" / "dev-ca.pem")
        assert verified.returncode == 0, verified.stderr
        assert "Asha Rao" in signed.json()["signer"]

        other_iec = requests.post(
            base + "/sign", headers={"Origin": PORTAL}, timeout=10, json={**body, "iec": "AABCS7319Q"}
        )
        assert other_iec.status_code == 422 and other_iec.json()["error"]["code"] == "IEC_CERTIFICATE_MISSING"
        for bad in ({**body, "kind": "anything"}, {**body, "data_b64": "***"}, {"kind": "document"}):
            assert (
                requests.post(base + "/sign", headers={"Origin": PORTAL}, json=bad, timeout=10).status_code
                == 400
            )
    finally:
        bridge.terminate()
        _, said = bridge.communicate(timeout=10)
    # what it signed, shown to the exporter before it signed
    assert f"signing a document 'invoice.pdf' for IEC {IEC}: SHA-256 " in said
    assert said.count("signing ") == 1  # the refused requests signed nothing


def test_a_wrong_pin_is_reported_at_start(token, var, tmp_path):  # noqa: F811
    bridge, _ = start(token, var, tmp_path, "000000")
    _, said = bridge.communicate(timeout=30)
    assert bridge.returncode == 1 and "wrong PIN" in said


def test_the_bridge_signs_a_registration_challenge_with_the_certificate_inside(token, var, tmp_path):  # noqa: F811
    """The registration page's kind: the nonce signed as the API checks it, and the signature
    carries the DSC's certificate, which the portal sends with it (portal.views.registration)."""
    from portal.views.registration import signature_der, signer_certificate

    nonce = os.urandom(32)
    bridge, base = start(token, var, tmp_path, token["PIN"])
    try:
        signed = requests.post(
            base + "/sign",
            headers={"Origin": PORTAL},
            timeout=30,
            json={
                "kind": "registration_challenge",
                "reference": "challenge-1",
                "iec": IEC,
                "data_b64": base64.b64encode(nonce).decode(),
            },
        )
        assert signed.status_code == 200, signed.text
    finally:
        bridge.terminate()
        _, said = bridge.communicate(timeout=10)
    assert f"signing the registration challenge 'challenge-1' for IEC {IEC}: SHA-256 " in said
    der = signature_der(signed.json()["signature_b64"])
    assert der is not None
    (tmp_path / "nonce.bin").write_bytes(nonce)
    (tmp_path / "nonce.p7s").write_bytes(der)
    verified = openssl_verify(tmp_path / "nonce.p7s", tmp_path / "nonce.bin", var / "pki" / "dev-ca.pem")
    assert verified.returncode == 0, verified.stderr
    # the certificate inside is the token's DSC, not its issuer
    inside = signer_certificate(der)
    assert inside is not None
    assert "".join(inside.split()) == "".join(Path(token["certificate"]).read_text().split())
