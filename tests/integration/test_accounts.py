"""Login, lockout, tokens, passwords, and staff accounts with their scopes, over HTTP against
real services with a real SMTP server."""

import contextlib
import datetime as dt
import re

import eventlet
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import text

from services.chassis.config import database_url
from services.chassis.database import make_engine
from services.contracts import tokens
from tests.conftest import ADMIN_PASSWORD, login, mail_text, wait_until


@contextlib.contextmanager
def registration_db():
    engine = make_engine(database_url("registration"))
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


@pytest.fixture
def stack(platform, smtp_mailbox):
    return platform("registration", "notification"), smtp_mailbox


def captcha(base):
    c = requests.get(f"{base}/api/v1/auth/captcha", timeout=10).json()
    a, b = (int(x) for x in c["question"].split("+"))
    return c["captcha_id"], str(a + b)


def attempt(base, username, password):
    captcha_id, answer = captcha(base)
    return requests.post(
        f"{base}/api/v1/auth/login",
        timeout=10,
        json={"username": username, "password": password, "captcha_id": captcha_id, "captcha_answer": answer},
    )


def password_from_mail(mailbox, address, subject=""):
    mails = mailbox.wait_for(lambda m: address in m["To"].lower() and subject in m["Subject"])
    assert len(mails) == 1, [m["Subject"] for m in mails]
    return re.search(r"[Pp]assword:\s*(\S+)", mail_text(mails[0])).group(1)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def behind_proxy(monkeypatch):
    """A proxy in front says who each client is (X-Forwarded-For), so one test is many places."""
    monkeypatch.setenv("OPENCOO_TRUSTED_PROXIES", "1")


def attempt_from(base, address, username, password):
    captcha_id, answer = captcha(base)
    return requests.post(
        f"{base}/api/v1/auth/login",
        timeout=10,
        headers={"X-Forwarded-For": address},
        json={"username": username, "password": password, "captcha_id": captcha_id, "captcha_answer": answer},
    )


def test_failures_lock_the_address_that_made_them_not_the_owner(behind_proxy, stack):
    base, _ = stack
    assert attempt_from(base, "10.0.0.1", "admin", ADMIN_PASSWORD).status_code == 200
    for _ in range(5):
        assert attempt_from(base, "203.0.113.9", "admin", "wrong").status_code == 401
    locked = attempt_from(base, "203.0.113.9", "admin", ADMIN_PASSWORD)  # even the right one
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "ACCOUNT_LOCKED"
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    # the admin, from where the admin works, is not locked out; the attacker still is
    assert attempt_from(base, "10.0.0.1", "admin", ADMIN_PASSWORD).status_code == 200
    assert attempt_from(base, "203.0.113.9", "admin", ADMIN_PASSWORD).status_code == 429


def test_failures_from_many_addresses_slow_the_account_and_tell_its_owner(behind_proxy, stack):
    base, mailbox = stack
    admin = login(base, "admin", ADMIN_PASSWORD)
    assert (
        make_staff(
            base,
            admin,
            "officers",
            username="kochi.officer",
            name="Anitha",
            email="anitha@mpeda.gov.in",
            mobile="+919847000111",
            agency_code="MPEDA",
            issuing_office_code="MPEDA-KOCHI",
        ).status_code
        == 201
    )
    password = password_from_mail(mailbox, "anitha@mpeda.gov.in", "account")
    assert attempt_from(base, "10.1.1.1", "kochi.officer", password).status_code == 200

    for n in range(5):  # five addresses, one wrong password each: no address is locked
        assert attempt_from(base, f"198.51.100.{n}", "kochi.officer", "x").status_code == 401
    slowed = attempt_from(base, "198.51.100.50", "kochi.officer", "x")
    assert slowed.status_code == 429, slowed.text
    assert slowed.json()["error"]["code"] == "ACCOUNT_SLOWED"
    first_wait = int(slowed.headers["Retry-After"])
    assert 1 <= first_wait <= 2
    eventlet.sleep(first_wait)
    assert attempt_from(base, "198.51.100.51", "kochi.officer", "x").status_code == 401
    again = attempt_from(base, "198.51.100.52", "kochi.officer", "x")
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= first_wait  # grows

    # The owner, from the address it logged in from, is not slowed, and its success clears only
    # its own address's failures: the others still slow the account down.
    assert attempt_from(base, "10.1.1.1", "kochi.officer", password).status_code == 200
    assert attempt_from(base, "198.51.100.53", "kochi.officer", "x").status_code == 429

    # and the owner was told, once
    alerts = mailbox.wait_for(
        lambda m: "anitha@mpeda.gov.in" in m["To"].lower() and "failed logins" in m["Subject"]
    )
    eventlet.sleep(1)
    assert len([m for m in mailbox.messages() if "failed logins" in m["Subject"]]) == 1
    assert "kochi.officer" in mail_text(alerts[0])


