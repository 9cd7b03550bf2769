"""Registered exporters for tests that need one: the registration form of the demo firm Malabar
Sea Foods (IEC AAACM4821K), signed with a fresh DSC by `openssl cms`, and a logged-in exporter."""

import base64
import re

import requests

from tests.conftest import login, mail_text
from tests.pki import make_dsc, openssl_sign

IEC = "AAACM4821K"  # Malabar Sea Foods in the bundled demo directory
DIRECTOR = "Ravi Kumar"
GSTIN_KL = "32AAACM4821K1ZP"  # PAN AAACM4821K, Kerala, check digit valid
GSTIN_MH = "27AAACM4821K1ZG"


def form(base, tmp_path, platform_env, *, iec=IEC, director=DIRECTOR, dsc=None, **overrides):
    """A complete registration for the demo firm, signed with a fresh DSC unless given."""
    challenge = requests.post(f"{base}/api/v1/registrations/challenge", json={"iec": iec}, timeout=10).json()
    cert, key = dsc or make_dsc(platform_env, tmp_path / "dsc", iec, director)
    signature = openssl_sign(base64.b64decode(challenge["nonce"]), cert, key, tmp_path)
    body = {
        "iec": iec,
        "mobile": "+91 98470 12345",
        "email": "Exports@MalabarSeaFoods.in",
        "declaration_accepted": True,
        "branches": [{"branch_id": "B1", "gstin": GSTIN_KL}, {"branch_id": "B2", "gstin": GSTIN_MH}],
        "dsc": {
            "certificate": cert.read_text(),
            "challenge_id": challenge["challenge_id"],
            "signature": base64.b64encode(signature).decode(),
        },
    }
    body.update(overrides)
    return body


def register(base, body):
    return requests.post(f"{base}/api/v1/registrations", json=body, timeout=30)


def registered_exporter(base, mailbox, tmp_path, platform_env):
    """Register the demo firm and log in: returns (token, (certificate, key)) of its DSC."""
    dsc = make_dsc(platform_env, tmp_path / "exporter-dsc", IEC, DIRECTOR)
    response = register(base, form(base, tmp_path, platform_env, dsc=dsc))
    assert response.status_code == 201, response.text
    mail = mailbox.wait_for(lambda m: "exports@malabarseafoods.in" in m["To"].lower())[0]
    password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
    return login(base, IEC, password), dsc


def register_other_exporter(world, mailbox):
    """A second exporter, Sundaram Textiles (IEC AABCS7319Q), logged in: its token."""
    base, tmp, var = world["base"], world["tmp"] / "other-exporter", world["var"]
    tmp.mkdir(exist_ok=True)
    dsc = make_dsc(var, tmp / "dsc", "AABCS7319Q", "Lakshmi Sundaram")
    body = form(
        base,
        tmp,
        var,
        iec="AABCS7319Q",
        director="Lakshmi Sundaram",
        dsc=dsc,
        mobile="+919443011223",
        email="coo@sundaramtextiles.in",
        branches=[
            {"branch_id": "B1", "gstin": "33AABCS7319Q1ZX"},
            {"branch_id": "B2", "in_sez": True, "state": "IN-TN"},
        ],
    )
    response = register(base, body)
    assert response.status_code == 201, response.text
    mail = mailbox.wait_for(lambda m: "coo@sundaramtextiles.in" in m["To"].lower())[0]
    password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
    return login(base, "AABCS7319Q", password)
