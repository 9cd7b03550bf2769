"""What the API gained for the portal's admin screens: GET /api/v1/admin/certificates?number=, staff
finding the certificate to revoke by its number (its id is what the revocation takes), within
what each may see: an agency admin its own agency's, the admin any."""

import requests

from tests.conftest import ADMIN_PASSWORD, login, wait_until
from tests.integration.test_applications import world  # noqa: F401  (a fixture)
from tests.integration.test_examination import decide, paid
from tests.integration.test_payments import status_of
from tests.staff import make_staff

FIND = "/api/v1/admin/certificates"


def test_staff_find_a_certificate_of_their_agency_by_its_number(world, smtp_mailbox):
    base = world["base"]
    application_id = paid(world)
    officer = make_staff(base, smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI")
    assert decide(world, officer, application_id, "approve").status_code == 200
    wait_until(lambda: status_of(world, application_id) == "issued", timeout=60, what="issued")
    tokens = {
        "admin": login(base, "admin", ADMIN_PASSWORD),
        "agency_admin": make_staff(base, smtp_mailbox, "mpeda.admin", agency="MPEDA"),
        "other_agency": make_staff(base, smtp_mailbox, "eic.admin", agency="EIC"),
        "officer": officer,
        "exporter": world["token"],
    }

    def find(who, **params):
        headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
        return requests.get(base + FIND, params=params, headers=headers, timeout=30)

    issued = requests.get(
        base + "/api/v1/certificates", headers={"Authorization": f"Bearer {tokens['admin']}"}, timeout=30
    ).json()["items"]
    [certificate] = [c for c in issued if c["application_id"] == application_id]
    number = certificate["number"]

    for who in ("admin", "agency_admin"):
        found = find(who, number=number)
        assert found.status_code == 200, found.text
        assert found.json()["total"] == 1 and found.json()["items"] == [certificate]
        # spaces around a pasted number do not matter; another number finds nothing
        assert find(who, number=f"  {number} ").json()["items"] == [certificate]
        assert find(who, number=number + "X").json() == {"items": [], "page": 1, "per_page": 50, "total": 0}
    assert find("other_agency", number=number).json()["items"] == []  # not its agency's: not there

    assert find(None, number=number).status_code == 401
    for who in ("officer", "exporter"):
        refused = find(who, number=number)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "ROLE_FORBIDDEN"

    for params in ({}, {"number": ""}, {"number": "9" * 81}, {"number": number, "page": "2"}):
        refused = find("admin", **params)
        assert refused.status_code == 400, (params, refused.text)
        assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
    assert find("admin").json()["error"]["fields"] == {"number": ["Missing data for required field."]}
    # reading changed nothing: the certificate is as issued
    assert (
        requests.get(base + "/api/v1/verify", params={"number": number}, timeout=10).json()["status"]
        == "valid"
    )