def test_many_failures_from_one_address_are_limited_too(stack):
    base, _ = stack
    codes = [attempt(base, f"nobody{i}", "wrong").status_code for i in range(21)]
    assert codes[:20] == [401] * 20
    assert codes[20] == 429


def test_captcha_is_single_use(stack):
    base, _ = stack
    captcha_id, answer = captcha(base)
    body = {
        "username": "admin",
        "password": ADMIN_PASSWORD,
        "captcha_id": captcha_id,
        "captcha_answer": answer,
    }
    assert requests.post(f"{base}/api/v1/auth/login", json=body, timeout=10).status_code == 200
    again = requests.post(f"{base}/api/v1/auth/login", json=body, timeout=10)
    assert again.status_code == 400 and again.json()["error"]["code"] == "CAPTCHA_EXPIRED"


def forged(platform_env, **changes):
    """A token like the platform's, with one thing changed."""
    key = serialization.load_pem_private_key((platform_env / "keys" / "jwt-ed25519.pem").read_bytes(), None)
    now = dt.datetime.now(dt.timezone.utc)
    claims = {
        "sub": "admin",
        "role": "admin",
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "iat": now,
        "exp": now + dt.timedelta(minutes=5),
    }
    algorithm = changes.pop("algorithm", "EdDSA")
    signing_key = changes.pop("key", key)
    claims.update(changes)
    return jwt.encode(claims, signing_key, algorithm=algorithm)


