"""An exporter's registration through the portal's forms, as a browser without JavaScript sends
them: the IEC fetched (contacts masked), the form filled, the challenge downloaded and signed with
the firm's DSC (`openssl cms`, as tests/integration/test_registration.py signs it), the signature
uploaded; the success screen; the emailed password logs in through the API. Each bad input (an
unknown IEC, a wrong GSTIN, the agreement left out, a wrong signature, no CSRF token) gives a 4xx
page with the error next to its input and in the summary, and registers nothing. (The walk in
Chromium with the signer bridge is tests/e2e/test_portal_registration.py.)"""

import base64
import html
import re
import sqlite3

import pytest
import requests

from tests.conftest import login, mail_text
from tests.exporters import DIRECTOR, GSTIN_KL, IEC
from tests.integration.test_portal import hidden, portal_port, portal_serving  # noqa: F401  (a fixture)
from tests.pki import make_dsc, openssl_sign

EMAIL = "exports@malabarseafoods.in"


@pytest.fixture
def site(portal_port, platform, platform_env, smtp_mailbox):  # noqa: F811
    base = platform("registration", "signing", "notification")
    with portal_serving(portal_port):
        yield base, smtp_mailbox


@pytest.fixture
def dsc(platform_env, tmp_path):
    return make_dsc(platform_env, tmp_path / "dsc", IEC, DIRECTOR)


def fetch(browser, base, iec=IEC):
    return browser.get(f"{base}/register", params={"iec": iec}, timeout=20)


def signed_challenge(browser, base, page_html, dsc, folder, data=None) -> bytes:
    """The manual path: download the page's challenge, sign it with the DSC (DER)."""
    link = html.unescape(re.search(r'href="(/register/challenge\?[^"]+)"', page_html).group(1))
    nonce = browser.get(base + link, timeout=10)
    assert nonce.status_code == 200
    assert nonce.headers["Content-Disposition"] == f'attachment; filename="challenge-{IEC}.bin"'
    assert nonce.content == base64.b64decode(hidden(page_html, "nonce")) and len(nonce.content) == 32
    cert, key = dsc
    return openssl_sign(nonce.content if data is None else data, cert, key, folder)


