"""The portal behind the gateway, over HTTP as a browser without JavaScript uses it: one address,
server-side sessions behind an HttpOnly cookie, a CSRF token on every form, log-in with the
captcha and back to the page asked for, and the API's refusals shown on the page. (The walk in a
real browser is tests/e2e/test_portal_walk.py.)"""

import base64
import re
from contextlib import contextmanager

import eventlet
import pytest
import requests
from eventlet import wsgi

from tests.conftest import ADMIN_PASSWORD, free_port
from tests.exporters import IEC
from tests.integration.test_applications import world  # noqa: F401  (a fixture)


@pytest.fixture
def portal_port(platform_env, monkeypatch):
    """Where this test's portal listens; set before the gateway starts, which hands it pages."""
    port = free_port()
    monkeypatch.setenv("OPENCOO_PORTAL_HTTP", f"127.0.0.1:{port}")
    monkeypatch.setenv("OPENCOO_PORTAL_URL", f"http://127.0.0.1:{port}")
    return port


@contextmanager
def portal_serving(port):
    import portal.views  # noqa: F401  (declares the screens)
    from portal import api, sessions
    from portal.app import Portal
    from services.chassis import config

    app = Portal(api.from_config(), sessions.SessionStore(), config.public_url())
    listener = eventlet.listen(("127.0.0.1", port))
    server = eventlet.spawn(wsgi.server, listener, app, log_output=False)
    try:
        yield
    finally:
        server.kill()
        listener.close()


@pytest.fixture
def site(portal_port, platform, platform_env):
    """The platform with its portal: the gateway at the public URL hands pages to the portal."""
    base = platform()
    with portal_serving(portal_port):
        yield base


def captcha_answer(html: str) -> str:
    a, b = re.search(r"What is (\d+) \+ (\d+)\?", html).groups()
    return str(int(a) + int(b))


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def log_in(browser, base, username, password, next_page=""):
    form = browser.get(f"{base}/login", params={"next": next_page} if next_page else None, timeout=10)
    assert form.status_code == 200, form.text
    return browser.post(
        f"{base}/login",
        timeout=10,
        allow_redirects=False,
        data={
            "csrf_token": hidden(form.text, "csrf_token"),
            "captcha_id": hidden(form.text, "captcha_id"),
            "next": hidden(form.text, "next"),
            "username": username,
            "password": password,
            "captcha_answer": captcha_answer(form.text),
        },
    )