def hs256_with_public_key(platform_env):
    """The classic confusion attack: HMAC keyed with the verifier's public key."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(
        json.dumps(
            {
                "sub": "admin",
                "role": "admin",
                "iss": tokens.ISSUER,
                "aud": tokens.AUDIENCE,
                "iat": now,
                "exp": now + 300,
            }
        ).encode()
    )
    secret = (platform_env / "keys" / "jwt-ed25519.pub.pem").read_bytes()
    signature = b64(hmac.new(secret, header + b"." + body, hashlib.sha256).digest())
    return (header + b"." + body + b"." + signature).decode()


@pytest.mark.parametrize(
    "case",
    [
        "good",
        "algorithm",
        "hs256_public_key",
        "issuer",
        "audience",
        "expired",
        "other_key",
        "none",
        "garbage",
    ],
)
def test_tokens_are_checked_for_algorithm_issuer_audience_expiry_and_key(stack, platform_env, case):
    base, _ = stack
    now = dt.datetime.now(dt.timezone.utc)
    token = {
        "good": lambda: forged(platform_env),
        "algorithm": lambda: forged(
            platform_env, algorithm="RS256", key=rsa.generate_private_key(65537, 2048)
        ),
        "hs256_public_key": lambda: hs256_with_public_key(platform_env),
        "issuer": lambda: forged(platform_env, iss="someone-else"),
        "audience": lambda: forged(platform_env, aud="another-api"),
        "expired": lambda: forged(
            platform_env, iat=now - dt.timedelta(hours=2), exp=now - dt.timedelta(hours=1)
        ),
        "other_key": lambda: forged(platform_env, key=ed25519.Ed25519PrivateKey.generate()),
        "none": lambda: jwt.encode(
            {"sub": "admin", "role": "admin", "iss": tokens.ISSUER, "aud": tokens.AUDIENCE},
            None,
            algorithm="none",
        ),
        "garbage": lambda: "abc.def.ghi",
    }[case]()
    response = requests.get(f"{base}/api/v1/admin/officers", headers=bearer(token), timeout=10)
    if case == "good":
        assert response.status_code == 200
    else:
        assert response.status_code == 401, case
        expected = "TOKEN_EXPIRED" if case == "expired" else "TOKEN_INVALID"
        assert response.json()["error"]["code"] == expected


def make_staff(base, token, path, **body):
    return requests.post(f"{base}/api/v1/admin/{path}", json=body, headers=bearer(token), timeout=10)


def test_staff_accounts_and_their_scopes(stack):
    base, mailbox = stack
    admin = login(base, "admin", ADMIN_PASSWORD)
    created = make_staff(
        base,
        admin,
        "agency-admins",
        username="mpeda.admin",
        name="Asha Nair",
        email="asha@mpeda.gov.in",
        mobile="+919847000111",
        agency_code="MPEDA",
    )
    assert created.status_code == 201, created.text
    agency_admin = login(base, "mpeda.admin", password_from_mail(mailbox, "asha@mpeda.gov.in"))

    officer = make_staff(
        base,
        agency_admin,
        "officers",
        username="kochi.officer",
        name="Vinod Pillai",
        email="vinod@mpeda.gov.in",
        mobile="+919847000222",
        agency_code="MPEDA",
        issuing_office_code="MPEDA-KOCHI",
    )
    assert officer.status_code == 201, officer.text
    assert officer.json()["issuing_office_code"] == "MPEDA-KOCHI"
    officer_token = login(base, "kochi.officer", password_from_mail(mailbox, "vinod@mpeda.gov.in"))
    assert jwt.decode(officer_token, options={"verify_signature": False})["office"] == "MPEDA-KOCHI"

    other_agency = make_staff(
        base,
        agency_admin,
        "officers",
        username="eic.officer",
        name="X Y",
        email="x@eic.gov.in",
        mobile="+919847000333",
        agency_code="EIC",
        issuing_office_code="EIC-MUMBAI",
    )
    assert other_agency.status_code == 403
    assert other_agency.json()["error"]["code"] == "AGENCY_FORBIDDEN"
    office_elsewhere = requests.post(
        f"{base}/api/v1/admin/offices",
        headers=bearer(agency_admin),
        timeout=10,
        json={
            "kind": "regional",
            "code": "EIC-RO-GOA",
            "name": "Goa",
            "state": "IN-GA",
            "agency_code": "EIC",
        },
    )
    assert office_elsewhere.status_code == 403
    own_office = requests.post(
        f"{base}/api/v1/admin/offices",
        headers=bearer(agency_admin),
        timeout=10,
        json={
            "kind": "regional",
            "code": "MPEDA-RO-GOA",
            "name": "MPEDA Goa",
            "state": "IN-GA",
            "agency_code": "MPEDA",
        },
    )
    assert own_office.status_code == 201, own_office.text
    from services.registration.organisation import SEED_AGENCY_PANS, office_gstin

    goa = {
        "kind": "issuing",
        "code": "MPEDA-GOA",
        "name": "MPEDA Goa",
        "state": "IN-GA",
        "regional_office_code": "MPEDA-RO-GOA",
    }
    kerala_gstin = office_gstin("IN-KL", SEED_AGENCY_PANS["MPEDA"])
    for gstin in ("22AAAGM0289C1ZX", kerala_gstin):  # a bad check digit; another state's
        refused = requests.post(
            f"{base}/api/v1/admin/offices",
            headers=bearer(agency_admin),
            timeout=10,
            json={**goa, "gstin": gstin},
        )
        assert refused.status_code == 422 and "gstin" in refused.json()["error"]["fields"]
    goa_gstin = office_gstin("IN-GA", SEED_AGENCY_PANS["MPEDA"])
    issuing = requests.post(
        f"{base}/api/v1/admin/offices",
        headers=bearer(agency_admin),
        timeout=10,
        json={**goa, "gstin": goa_gstin},
    )
    assert issuing.status_code == 201 and issuing.json()["gstin"] == goa_gstin, issuing.text
    wrong_office = make_staff(
        base,
        admin,
        "officers",
        username="mixed.officer",
        name="Z",
        email="z@eic.gov.in",
        mobile="+919847000444",
        agency_code="EIC",
        issuing_office_code="MPEDA-KOCHI",
    )
    assert wrong_office.json()["error"]["code"] == "OFFICE_NOT_IN_AGENCY"
    taken = make_staff(
        base,
        admin,
        "officers",
        username="kochi.officer",
        name="Again",
        email="again@mpeda.gov.in",
        mobile="+919847000555",
        agency_code="MPEDA",
        issuing_office_code="MPEDA-KOCHI",
    )
    assert taken.status_code == 409
    no_agency_admins = make_staff(
        base,
        agency_admin,
        "agency-admins",
        username="another.admin",
        name="A",
        email="a@mpeda.gov.in",
        mobile="+919847000666",
        agency_code="MPEDA",
    )
    assert no_agency_admins.status_code == 403

    seen = requests.get(f"{base}/api/v1/admin/officers", headers=bearer(agency_admin), timeout=10)
    assert {s["username"] for s in seen.json()["items"]} == {"mpeda.admin", "kochi.officer"}
    for token in (officer_token,):
        refused = requests.get(f"{base}/api/v1/admin/officers", headers=bearer(token), timeout=10)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "ROLE_FORBIDDEN"
        refused = make_staff(
            base,
            token,
            "officers",
            username="sneaky",
            name="S",
            email="s@mpeda.gov.in",
            mobile="+919847000777",
            agency_code="MPEDA",
            issuing_office_code="MPEDA-KOCHI",
        )
        assert refused.status_code == 403


def forgot(base, username, email, address="192.0.2.1"):
    captcha_id, answer = captcha(base)
    return requests.post(
        f"{base}/api/v1/auth/forgot-password",
        timeout=10,
        headers={"X-Forwarded-For": address},
        json={"username": username, "email": email, "captcha_id": captcha_id, "captcha_answer": answer},
    )


def reset_links(mailbox, address) -> list[str]:
    return [
        re.search(r"(http\S+/reset-password\?token=[\w-]+)", mail_text(m)).group(1)
        for m in mailbox.messages()
        if address in m["To"].lower() and "choose a new password" in m["Subject"]
    ]


def reset(base, link, new_password):
    token = link.split("token=", 1)[1]
    return requests.post(
        f"{base}/api/v1/auth/reset-password", timeout=10, json={"token": token, "new_password": new_password}
    )


def revoked(base, token) -> bool:
    answer = requests.get(f"{base}/api/v1/admin/offices", headers=bearer(token), timeout=10)
    if answer.status_code == 401:
        assert answer.json()["error"]["code"] == "TOKEN_REVOKED", answer.text
        return True
    assert answer.status_code == 200, answer.text
    return False


def test_forgot_password_sends_a_single_use_link_and_nothing_changes_until_it_is_used(
    behind_proxy, stack, platform_env
):
    from tests.integration.test_payments import rows

    base, mailbox = stack
    admin = login(base, "admin", ADMIN_PASSWORD)
    make_staff(
        base,
        admin,
        "agency-admins",
        username="eic.admin",
        name="Ravi",
        agency_code="EIC",
        email="ravi@eic.gov.in",
        mobile="+919847000888",
    )
    first = password_from_mail(mailbox, "ravi@eic.gov.in", "account")
    session = login(base, "eic.admin", first)

    wrong_email = forgot(base, "eic.admin", "not@eic.gov.in")
    assert wrong_email.status_code == 202
    asked = forgot(base, "eic.admin", "Ravi@EIC.gov.in")
    assert asked.status_code == 202 and asked.json() == wrong_email.json()  # tells nothing
    mailbox.wait_for(lambda m: "choose a new password" in m["Subject"])
    [link] = reset_links(mailbox, "ravi@eic.gov.in")
    assert login(base, "eic.admin", first) and not revoked(base, session)  # nothing changed yet
    # neither the token nor the link is kept anywhere but the email
    token = link.split("token=", 1)[1]
    for service, table in (
        ("registration", "outbox"),
        ("notification", "message"),
        ("registration", "password_reset_request"),
    ):
        wait_until(
            lambda s=service, t=table: not [r for r in rows(s, f"select * from {t}") if token in str(r)],
            timeout=10,
            what=f"no link in {table}",
        )

    # Asked again: only the newest link works.
    assert forgot(base, "eic.admin", "ravi@eic.gov.in", address="192.0.2.2").status_code == 202
    wait_until(lambda: len(reset_links(mailbox, "ravi@eic.gov.in")) == 2, what="a second link")
    [newest] = [other for other in reset_links(mailbox, "ravi@eic.gov.in") if other != link]
    replaced = reset(base, link, "yet-another-passw0rd")
    assert replaced.status_code == 400
    assert replaced.json()["error"]["code"] == "RESET_LINK_INVALID"
    # None works after its 30 minutes.
    set_expiry = (
        "update password_reset_request set expires_at = :t where closed_at is null "
        "and token_sha256 is not null"
    )
    with registration_db() as db:
        db.execute(text(set_expiry), {"t": dt.datetime.utcnow() - dt.timedelta(seconds=1)})
    expired = reset(base, newest, "yet-another-passw0rd")
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "RESET_LINK_INVALID"
    with registration_db() as db:
        db.execute(text(set_expiry), {"t": dt.datetime.utcnow() + dt.timedelta(minutes=5)})

    weak = reset(base, newest, "short1")
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "PASSWORD_WEAK"
    assert reset(base, newest, "a-much-better-passw0rd").status_code == 200  # it still worked
    assert attempt(base, "eic.admin", first).status_code == 401
    second = login(base, "eic.admin", "a-much-better-passw0rd")
    wait_until(lambda: revoked(base, session), timeout=10, what="the old token refused")
    assert not revoked(base, second)
    used = reset(base, newest, "yet-another-passw0rd")
    assert used.status_code == 400 and used.json()["error"]["code"] == "RESET_LINK_INVALID"
    assert login(base, "eic.admin", "a-much-better-passw0rd")
    # three requests an hour for one account (the wrong email's counted too)
    limited = forgot(base, "eic.admin", "ravi@eic.gov.in", address="192.0.2.3")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "TOO_MANY_RESETS"


def test_reset_requests_are_limited_per_account_and_per_address(behind_proxy, stack):
    base, mailbox = stack
    for n in range(3):  # whether or not the account exists: the limit says nothing of accounts
        assert forgot(base, "admin", "x@y.in", address=f"192.0.2.{10 + n}").status_code == 202
        assert forgot(base, "ghost", "x@y.in", address=f"192.0.2.{20 + n}").status_code == 202
    for username in ("admin", "ghost"):
        limited = forgot(base, username, "x@y.in", address="192.0.2.99")
        assert limited.status_code == 429, limited.text
        assert limited.json()["error"]["code"] == "TOO_MANY_RESETS"
        assert 0 < int(limited.headers["Retry-After"]) <= 3600
    codes = [forgot(base, f"user{n}", "x@y.in", address="192.0.2.200").status_code for n in range(11)]
    assert codes == [202] * 10 + [429]
    assert login(base, "admin", ADMIN_PASSWORD)  # and no password changed on the way


def test_a_changed_password_revokes_every_earlier_token_and_gives_a_fresh_one(stack):
    base, _ = stack
    admin = login(base, "admin", ADMIN_PASSWORD)
    other_session = login(base, "admin", ADMIN_PASSWORD)

    def change(token, current, new):
        return requests.post(
            f"{base}/api/v1/auth/change-password",
            headers=bearer(token),
            timeout=10,
            json={"current_password": current, "new_password": new},
        )

    weak = change(admin, ADMIN_PASSWORD, "short1")
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "PASSWORD_WEAK"
    assert change(admin, "wrong", "a-much-better-passw0rd").status_code == 401
    changed = change(admin, ADMIN_PASSWORD, "a-much-better-passw0rd")
    assert changed.status_code == 200, changed.text
    fresh = changed.json()["access_token"]
    assert jwt.decode(fresh, options={"verify_signature": False})["ver"] == 2
    for old in (admin, other_session):
        wait_until(lambda o=old: revoked(base, o), timeout=10, what="the old token refused")
    assert not revoked(base, fresh)
    assert login(base, "admin", "a-much-better-passw0rd")
    assert (
        requests.post(
            f"{base}/api/v1/auth/change-password",
            timeout=10,
            json={"current_password": "x", "new_password": "y"},
        ).status_code
        == 401
    )


def test_the_registration_service_itself_refuses_other_staff_roles(stack, rpc_client):
    """The gateway only ever asks for officers and agency admins; the service checks anyway."""
    from services.chassis.errors import Forbidden

    client = rpc_client()
    agency_admin = {"username": "mpeda.admin", "role": "agency_admin", "agency": "MPEDA"}
    for role in ("admin", "exporter"):
        with pytest.raises(Forbidden):
            client.registration.create_staff(
                agency_admin, role, "sneaky.admin", "S", "s@mpeda.gov.in", "+919847000999", "MPEDA"
            )
    with pytest.raises(Forbidden):
        client.registration.staff({"username": "x", "role": "officer", "agency": "MPEDA"})


def test_a_captcha_expires(stack, platform_env):
    import sqlite3

    base, _ = stack
    captcha_id, answer = captcha(base)
    db = sqlite3.connect(platform_env / "db" / "registration.sqlite3")
    db.execute("update captcha set expires_at = '2000-01-01 00:00:00' where id = ?", (captcha_id,))
    db.commit()
    late = requests.post(
        f"{base}/api/v1/auth/login",
        timeout=10,
        json={
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "captcha_id": captcha_id,
            "captcha_answer": answer,
        },
    )
    assert late.status_code == 400 and late.json()["error"]["code"] == "CAPTCHA_EXPIRED"


def test_an_agency_admin_sees_only_its_own_offices(stack):
    base, mailbox = stack
    admin = login(base, "admin", ADMIN_PASSWORD)
    make_staff(
        base,
        admin,
        "agency-admins",
        username="fieo.admin",
        name="F",
        agency_code="FIEO",
        email="f@fieo.org",
        mobile="+919847000321",
    )
    token = login(base, "fieo.admin", password_from_mail(mailbox, "f@fieo.org"))
    for query in ("", "?agency=EIC"):
        offices = requests.get(
            f"{base}/api/v1/admin/offices{query}", headers=bearer(token), timeout=10
        ).json()["items"]
        assert offices and {o["agency_code"] for o in offices} == {"FIEO"}
    everything = requests.get(f"{base}/api/v1/admin/offices", headers=bearer(admin), timeout=10).json()[
        "items"
    ]
    assert {"FIEO", "EIC", "MPEDA", "DGFT"} <= {o["agency_code"] for o in everything}
    issuing_elsewhere = requests.post(
        f"{base}/api/v1/admin/offices",
        headers=bearer(token),
        timeout=10,
        json={
            "kind": "issuing",
            "code": "EIC-PUNE",
            "name": "EIC Pune",
            "state": "IN-MH",
            "regional_office_code": "EIC-RO-MUMBAI",
        },
    )
    assert issuing_elsewhere.status_code == 403
    assert issuing_elsewhere.json()["error"]["code"] == "AGENCY_FORBIDDEN"


def test_the_emailed_link_opens_a_page_that_sets_the_password(behind_proxy, stack):
    base, mailbox = stack
    assert forgot(base, "admin", "admin@example.in").status_code == 202  # the admin has no email
    page = requests.get(f"{base}/reset-password", params={"token": '"><script>x</script>'}, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<script>x" not in page.text and "&#34;&gt;&lt;script&gt;" in page.text
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    refused = requests.post(
        f"{base}/reset-password", timeout=10, data={"token": "not-a-token", "new_password": "a-good-passw0rd"}
    )
    assert refused.status_code == 400 and "expired" in refused.text
    assert login(base, "admin", ADMIN_PASSWORD)


def test_logout_ends_that_token_only_at_once_and_tells_gateways_that_start_later(stack, rpc_client):
    base, _ = stack
    portal, program = login(base, "admin", ADMIN_PASSWORD), login(base, "admin", ADMIN_PASSWORD)
    assert (
        jwt.decode(portal, options={"verify_signature": False})["jti"]
        != jwt.decode(program, options={"verify_signature": False})["jti"]
    )
    out = requests.post(f"{base}/api/v1/auth/logout", headers=bearer(portal), timeout=10)
    assert out.status_code == 200, out.text
    assert revoked(base, portal)  # at once in the process that answered
    again = requests.post(f"{base}/api/v1/auth/logout", headers=bearer(portal), timeout=10)
    assert again.status_code == 401 and again.json()["error"]["code"] == "TOKEN_REVOKED"
    assert not revoked(base, program)  # the account's other token (a program, a browser) works
    # the registration service keeps it until the token would expire: a gateway process that
    # starts later (or missed the broadcast) learns it from there
    [ended] = rpc_client().registration.revoked_tokens()
    assert ended["token_id"] == jwt.decode(portal, options={"verify_signature": False})["jti"]
    assert requests.post(f"{base}/api/v1/auth/logout", timeout=10).status_code == 401


def test_a_deactivated_officer_cannot_log_in_and_its_tokens_stop_at_once(platform, smtp_mailbox):
    base, mailbox = platform("registration", "notification", "application"), smtp_mailbox
    from tests.staff import make_staff

    officer = make_staff(base, mailbox, "leaving.officer", office="MPEDA-KOCHI")
    mpeda_admin = make_staff(base, mailbox, "mpeda.chief", agency="MPEDA")
    fieo_admin = make_staff(base, mailbox, "fieo.chief", agency="FIEO")
    password = re.search(
        r"Password:\s*(\S+)",
        mail_text(mailbox.wait_for(lambda m: "leaving.officer@" in m["To"].lower())[0]),
    ).group(1)

    def deactivate(token, username, verb="deactivate"):
        return requests.post(
            f"{base}/api/v1/admin/staff/{username}/{verb}", headers=bearer(token), timeout=10
        )

    # another agency's admin may not; nobody may touch their own account; exporters are not staff
    refused = deactivate(fieo_admin, "leaving.officer")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "AGENCY_FORBIDDEN"
    assert deactivate(mpeda_admin, "mpeda.chief").status_code == 403  # an agency admin: admins only
    own = deactivate(login(base, "admin", ADMIN_PASSWORD), "admin")
    assert own.status_code == 404  # the platform admin is not a staff account
    assert deactivate(mpeda_admin, "no.such.person").status_code == 404
    assert deactivate(mpeda_admin, "AAACM4821K").status_code == 404
    queue = requests.get(f"{base}/api/v1/officer/applications", headers=bearer(officer), timeout=10)
    assert queue.status_code == 200  # the officer's token works until then

    done = deactivate(mpeda_admin, "Leaving.Officer")
    assert done.status_code == 200 and done.json()["active"] is False, done.text
    queue = requests.get(f"{base}/api/v1/officer/applications", headers=bearer(officer), timeout=10)
    assert queue.status_code == 401 and queue.json()["error"]["code"] == "TOKEN_REVOKED"
    with pytest.raises(AssertionError):
        login(base, "leaving.officer", password)
    assert deactivate(mpeda_admin, "leaving.officer").json()["active"] is False  # twice is once

    back = deactivate(mpeda_admin, "leaving.officer", "reactivate")
    assert back.status_code == 200 and back.json()["active"] is True
    assert login(base, "leaving.officer", password)