def filled(page_html, **changes) -> dict:
    form = {
        "csrf_token": hidden(page_html, "csrf_token"),
        "iec": hidden(page_html, "iec"),
        "challenge_id": hidden(page_html, "challenge_id"),
        "nonce": hidden(page_html, "nonce"),
        "mobile": "+91 98470 12345",
        "email": "Exports@MalabarSeaFoods.in",
        "branches.0.gstin": GSTIN_KL,
        "branches.1.in_sez": "on",
        "branches.1.state": "IN-MH",
        "aeo_number": "",
        "declaration_accepted": "on",
        "signature": "",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def send(browser, base, form, signature_file: bytes | None = None):
    files = {"signature_file": ("challenge.bin.p7s", signature_file or b"", "application/pkcs7-signature")}
    return browser.post(f"{base}/register", data=form, files=files, timeout=30, allow_redirects=False)


def nothing_registered(base, platform_env):
    assert requests.get(f"{base}/api/v1/iec/{IEC}", timeout=10).json()["registered"] is False
    db = sqlite3.connect(platform_env / "db" / "registration.sqlite3")
    assert db.execute("select count(*) from exporter").fetchone() == (0,)
    assert db.execute("select count(*) from account where role='exporter'").fetchone() == (0,)


def error_at(page_html: str, name: str) -> str:
    """The error shown next to input ``name``: tied to it, and listed in the summary."""
    tag = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{re.escape(name)}"[^>]*>', page_html).group(0)
    assert 'aria-invalid="true"' in tag, tag
    assert f"error-{name}" in re.search(r'aria-describedby="([^"]*)"', tag).group(1), tag
    message = re.search(rf'<p class="field-error" id="error-{re.escape(name)}">([^<]*)</p>', page_html).group(
        1
    )
    summary = re.search(r'<div class="problem" role="alert" id="problem"[^>]*>(.*?)</div>', page_html, re.S)
    summary = summary.group(1)
    assert f'href="#{name}"' in summary, summary
    return html.unescape(message)


def test_registering_through_the_portal_then_logging_in(site, dsc, tmp_path, platform_env):
    base, mailbox = site
    browser = requests.Session()
    start = browser.get(f"{base}/register", timeout=10)
    assert start.status_code == 200 and 'name="iec"' in start.text
    assert 'href="/register"' in browser.get(f"{base}/", timeout=10).text  # offered on the home page

    page = fetch(browser, base, IEC.lower())  # as typed
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert "Malabar Sea Foods Private Limited" in text
    assert "Ravi Kumar" in text and "Anita Menon" in text  # the directors
    assert re.search(r"<dd>ex\*+@", text)  # the contacts masked, as the API gives them
    assert "exports@malabarseafoods.in" not in text.lower() and "9847012345" not in text
    assert 'data-bridge-sign="registration_challenge"' in page.text  # the bridge's way
    assert 'id="privacy"' in page.text
    agree = re.search(r'<input id="declaration_accepted"[^>]*>', page.text).group(0)
    assert "disabled" not in agree  # without JavaScript "I agree" works; the script gates it

    signature = signed_challenge(browser, base, page.text, dsc, tmp_path)
    done = send(browser, base, filled(page.text), signature_file=signature)  # the .p7s uploaded
    assert done.status_code == 303, done.text
    assert done.headers["Location"] == f"/register/done?iec={IEC}"
    shown = browser.get(base + done.headers["Location"], timeout=10)
    assert shown.status_code == 200
    assert "sent by email" in shown.text and re.search(r"ex\*+@", shown.text)

    mail = mailbox.wait_for(lambda m: EMAIL in m["To"].lower())[0]
    password = re.search(r"[Pp]assword:\s*(\S+)", mail_text(mail)).group(1)
    token = login(base, IEC, password)
    me = requests.get(f"{base}/api/v1/exporters/me", timeout=10, headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert [(b["branch_id"], b["gstin"], b["in_sez"], b["state"]) for b in me.json()["branches"]] == [
        ("B1", GSTIN_KL, False, "IN-KL"),
        ("B2", None, True, "IN-MH"),
    ]
    # once registered, the IEC's page says so and leads to the login
    again = fetch(requests.Session(), base)
    assert again.status_code == 200 and "registered already" in again.text and 'href="/login"' in again.text
    assert 'name="challenge_id"' not in again.text


def test_bad_inputs_are_shown_at_their_fields_and_register_nothing(site, dsc, tmp_path, platform_env):
    base, _ = site
    browser = requests.Session()

    unknown = fetch(browser, base, "ZZZZZ9999Z")
    assert unknown.status_code == 404, unknown.text
    assert error_at(unknown.text, "iec")
    malformed = fetch(browser, base, "AB/../x")
    assert malformed.status_code == 422 and "10 letters and digits" in error_at(malformed.text, "iec")

    page = fetch(browser, base)
    challenge_id = hidden(page.text, "challenge_id")
    signature = base64.b64encode(signed_challenge(browser, base, page.text, dsc, tmp_path)).decode()

    # a GSTIN with a wrong check digit: shown at that branch's GSTIN; the challenge and the
    # signature are kept (the API had not taken the challenge), the rest as typed
    bad_gstin = send(
        browser, base, filled(page.text, **{"branches.0.gstin": "32AAACM4821K1ZX", "signature": signature})
    )
    assert bad_gstin.status_code == 422, bad_gstin.text
    assert "GSTIN" in error_at(bad_gstin.text, "branches.0.gstin")
    assert 'value="32AAACM4821K1ZX"' in bad_gstin.text
    assert hidden(bad_gstin.text, "challenge_id") == challenge_id and signature in bad_gstin.text
    nothing_registered(base, platform_env)

    # the contacts: one left out (the API's schema), one not the IEC record's (its rule)
    empty = send(browser, base, filled(page.text, mobile="", signature=signature))
    assert empty.status_code == 400, empty.text
    assert error_at(empty.text, "mobile")
    other = send(browser, base, filled(page.text, email="someone@else.in", signature=signature))
    assert other.status_code == 422, other.text
    assert "IEC record" in error_at(other.text, "email")
    nothing_registered(base, platform_env)

    # the agreement left out
    no_agreement = send(browser, base, filled(page.text, declaration_accepted=None, signature=signature))
    assert no_agreement.status_code == 422
    assert error_at(no_agreement.text, "declaration_accepted")
    nothing_registered(base, platform_env)

    # no signature at all, and bytes that are no signature
    for given in ("", "bm90IGEgc2lnbmF0dXJl"):
        unsigned = send(browser, base, filled(page.text, signature=given))
        assert unsigned.status_code == 422
        assert error_at(unsigned.text, "signature")
    nothing_registered(base, platform_env)

    # a signature over other bytes: refused at the signature; that challenge is spent, the page
    # offers a new one to sign
    wrong = base64.b64encode(signed_challenge(browser, base, page.text, dsc, tmp_path, b"other")).decode()
    refused = send(browser, base, filled(page.text, signature=wrong))
    assert refused.status_code == 422, refused.text
    assert "signature" in error_at(refused.text, "signature").lower()
    assert hidden(refused.text, "challenge_id") != challenge_id
    assert wrong not in refused.text
    nothing_registered(base, platform_env)

    # without the CSRF token (or with another's): refused before anything is sent to the API
    fresh = fetch(browser, base)
    good = base64.b64encode(signed_challenge(browser, base, fresh.text, dsc, tmp_path)).decode()
    for token in (None, "forged"):
        forged = send(browser, base, filled(fresh.text, csrf_token=token, signature=good))
        assert forged.status_code == 403 and "nothing was changed" in forged.text
    nothing_registered(base, platform_env)
    # and that challenge still registers, through the form with its token
    assert send(browser, base, filled(fresh.text, signature=good)).status_code == 303
