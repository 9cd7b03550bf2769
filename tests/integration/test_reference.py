"""Reference data over HTTP: agreements, organisation, units, countries, currencies, and the HS
nomenclature loaded by the CLI and by an admin's upload."""

import os

import pytest
import requests
from click.testing import CliRunner

from cli.main import main as opencoo
from tests.conftest import ADMIN_PASSWORD, SHARED_DATA, login

HS2022 = os.path.join(SHARED_DATA, "hs2022.csv")


@pytest.fixture
def base(platform):
    return platform("registration", "application")


def get(base, path, **params):
    return requests.get(f"{base}{path}", params=params, timeout=20)


def test_agreements_carry_codes_partners_forms_criteria_and_thresholds(base):
    body = get(base, "/api/v1/reference/agreements").json()
    assert body["page"] == 1 and body["total"] == len(body["items"]) == 18
    by_code = {a["code"]: a for a in body["items"]}
    assert {"002", "004", "006", "008", "013", "015"} <= set(by_code)
    aifta = by_code["013"]
    assert aifta["short_name"] == "AIFTA" and aifta["certificate_form"] == "Form AI"
    assert aifta["value_content_threshold"] == 35
    assert aifta["value_content_tariff_shift"] == "CTSH"
    assert set(aifta["partner_countries"]) == {"BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN"}
    assert "WO" in aifta["preference_criteria"]
    assert get(base, "/api/v1/reference/agreements/013").json() == aifta


def test_lists_paginate(base):
    page2 = get(base, "/api/v1/reference/agreements", page=2, per_page=5).json()
    everything = get(base, "/api/v1/reference/agreements").json()["items"]
    assert page2["items"] == everything[5:10]
    assert (page2["page"], page2["per_page"], page2["total"]) == (2, 5, 18)
    assert get(base, "/api/v1/reference/agreements", page=9, per_page=5).json()["items"] == []


def test_agencies_with_regional_and_issuing_offices_and_states(base):
    agencies = {a["code"]: a for a in get(base, "/api/v1/reference/agencies").json()["items"]}
    for code in ("DGFT", "EIC", "MPEDA", "FIEO"):
        offices = [o for r in agencies[code]["regional_offices"] for o in r["issuing_offices"]]
        assert len(offices) >= 2, code
        assert all(o["state"].startswith("IN-") for o in offices)
    kochi = [
        o
        for r in agencies["MPEDA"]["regional_offices"]
        for o in r["issuing_offices"]
        if o["code"] == "MPEDA-KOCHI"
    ]
    assert kochi and kochi[0]["state"] == "IN-KL"


def test_units_countries_currencies(base):
    units = {u["code"] for u in get(base, "/api/v1/reference/units").json()["items"]}
    assert {"KGS", "NOS", "MTR", "LTR"} <= units
    countries = get(base, "/api/v1/reference/countries").json()
    assert countries["total"] == 249
    assert {"code": "IN", "alpha_3": "IND", "name": "India"} in countries["items"]
    currencies = {c["code"] for c in get(base, "/api/v1/reference/currencies").json()["items"]}
    assert {"INR", "USD", "EUR", "JPY"} <= currencies


def test_before_a_nomenclature_is_loaded_codes_are_checked_for_form_and_chapter_only(base):
    assert get(base, "/api/v1/reference/hs").json()["loaded"] is False
    answer = get(base, "/api/v1/reference/hs/0306").json()
    assert answer["verified"] is False and "form and chapter only" in answer["note"]
    assert answer["kind"] == "heading"
    for bad, why in [
        ("7701", "chapter 77"),
        ("12345", "5 digits"),
        ("03x6", "only digits"),
        ("9999", "chapter 99"),
    ]:
        response = get(base, f"/api/v1/reference/hs/{bad}")
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "HS_CODE_INVALID"
        assert why in response.json()["error"]["message"]


def test_cli_import_loads_the_whole_hs2022_file(base):
    result = CliRunner().invoke(opencoo, ["reference", "import-hs", HS2022])
    assert result.exit_code == 0, result.output
    assert "6936 HS codes loaded" in result.output
    status = get(base, "/api/v1/reference/hs").json()
    assert status["loaded"] is True and status["codes"] == 6936 and status["source"] == "hs2022.csv"
    # Every data row of the file is accounted for: 96 chapters, 1228 headings and 5612
    # subheadings, and 4 aggregate rows (TOTAL and chapter 99 "not specified") that are no codes.
    with open(HS2022, encoding="utf-8-sig") as f:
        assert sum(1 for _ in f) - 1 == 6940

    chapter = get(base, "/api/v1/reference/hs/03").json()
    assert chapter["verified"] and chapter["kind"] == "chapter" and chapter["parent"] is None
    subheading = get(base, "/api/v1/reference/hs/0306.17").json()
    assert subheading["code"] == "030617" and subheading["section"] == "I"
    assert [a["code"] for a in subheading["ancestors"]] == ["03", "0306"]
    tariff_item = get(base, "/api/v1/reference/hs/03061710").json()
    assert tariff_item["verified"] and tariff_item["kind"] == "tariff item"
    assert tariff_item["parent"] == "030617"

    for unknown in ("0199", "030698", "03069810"):
        response = get(base, f"/api/v1/reference/hs/{unknown}")
        assert response.status_code == 404, unknown
        assert response.json()["error"]["code"] == "HS_CODE_UNKNOWN"