def test_the_home_page_is_the_portals_at_the_platforms_address_with_no_session(site):
    home = requests.get(site + "/", timeout=10)
    assert home.status_code == 200
    assert "Enter your certificate number" in home.text
    policy = home.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert home.headers["X-Content-Type-Options"] == "nosniff"
    assert home.headers.get("Set-Cookie") is None, home.headers["Set-Cookie"]  # no session made
    css = requests.get(site + "/static/portal.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert requests.get(site + "/static/../app.py", timeout=10).status_code == 404
    # the API keeps its own answers: JSON, not the portal's pages
    missing = requests.get(site + "/api/v1/nothing-here", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"]


def test_logging_in_through_the_portal_and_back_to_the_page_asked_for(site):
    browser = requests.Session()
    asked = browser.get(site + "/dashboard", timeout=10, allow_redirects=False)
    assert asked.status_code == 302 and asked.headers["Location"].endswith("/login?next=/dashboard")
    form = browser.get(site + "/login?next=/dashboard", timeout=10)
    cookie = form.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    anonymous = browser.cookies["opencoo_session"]
    done = log_in(browser, site, "admin", ADMIN_PASSWORD, "/dashboard")
    assert done.status_code == 303 and done.headers["Location"] == "/dashboard"
    assert browser.cookies["opencoo_session"] != anonymous  # a new session at login
    dashboard = browser.get(site + "/dashboard", timeout=10)
    assert dashboard.status_code == 200 and "admin (admin)" in dashboard.text
    assert dashboard.headers["Cache-Control"] == "no-store"
    # the API token stays on the server: nothing in the page or the cookie looks like a JWT
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.", dashboard.text + browser.cookies["opencoo_session"])
    # logging out ends the session: the old cookie opens nothing
    old = dict(browser.cookies)
    out = browser.post(
        site + "/logout",
        data={"csrf_token": hidden(dashboard.text, "csrf_token")},
        timeout=10,
        allow_redirects=False,
    )
    assert out.status_code == 303
    again = requests.get(site + "/dashboard", cookies=old, timeout=10, allow_redirects=False)
    assert again.status_code == 302


def test_a_form_without_its_csrf_token_changes_nothing(site):
    browser = requests.Session()
    form = browser.get(site + "/login", timeout=10)
    for token in ("", "forged", hidden(form.text, "csrf_token") + "x"):
        refused = browser.post(
            site + "/login",
            timeout=10,
            allow_redirects=False,
            data={
                "csrf_token": token,
                "captcha_id": hidden(form.text, "captcha_id"),
                "username": "admin",
                "password": ADMIN_PASSWORD,
                "captcha_answer": captcha_answer(form.text),
            },
        )
        assert refused.status_code == 403 and "nothing was changed" in refused.text
    # the captcha was not even spent: the same form still logs in
    done = browser.post(
        site + "/login",
        timeout=10,
        allow_redirects=False,
        data={
            "csrf_token": hidden(form.text, "csrf_token"),
            "captcha_id": hidden(form.text, "captcha_id"),
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "captcha_answer": captcha_answer(form.text),
            "next": "//evil.example/steal",
        },
    )
    assert done.status_code == 303 and done.headers["Location"] == "/dashboard"  # never elsewhere
    # another site's form posting with the browser's cookie has no token to send
    logout = browser.post(site + "/logout", timeout=10, allow_redirects=False)
    assert logout.status_code == 403
    assert browser.get(site + "/dashboard", timeout=10).status_code == 200  # still logged in


def test_the_apis_refusal_is_shown_on_the_form(site):
    browser = requests.Session()
    refused = log_in(browser, site, "admin", "not the password")
    assert refused.status_code == 401
    assert "username or password" in refused.text.lower()
    assert 'value="admin"' in refused.text  # what was typed stays, the password does not
    assert "not the password" not in refused.text
    wrong_captcha = browser.get(site + "/login", timeout=10)
    answer = browser.post(
        site + "/login",
        timeout=10,
        data={
            "csrf_token": hidden(wrong_captcha.text, "csrf_token"),
            "captcha_id": hidden(wrong_captcha.text, "captcha_id"),
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "captcha_answer": "-1",
        },
    )
    assert answer.status_code == 400 and 'aria-invalid="true"' in answer.text


@pytest.fixture
def exporter(site, smtp_mailbox, tmp_path, platform_env):
    """The demo exporter, registered: (IEC, password from the credentials email, API token)."""
    from tests.conftest import mail_text
    from tests.exporters import IEC, registered_exporter

    token, _ = registered_exporter(site, smtp_mailbox, tmp_path, platform_env)
    mail = smtp_mailbox.wait_for(lambda m: "exports@malabarseafoods.in" in m["To"].lower())[0]
    return IEC, re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1), token


def test_the_exporter_sees_its_applications_and_a_revoked_token_asks_to_log_in(site, exporter):
    iec, password, token = exporter
    api = {"Authorization": f"Bearer {token}"}
    made = requests.post(
        site + "/api/v1/applications",
        headers=api,
        timeout=10,
        json={"kind": "preferential", "agreement_code": "013"},
    )
    assert made.status_code == 201, made.text
    browser = requests.Session()
    assert log_in(browser, site, iec, password).status_code == 303
    dashboard = browser.get(site + "/dashboard", timeout=10)
    assert re.search(r"Drafts <span class=\"count\">1</span>", dashboard.text), dashboard.text
    listing = browser.get(site + "/applications?status=draft", timeout=10)
    assert f"/applications/{made.json()['id']}" in listing.text and "Showing 1–1 of 1" in listing.text
    one = browser.get(site + f"/applications/{made.json()['id']}", timeout=10)
    assert one.status_code == 200 and "Draft application" in one.text
    assert browser.get(site + "/applications/not-an-application", timeout=10).status_code == 404
    refused = browser.get(site + "/applications?date_from=0202-01-01", timeout=10)
    assert refused.status_code == 400 and "date_from" in refused.text  # the API's refusal, shown
    assert browser.get(site + "/officer/applications", timeout=10).status_code == 403
    # the password changes elsewhere: the API refuses the session's token, the portal asks to
    # log in and comes back to the page
    changed = requests.post(
        site + "/api/v1/auth/change-password",
        headers=api,
        timeout=10,
        json={"current_password": password, "new_password": "Another-passw0rd"},
    )
    assert changed.status_code == 200, changed.text
    asked = browser.get(site + "/applications?status=draft", timeout=10, allow_redirects=False)
    assert asked.status_code == 302
    assert asked.headers["Location"].endswith("/login?next=/applications?status=draft")
    back = log_in(browser, site, iec, "Another-passw0rd", "/applications?status=draft")
    assert back.headers["Location"] == "/applications?status=draft"


def test_screens_refuse_other_roles_and_unknown_pages(site):
    browser = requests.Session()
    log_in(browser, site, "admin", ADMIN_PASSWORD)
    assert browser.get(site + "/applications", timeout=10).status_code == 403
    assert browser.get(site + "/officer/applications", timeout=10).status_code == 403
    missing = browser.get(site + "/no/such/page", timeout=10)
    assert missing.status_code == 404 and "There is no such page" in missing.text


def test_the_officer_decides_from_the_queue_and_a_refusal_keeps_the_page(portal_port, world, smtp_mailbox):
    from tests.conftest import mail_text
    from tests.integration.test_examination import paid

    application_id = paid(world)
    from tests.staff import make_staff

    make_staff(world["base"], smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI")
    mail = smtp_mailbox.wait_for(lambda m: "kochi.officer@" in m["To"].lower())[0]
    password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
    base = world["base"]
    with portal_serving(portal_port):
        browser = requests.Session()
        assert log_in(browser, base, "kochi.officer", password).status_code == 303
        dashboard = browser.get(base + "/dashboard", timeout=10)
        assert "Queue: 1 waiting for examination" in dashboard.text
        queue = browser.get(base + "/officer/applications", timeout=10)
        assert f"/officer/applications/{application_id}" in queue.text
        page = browser.get(base + f"/officer/applications/{application_id}", timeout=10)
        assert "Raise discrepancy" in page.text and 'for="reject-reason"' in page.text
        token = hidden(page.text, "csrf_token")
        # an empty reason is the API's refusal, shown on the page; nothing is decided
        empty = browser.post(
            base + f"/officer/applications/{application_id}/reject",
            timeout=10,
            data={"csrf_token": token, "reason": "  "},
        )
        assert empty.status_code == 400 and 'aria-invalid="true"' in empty.text
        assert "Raise discrepancy" in empty.text
        # a forged form (no token) changes nothing either
        forged = browser.post(
            base + f"/officer/applications/{application_id}/discrepancy",
            timeout=10,
            data={"comment": "Attach the packing list"},
        )
        assert forged.status_code == 403
        raised = browser.post(
            base + f"/officer/applications/{application_id}/discrepancy",
            timeout=10,
            data={"csrf_token": token, "comment": "Attach the packing list"},
            allow_redirects=False,
        )
        assert raised.status_code == 303
        after = browser.get(base + raised.headers["Location"], timeout=10)
        assert "discrepancy" in after.text and "Attach the packing list" in after.text
        assert "Raise discrepancy" not in after.text  # decided: no more decision forms
        unknown = browser.post(
            base + f"/officer/applications/{application_id}/promote", timeout=10, data={"csrf_token": token}
        )
        assert unknown.status_code == 404


def test_forgot_and_change_password_in_the_portal(site, smtp_mailbox):
    browser = requests.Session()
    form = browser.get(site + "/forgot-password", timeout=10)
    wrong = browser.post(
        site + "/forgot-password",
        timeout=10,
        data={
            "csrf_token": hidden(form.text, "csrf_token"),
            "captcha_id": hidden(form.text, "captcha_id"),
            "username": "admin",
            "email": "nobody@example.in",
            "captcha_answer": "-1",
        },
    )
    assert wrong.status_code == 400 and 'value="nobody@example.in"' in wrong.text
    form = browser.get(site + "/forgot-password", timeout=10)
    sent = browser.post(
        site + "/forgot-password",
        timeout=10,
        data={
            "csrf_token": hidden(form.text, "csrf_token"),
            "captcha_id": hidden(form.text, "captcha_id"),
            "username": "nobody",
            "email": "nobody@example.in",
            "captcha_answer": captcha_answer(form.text),
        },
    )
    assert sent.status_code == 200 and "a link to choose a new password" in sent.text  # says nothing more

    assert log_in(browser, site, "admin", ADMIN_PASSWORD).status_code == 303
    page = browser.get(site + "/change-password", timeout=10)
    token = hidden(page.text, "csrf_token")
    typo = browser.post(
        site + "/change-password",
        timeout=10,
        data={"csrf_token": token, "current_password": "not it", "new_password": "Another-passw0rd"},
    )
    assert typo.status_code == 401 and 'aria-invalid="true"' in typo.text
    assert browser.get(site + "/dashboard", timeout=10).status_code == 200  # a typo does not log out
    weak = browser.post(
        site + "/change-password",
        timeout=10,
        data={"csrf_token": token, "current_password": ADMIN_PASSWORD, "new_password": "short"},
    )
    assert weak.status_code == 422
    done = browser.post(
        site + "/change-password",
        timeout=10,
        data={"csrf_token": token, "current_password": ADMIN_PASSWORD, "new_password": "Another-passw0rd"},
    )
    assert done.status_code == 200 and "Your password is changed" in done.text
    assert browser.get(site + "/dashboard", timeout=10).status_code == 200  # still logged in here
    from tests.conftest import login

    assert login(site, "admin", "Another-passw0rd")


def test_the_exporter_fills_the_form_saves_a_draft_and_sees_refusals_by_their_fields(site, exporter):
    from tests.application_fixtures import valid_application

    iec, password, token = exporter
    browser = requests.Session()
    assert log_in(browser, site, iec, password).status_code == 303
    blank = browser.get(site + "/applications/new", timeout=10)
    assert blank.status_code == 200 and 'name="products.0.hs_code"' in blank.text
    assert '<option value="MPEDA-KOCHI">' in blank.text and '<option value="013">' in blank.text
    sample = valid_application()
    product, material = sample["products"][0], sample["products"][0]["raw_materials"][0]
    form = {
        "csrf_token": hidden(blank.text, "csrf_token"),
        "kind": "preferential",
        "agreement_code": "013",
        "shipment_timing": "before",
        "agency_code": "MPEDA",
        "regional_office_code": "MPEDA-RO-KOCHI",
        "issuing_office_code": "MPEDA-KOCHI",
        "branch_id": "B1",
        "uses_non_originating_materials": "on",
        **{f"importer.{k}": v for k, v in sample["importer"].items()},
        **{f"products.0.{k}": v for k, v in product.items() if k != "raw_materials"},
        **{f"products.0.raw_materials.0.{k}": v for k, v in material.items()},
    }
    # a quantity that is not a number: the API's refusal next to its input, nothing made
    refused = browser.post(
        site + "/applications/new", timeout=10, data={**form, "products.0.raw_materials.0.quantity": "lots"}
    )
    assert refused.status_code == 400
    assert 'id="error-products.0.raw_materials.0.quantity"' in refused.text
    assert 'value="lots"' in refused.text and 'value="Saigon Seafood Trading JSC"' in refused.text  # kept
    api = {"Authorization": f"Bearer {token}"}
    assert requests.get(site + "/api/v1/applications", headers=api, timeout=10).json()["total"] == 0
    saved = browser.post(site + "/applications/new", data=form, timeout=10, allow_redirects=False)
    assert saved.status_code == 303, saved.text
    application_id = saved.headers["Location"].rsplit("/", 1)[1]
    stored = requests.get(site + f"/api/v1/applications/{application_id}", headers=api, timeout=10).json()
    assert stored["form"]["importer"] == sample["importer"]
    assert stored["form"]["products"][0]["raw_materials"][0]["supplier"] == material["supplier"]
    assert (
        stored["form"]["uses_non_originating_materials"] is True
        and stored["form"]["postal_delivery"] is False
    )
    # editing: a second product added, the raw material removed
    edit = browser.get(site + f"/applications/{application_id}/edit", timeout=10)
    assert 'value="030617"' in edit.text and 'name="products.1.hs_code"' in edit.text
    again = {
        **form,
        "csrf_token": hidden(edit.text, "csrf_token"),
        "products.0.raw_materials.0.remove": "on",
        "products.1.hs_code": "160521",
        "products.1.description": "Prepared shrimps",
    }
    assert (
        browser.post(site + f"/applications/{application_id}/edit", data=again, timeout=10).status_code == 200
    )
    stored = requests.get(site + f"/api/v1/applications/{application_id}", headers=api, timeout=10).json()
    assert [p["hs_code"] for p in stored["form"]["products"]] == ["030617", "160521"]
    assert "raw_materials" not in stored["form"]["products"][0]


def test_documents_submission_with_dsc_and_payment_in_the_portal(portal_port, world, smtp_mailbox):
    from tests.conftest import mail_text
    from tests.integration.test_applications import application_body, call, minimal_pdf
    from tests.pki import openssl_sign

    mail = smtp_mailbox.wait_for(lambda m: "exports@malabarseafoods.in" in m["To"].lower())[0]
    password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
    base, (cert, key) = world["base"], world["dsc"]
    application_id = call(world, "POST", "/api/v1/applications", json=application_body()).json()["id"]
    pdf = minimal_pdf()
    with portal_serving(portal_port):
        browser = requests.Session()
        assert log_in(browser, base, IEC, password).status_code == 303
        page = browser.get(base + f"/applications/{application_id}/documents", timeout=10)
        assert "No documents yet" in page.text and 'data-max-bytes="2097152"' in page.text
        assert '<script src="/static/bridge.js" defer></script>' in page.text
        token = hidden(page.text, "csrf_token")

        def upload(kind, signature):
            return browser.post(
                base + f"/applications/{application_id}/documents",
                timeout=30,
                allow_redirects=False,
                data={"csrf_token": token, "kind": kind, "signature": signature},
                files={"file": ("invoice.pdf", pdf, "application/pdf")},
            )

        unsigned = upload("invoice", "")
        assert unsigned.status_code in (400, 422) and 'role="alert"' in unsigned.text
        signature = base64.b64encode(openssl_sign(pdf, cert, key, world["tmp"])).decode()
        assert upload("invoice", signature).status_code == 303
        assert upload("other", signature).status_code == 303
        listed = browser.get(base + f"/applications/{application_id}/documents", timeout=10)
        documents = call(world, "GET", f"/api/v1/applications/{application_id}").json()["documents"]
        other = next(d["id"] for d in documents if d["kind"] == "other")
        remove = f"/applications/{application_id}/documents/{other}/remove"
        assert remove in listed.text
        assert (
            browser.post(
                base + remove, timeout=10, data={"csrf_token": token}, allow_redirects=False
            ).status_code
            == 303
        )
        left = call(world, "GET", f"/api/v1/applications/{application_id}").json()["documents"]
        assert [d["kind"] for d in left] == ["invoice"]
        # the files, through the portal: the document as uploaded, the draft certificate, the list
        got = browser.get(base + f"/applications/{application_id}/documents/{left[0]['id']}/file", timeout=10)
        assert got.status_code == 200 and got.content == pdf
        preview = browser.get(base + f"/applications/{application_id}/preview.pdf", timeout=60)
        assert preview.status_code == 200 and preview.content.startswith(b"%PDF")
        sheet = browser.get(base + "/applications/export.xlsx?status=draft", timeout=30)
        assert (
            sheet.headers["Content-Type"].startswith("application/vnd.openxmlformats")
            and sheet.content[:2] == b"PK"
        )
        assert browser.get(base + "/applications/nope/documents/x/file", timeout=10).status_code == 404

        # submission: the bytes to sign, signed by hand (as `opencoo sign` would), then sent
        submit_page = browser.get(base + f"/applications/{application_id}/submit", timeout=10)
        payload = browser.get(base + f"/applications/{application_id}/payload", timeout=10).content
        expected = call(world, "GET", f"/api/v1/applications/{application_id}/signing-payload").json()
        assert base64.b64encode(payload).decode() == expected["payload"]
        assert expected["sha256"] in submit_page.text
        wrong = browser.post(
            base + f"/applications/{application_id}/submit",
            timeout=30,
            data={"csrf_token": token, "signature": signature},
        )  # over the PDF, not the payload
        assert wrong.status_code in (400, 422) and 'role="alert"' in wrong.text
        assert call(world, "GET", f"/api/v1/applications/{application_id}").json()["status"] == "draft"
        sent = browser.post(
            base + f"/applications/{application_id}/submit",
            timeout=30,
            allow_redirects=False,
            data={
                "csrf_token": token,
                "signature": base64.b64encode(openssl_sign(payload, cert, key, world["tmp"])).decode(),
            },
        )
        assert sent.status_code == 303 and sent.headers["Location"].endswith("/fee"), sent.text
        fee = browser.get(base + sent.headers["Location"], timeout=10)
        assert fee.status_code == 200 and "Total" in fee.text
        assert "form-action 'self' https:" in fee.headers["Content-Security-Policy"]
        paying = browser.post(
            base + f"/applications/{application_id}/pay",
            data={"csrf_token": token},
            timeout=30,
            allow_redirects=False,
        )
        assert paying.status_code == 303 and "/sandbox-pay/" in paying.headers["Location"]


def test_the_admin_creates_an_officer_and_deactivates_it_when_it_leaves(site, smtp_mailbox):
    from tests.conftest import login, mail_text

    browser = requests.Session()
    assert log_in(browser, site, "admin", ADMIN_PASSWORD).status_code == 303
    page = browser.get(site + "/admin/staff", timeout=10)
    assert page.status_code == 200 and '<option value="MPEDA-KOCHI">' in page.text
    token = hidden(page.text, "csrf_token")
    officer = {
        "csrf_token": token,
        "username": "new.officer",
        "name": "New Officer",
        "email": "new.officer@mpeda.example.in",
        "mobile": "+919847000777",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
    }
    refused = browser.post(site + "/admin/staff", data={**officer, "email": "not an email"}, timeout=10)
    assert (
        refused.status_code == 422
        and 'value="new.officer"' in refused.text
        and 'aria-invalid="true"' in refused.text
    )
    made = browser.post(site + "/admin/staff", data=officer, timeout=10, allow_redirects=False)
    assert made.status_code == 303
    mail = smtp_mailbox.wait_for(lambda m: "new.officer@" in m["To"].lower())[0]
    password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
    assert login(site, "new.officer", password)
    listed = browser.get(site + "/admin/staff", timeout=10)
    assert "Deactivate new.officer" in listed.text
    gone = browser.post(site + "/admin/staff/new.officer/deactivate", data={"csrf_token": token}, timeout=10)
    assert gone.status_code == 200 and "Reactivate new.officer" in gone.text
    with pytest.raises(AssertionError):
        login(site, "new.officer", password)
    assert (
        browser.post(
            site + "/admin/staff/new.officer/promote", data={"csrf_token": token}, timeout=10
        ).status_code
        == 404
    )
    back = browser.post(site + "/admin/staff/new.officer/reactivate", data={"csrf_token": token}, timeout=10)
    assert "Deactivate new.officer" in back.text and login(site, "new.officer", password)
    # an officer has no such screen
    desk = requests.Session()
    assert log_in(desk, site, "new.officer", password).status_code == 303
    assert desk.get(site + "/admin/staff", timeout=10).status_code == 403


def test_the_customs_officer_checks_a_number_and_a_file_and_old_qr_codes_still_work(site):
    phone = requests.Session()
    old_qr = phone.get(
        site + "/api/v1/verify",
        params={"number": "MPEDA/2026/013/9999999Z"},
        headers={"Accept": "text/html"},
        timeout=10,
        allow_redirects=False,
    )
    assert (
        old_qr.status_code == 302
        and old_qr.headers["Location"] == "/verify?number=MPEDA%2F2026%2F013%2F9999999Z"
    )
    page = phone.get(site + old_qr.headers["Location"], timeout=10)
    assert page.status_code == 200 and "no certificate has this number" in page.text.lower()
    # a program asking for JSON at the same address gets JSON, as before
    assert (
        phone.get(site + "/api/v1/verify", params={"number": "X"}, timeout=10)
        .headers["Content-Type"]
        .startswith("application/json")
    )
    token = hidden(page.text, "csrf_token")
    checked = phone.post(
        site + "/verify",
        data={"csrf_token": token},
        timeout=30,
        files={"file": ("certificate.pdf", b"%PDF-1.7\nnot really\n%%EOF\n", "application/pdf")},
    )
    assert checked.status_code == 200 and "This file is not a valid certificate" in checked.text
    empty = phone.post(site + "/verify", data={"csrf_token": token}, timeout=10)
    assert "Choose the certificate PDF" in empty.text


def test_the_exporter_sees_its_certificates_and_asks_for_a_duplicate(portal_port, world, smtp_mailbox):
    from tests.conftest import mail_text, wait_until
    from tests.integration.test_examination import decide, paid
    from tests.integration.test_payments import status_of
    from tests.staff import make_staff

    application_id = paid(world)
    officer = make_staff(world["base"], smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI")
    assert decide(world, officer, application_id, "approve").status_code == 200
    wait_until(lambda: status_of(world, application_id) == "issued", timeout=60, what="issued")
    mails = smtp_mailbox.wait_for(lambda m: "exports@malabarseafoods.in" in m["To"].lower())
    password = next(
        found.group(1) for found in (re.search(r"Password:\s*(\S+)", mail_text(m)) for m in mails) if found
    )
    base = world["base"]
    with portal_serving(portal_port):
        browser = requests.Session()
        assert log_in(browser, base, IEC, password).status_code == 303
        listed = browser.get(base + "/certificates", timeout=10)
        certificate_id = re.search(r"/certificates/([0-9a-f-]+)\.pdf", listed.text).group(1)
        assert "Ask for a duplicate" in listed.text
        pdf = browser.get(base + f"/certificates/{certificate_id}.pdf", timeout=30)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        token = hidden(listed.text, "csrf_token")
        no_reason = browser.post(
            base + f"/certificates/{certificate_id}/request",
            timeout=30,
            data={"csrf_token": token, "kind": "duplicate", "reason": ""},
        )
        assert no_reason.status_code in (400, 422) and 'role="alert"' in no_reason.text
        asked = browser.post(
            base + f"/certificates/{certificate_id}/request",
            timeout=30,
            allow_redirects=False,
            data={"csrf_token": token, "kind": "duplicate", "reason": "The original was lost"},
        )
        assert asked.status_code == 303, asked.text
        request = browser.get(base + asked.headers["Location"], timeout=10)
        assert "pending payment" in request.text and "Pay the fee" in request.text


def test_the_manual_and_faq_are_a_click_from_the_home_page(site):
    home = requests.get(site + "/", timeout=10)
    assert 'href="/help"' in home.text
    manual = requests.get(site + "/help", timeout=10)
    assert manual.status_code == 200
    for heading in ("For exporters", "For officers of an issuing agency", "Questions often asked"):
        assert heading in manual.text
