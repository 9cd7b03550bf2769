"""The origin check of a form not saved yet (POST /api/v1/applications/origin-check): the same
answer as the saved draft's check (GET .../{id}/origin-check), nothing stored, for the exporter
only, and a form with bad fields refused by their paths."""

import requests

from tests.conftest import ADMIN_PASSWORD, login
from tests.integration.test_applications import application_body, call, world  # noqa: F401
from tests.staff import make_staff

CHECK = "/api/v1/applications/origin-check"


def test_a_form_as_typed_is_checked_as_its_saved_draft_would_be(world):
    body = application_body()
    body["products"].append(
        {**body["products"][0], "hs_code": "160521", "fob_inr": "700000.00", "fob_value": "8408.41"}
    )
    before = call(world, "GET", "/api/v1/applications").json()["total"]
    typed = call(world, "POST", CHECK, json=body)
    assert typed.status_code == 200, typed.text
    assert call(world, "GET", "/api/v1/applications").json()["total"] == before  # nothing stored
    draft = call(world, "POST", "/api/v1/applications", json=body).json()["id"]
    saved = call(world, "GET", f"/api/v1/applications/{draft}/origin-check").json()
    assert typed.json() == saved
    first, second = typed.json()["products"]
    assert (first["rvc_percent"], first["meets"]) == ("40.00", True)  # 600,000 of 1,000,000 from Norway
    assert (second["rvc_percent"], second["meets"]) == ("14.29", False)  # 600,000 of 700,000
    assert second["threshold"] == 35 and typed.json()["all_meet"] is False
    # an empty form: no products, nothing meets
    empty = call(world, "POST", CHECK, json={})
    assert empty.status_code == 200 and empty.json() == {
        "agreement_code": None,
        "products": [],
        "all_meet": False,
    }


def test_bad_forms_are_refused_by_their_fields_and_other_roles_are_not_let_in(world, smtp_mailbox):
    base = world["base"]
    body = application_body()
    body["products"][0]["quantity"] = "lots"
    refused = call(world, "POST", CHECK, json=body)
    assert refused.status_code == 400
    assert "products[0].quantity" in refused.json()["error"]["fields"]
    headers = {"Authorization": f"Bearer {world['token']}", "Content-Type": "application/json"}
    for raw in (b"[1, 2]", b"{not json", b'"text"'):
        answer = requests.post(base + CHECK, data=raw, headers=headers, timeout=10)
        assert answer.status_code == 400, (raw, answer.text)
    assert requests.post(base + CHECK, json=application_body(), timeout=10).status_code == 401
    officer = make_staff(base, smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI")
    admin = login(base, "admin", ADMIN_PASSWORD)
    for token in (officer, admin):
        answer = call(world, "POST", CHECK, token=token, json=application_body())
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "ROLE_FORBIDDEN"
    # the saved draft's check stays the exporter's and its office's officer's
    assert (
        call(
            world, "GET", "/api/v1/applications/00000000-0000-4000-8000-000000000000/origin-check"
        ).status_code
        == 404
    )
