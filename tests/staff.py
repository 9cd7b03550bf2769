"""Staff accounts for tests that need an officer or an agency admin: made by the platform's admin
over HTTP, the password read from the email the platform sends."""

import re

import requests

from tests.conftest import ADMIN_PASSWORD, login, mail_text


def make_staff(base, mailbox, username, *, office=None, agency="MPEDA"):
    """An officer of ``office`` (or, without one, an admin of ``agency``), logged in: its token."""
    admin = {"Authorization": f"Bearer {login(base, 'admin', ADMIN_PASSWORD)}"}
    email = f"{username}@{agency.lower()}.example.in"
    body = {
        "username": username,
        "name": username.replace(".", " ").title(),
        "email": email,
        "mobile": "+919847000123",
        "agency_code": agency,
    }
    if office:
        made = requests.post(
            f"{base}/api/v1/admin/officers",
            headers=admin,
            timeout=30,
            json={**body, "issuing_office_code": office},
        )
    else:
        made = requests.post(f"{base}/api/v1/admin/agency-admins", headers=admin, timeout=30, json=body)
    assert made.status_code == 201, made.text
    mail = mailbox.wait_for(lambda m: email in m["To"].lower())[0]
    password = re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)
    return login(base, username, password)
