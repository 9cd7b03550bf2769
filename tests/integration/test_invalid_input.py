"""Inputs that once answered 500, each now a 400 naming its field, with nothing changed: text no
database, PDF or spreadsheet can hold (lone UTF-16 surrogates, NUL), JSON nested without end,
dates no calendar of ours reaches; and the preview of a draft with nothing in it."""

import json

import pytest
import requests

from tests.conftest import ADMIN_PASSWORD, login
from tests.integration.test_applications import application_body, call, world  # noqa: F401
from tests.integration.test_certificates import issue, officer  # noqa: F401
from tests.integration.test_examination import QUEUE, paid
from tests.integration.test_payments import rows

SURROGATE = '"x\\udfffy"'  # as JSON text: what a client sends, decoded to a lone surrogate
NUL = '"x\\u0000y"'


def raw_json(world, method, path, text, token=None):
    headers = {"Content-Type": "application/json"}
    if token is not False:
        headers["Authorization"] = f"Bearer {token or world['token']}"
    return requests.request(method, world["base"] + path, data=text.encode(), headers=headers, timeout=30)


def refused(answer, field):
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["fields"], error
    return error


def counts():
    return {
        "applications": rows("application", "select count(*) from application"),
        "history": rows("application", "select count(*) from status_change"),
        "accounts": rows("registration", "select count(*) from account"),
        "certificates": rows("certificate", "select count(*) from certificate where status = 'valid'"),
    }


@pytest.mark.parametrize("bad", [SURROGATE, NUL], ids=["surrogate", "nul"])
def test_invalid_text_is_refused_on_every_kind_of_route_and_nothing_changes(world, officer, bad):
    certificate = issue(world, officer)
    submitted = paid(world)
    admin = login(world["base"], "admin", ADMIN_PASSWORD)
    before = counts()
    body = application_body()
    product = json.dumps(body["products"][0])
    attempts = [
        (
            "POST",
            "/api/v1/auth/login",
            f'{{"username": {bad}, "password": "x", "captcha_id": "a", "captcha_answer": "1"}}',
            False,
            "username",
        ),
        (
            "POST",
            "/api/v1/auth/forgot-password",
            f'{{"username": "AAACM4821K", "email": {bad}, "captcha_id": "a", "captcha_answer": "1"}}',
            False,
            "email",
        ),
        (
            "POST",
            "/api/v1/auth/change-password",
            f'{{"current_password": {bad}, "new_password": "Another#Pass123"}}',
            None,
            "current_password",
        ),
        (
            "POST",
            "/api/v1/applications",
            json.dumps({**body, "products": []})[:-1] + f', "importer_name_x": {bad}}}',
            None,
            "importer_name_x",
        ),
        (
            "POST",
            "/api/v1/applications",
            json.dumps({**body, "products": []}).replace(
                '"products": []', f'"products": [{product[:-1]}, "description": {bad}}}]'
            ),
            None,
            "products.0.description",
        ),
        (
            "POST",
            "/api/v1/admin/officers",
            f'{{"username": {bad}, "email": "a@example.com", "issuing_office_code": "MPEDA-KOCHI"}}',
            admin,
            "username",
        ),
        ("POST", "/api/v1/admin/agencies", f'{{"code": "NEW", "name": {bad}}}', admin, "name"),
        (
            "POST",
            f"/api/v1/admin/certificates/{certificate['id']}/revoke",
            f'{{"reason": {bad}}}',
            admin,
            "reason",
        ),
        ("POST", f"{QUEUE}/{submitted}/approve", f'{{"remarks": {bad}}}', officer, "remarks"),
        ("POST", f"{QUEUE}/{submitted}/discrepancy", f'{{"remarks": {bad}}}', officer, "remarks"),
        (
            "POST",
            "/api/v1/admin/exchange-rates",
            f'{{"currency": {bad}, "valid_from": "2030-01-01", "rate": "1"}}',
            admin,
            "currency",
        ),
    ]
    for method, path, text, token, field in attempts:
        error = refused(raw_json(world, method, path, text, token), field)
        assert "surrogate or a NUL" in error["fields"][field][0], (path, error)
    assert counts() == before
    # the officer's export and the application still work for everyone
    export = call(world, "GET", f"{QUEUE}/export.xlsx", token=officer)
    assert export.status_code == 200 and export.content[:2] == b"PK"


def test_a_duplicate_request_form_nested_without_end_is_a_400(world, officer):
    certificate = issue(world, officer)
    before = counts()
    for depth in (50_000, 40):
        form = "[" * depth + "]" * depth
        answer = call(
            world,
            "POST",
            f"/api/v1/certificates/{certificate['id']}/duplicates",
            data={"kind": "duplicate", "reason": "lost", "form": form},
        )
        error = refused(answer, "form")
        assert "not valid json" in str(error).lower() or "nested" in str(error).lower(), error
    answer = call(
        world,
        "POST",
        f"/api/v1/certificates/{certificate['id']}/duplicates",
        data={"kind": "duplicate", "reason": "lost\x00", "form": "{}"},
    )
    refused(answer, "reason")
    assert counts() == before


@pytest.mark.parametrize("param", ["date_from", "date_to"])
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_dates_outside_any_calendar_of_ours_are_a_400_on_lists_queue_and_exports(world, officer, param, day):
    for path, token in (
        ("/api/v1/applications", None),
        ("/api/v1/applications/export.xlsx", None),
        (QUEUE, officer),
        (f"{QUEUE}/export.xlsx", officer),
    ):
        refused(call(world, "GET", path, token=token, params={param: day}), param)
    ok = call(world, "GET", "/api/v1/applications", params={param: "2026-01-01"})
    assert ok.status_code == 200


def test_a_query_string_with_nul_is_a_400(world):
    refused(call(world, "GET", "/api/v1/applications", params={"number": "A\x00B"}), "number")


def test_the_preview_of_a_draft_without_products_is_rendered(world):
    draft = call(world, "POST", "/api/v1/applications", json=application_body(products=[])).json()
    preview = call(world, "GET", f"/api/v1/applications/{draft['id']}/preview.pdf")
    assert preview.status_code == 200, preview.text
    assert preview.content.startswith(b"%PDF-")