def test_cli_refuses_a_broken_file_and_changes_nothing(base, tmp_path):
    assert CliRunner().invoke(opencoo, ["reference", "import-hs", HS2022]).exit_code == 0
    broken = tmp_path / "broken.csv"
    broken.write_text(
        "section,hscode,description,parent,level\nI,01,Animals,TOTAL,2\n"
        "I,0101,Horses,01,4\nI,01x1,Bad,01,4\nI,020101,Orphan,0201,6\n"
    )
    result = CliRunner().invoke(opencoo, ["reference", "import-hs", str(broken)])
    assert result.exit_code != 0
    assert "line 4" in result.output and "nothing was imported" in result.output
    status = get(base, "/api/v1/reference/hs").json()
    assert status["codes"] == 6936 and status["source"] == "hs2022.csv"


def upload(base, token, content, name="hs.csv"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        f"{base}/api/v1/admin/reference/hs",
        headers=headers,
        timeout=60,
        files={"file": (name, content, "text/csv")},
    )


def test_admin_uploads_a_nomenclature(base):
    token = login(base, "admin", ADMIN_PASSWORD)
    with open(HS2022, "rb") as f:
        response = upload(base, token, f.read(), "hs2022.csv")
    assert response.status_code == 200, response.text
    assert response.json()["codes"] == 6936
    assert get(base, "/api/v1/reference/hs/010121").json()["verified"] is True


def test_upload_refusals_change_nothing(base):
    token = login(base, "admin", ADMIN_PASSWORD)
    small = b"section,hscode,description,parent,level\nI,01,Animals; live,TOTAL,2\nI,0101,Horses,01,4\n"
    assert upload(base, token, small).status_code == 200

    assert upload(base, None, small).status_code == 401
    assert upload(base, "not-a-token", small).json()["error"]["code"] == "TOKEN_INVALID"
    broken = upload(base, token, b"section,hscode\nI,01\n")
    assert broken.status_code == 422
    assert broken.json()["error"]["code"] == "HS_FILE_INVALID"
    assert broken.json()["error"]["fields"]["file"][0].startswith("line 1")
    not_utf8 = upload(base, token, b"\xff\xfe\x00s")  # a file not valid, as a broken one
    assert not_utf8.status_code == 422 and not_utf8.json()["error"]["code"] == "HS_FILE_INVALID"
    no_file = requests.post(
        f"{base}/api/v1/admin/reference/hs",
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
        data={"x": "1"},
    )
    assert no_file.status_code == 400 and "file" in no_file.json()["error"]["fields"]
    too_big = upload(base, token, b"x" * (5 * 1024 * 1024 + 1))
    assert too_big.status_code == 413

    status = get(base, "/api/v1/reference/hs").json()
    assert status["codes"] == 2  # still the small file, whole
    assert get(base, "/api/v1/reference/hs/0101").json()["description"] == "Horses"


def test_exchange_rates_start_today_or_later_but_a_currencys_first_may_reach_back_a_year(base):
    from datetime import timedelta

    from services.chassis.timestamps import today_in_india

    admin = {"Authorization": f"Bearer {login(base, 'admin', ADMIN_PASSWORD)}"}
    today = today_in_india()

    def rate(currency, start, value="83.25"):
        return requests.post(
            f"{base}/api/v1/admin/exchange-rates",
            headers=admin,
            timeout=10,
            json={"currency": currency, "valid_from": start.isoformat(), "rate": value},
        )

    for start in (today - timedelta(days=367), today.replace(year=1, month=1, day=1)):
        refused = rate("EUR", start)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "STARTS_IN_THE_PAST"
    assert rate("EUR", today - timedelta(days=366)).status_code == 201  # the first: a year back
    for start in (today - timedelta(days=1), today - timedelta(days=200)):  # then never back
        refused = rate("EUR", start, "99")
        assert refused.status_code == 422 and "valid_from" in refused.json()["error"]["fields"]
    assert rate("EUR", today, "90.10").status_code == 201
    assert rate("EUR", today + timedelta(days=7), "91").status_code == 201
    listed = requests.get(
        f"{base}/api/v1/admin/exchange-rates", headers=admin, timeout=10, params={"currency": "EUR"}
    ).json()["items"]
    assert [r["rate"] for r in listed] == ["91", "90.10", "83.25"]
