"""The registration walk against the running stack, as exporters would do it: once with a DSC
made by `opencoo dev make-dsc` on SoftHSM2 and signed by `opencoo sign`, once with a DSC made and
used with nothing but `openssl`. The password arrives at a real SMTP server and logs in."""

import base64
import re
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import login, mail_text
from tests.e2e.conftest import Stack

BIN = Path(sys.executable).parent


def run(*args, env, cwd=None):
    result = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def challenge(base, iec):
    response = requests.post(f"{base}/api/v1/registrations/challenge", json={"iec": iec}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def register_and_log_in(
    base, mailbox, iec, email, mobile, branches, certificate, challenge_id, signature_b64
):
    response = requests.post(
        f"{base}/api/v1/registrations",
        timeout=30,
        json={
            "iec": iec,
            "mobile": mobile,
            "email": email,
            "declaration_accepted": True,
            "branches": branches,
            "dsc": {"certificate": certificate, "challenge_id": challenge_id, "signature": signature_b64},
        },
    )
    assert response.status_code == 201, response.text
    mail = mailbox.wait_for(lambda m: email in m["To"].lower(), timeout=30)[0]
    password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
    token = login(base, iec, password)
    me = requests.get(f"{base}/api/v1/exporters/me", timeout=10, headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["iec"] == iec
    return me.json()


def test_registration_with_the_cli_dsc_and_with_plain_openssl(stack_env, smtp_mailbox, tmp_path):
    stack_env["OPENCOO_SMTP_URL"] = smtp_mailbox.url
    stack = Stack(stack_env, tmp_path / "stack.log").start()
    var = Path(stack_env["OPENCOO_VAR"])
    try:
        # 1. Malabar Sea Foods: DSC on a SoftHSM2 token made by the CLI, signed by the CLI.
        made = run(
            BIN / "opencoo", "dev", "make-dsc", "--iec", "AAACM4821K", "--name", "Ravi Kumar", env=stack_env
        )
        fields = dict(re.findall(r"^(certificate|module|token|PIN):\s+(\S+)$", made, re.M))
        c = challenge(stack.base, "AAACM4821K")
        nonce = tmp_path / "nonce1.bin"
        nonce.write_bytes(base64.b64decode(c["nonce"]))
        signature = run(
            BIN / "opencoo",
            "sign",
            "--module",
            fields["module"],
            "--token",
            fields["token"],
            "--pin",
            fields["PIN"],
            "--base64",
            nonce,
            env=stack_env,
        ).strip()
        profile = register_and_log_in(
            stack.base,
            smtp_mailbox,
            "AAACM4821K",
            "exports@malabarseafoods.in",
            "+919847012345",
            [
                {"branch_id": "B1", "gstin": "32AAACM4821K1ZP"},
                {"branch_id": "B2", "gstin": "27AAACM4821K1ZG"},
            ],
            Path(fields["certificate"]).read_text(),
            c["challenge_id"],
            signature,
        )
        assert [b["gstin"] for b in profile["branches"]] == ["32AAACM4821K1ZP", "27AAACM4821K1ZG"]

        # 2. Sundaram Textiles: key, request, certificate and signature with openssl alone.
        key, csr, cert = tmp_path / "k.pem", tmp_path / "r.csr", tmp_path / "c.pem"
        run(
            "openssl",
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            csr,
            "-subj",
            "/C=IN/OU=IEC AABCS7319Q/CN=Lakshmi Sundaram",
            env=stack_env,
        )
        ext = tmp_path / "ext.cnf"
        ext.write_text("keyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=CA:FALSE\n")
        run(
            "openssl",
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            var / "pki" / "dev-ca.pem",
            "-CAkey",
            var / "pki" / "dev-ca.key",
            "-CAcreateserial",
            "-days",
            "365",
            "-extfile",
            ext,
            "-out",
            cert,
            env=stack_env,
        )
        c = challenge(stack.base, "AABCS7319Q")
        nonce = tmp_path / "nonce2.bin"
        nonce.write_bytes(base64.b64decode(c["nonce"]))
        der = subprocess.run(
            [
                "openssl",
                "cms",
                "-sign",
                "-binary",
                "-outform",
                "DER",
                "-in",
                str(nonce),
                "-signer",
                str(cert),
                "-inkey",
                str(key),
            ],
            check=True,
            capture_output=True,
        ).stdout
        profile = register_and_log_in(
            stack.base,
            smtp_mailbox,
            "AABCS7319Q",
            "coo@sundaramtextiles.in",
            "+919443011223",
            [
                {"branch_id": "B1", "gstin": "33AABCS7319Q1ZX"},
                {"branch_id": "B2", "in_sez": True, "state": "IN-TN"},
            ],
            cert.read_text(),
            c["challenge_id"],
            base64.b64encode(der).decode(),
        )
        assert profile["branches"][1]["in_sez"] is True
    finally:
        stack.stop()
