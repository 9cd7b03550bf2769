"""Regional value content by the indirect method (architecture §4), with regional cumulation.

Plain Python: no broker, no database.
"""

import json
from decimal import Decimal

import pytest

from services.application import origin
from services.application.agreements import agreement_by_code
from services.contracts import application_form as form
from tests.application_fixtures import valid_application

AIFTA = agreement_by_code("013")
IKCEPA = agreement_by_code("002")


def product(fob_inr="1000000.00", criterion="RVC", materials=()):
    return {
        "hs_code": "030617",
        "fob_inr": Decimal(fob_inr),
        "preference_criterion": criterion,
        "raw_materials": [dict(m) for m in materials],
    }


def material(country, total, quantity=None, unit=None):
    m = {"origin_country": country}
    if total is not None:
        m["total_cif_value"] = Decimal(total)
    if quantity is not None:
        m["quantity"] = Decimal(quantity)
    if unit is not None:
        m["unit_cif_value"] = Decimal(unit)
    return m


# --- the AIFTA example of the issue --------------------------------------------------------------


def test_aifta_rvc_40_percent_passes_the_35_percent_threshold():
    result = origin.product_origin(product(materials=[material("NO", "600000.00")]), AIFTA)
    assert result["fob_inr"] == Decimal("1000000.00")
    assert result["non_originating_cif_inr"] == Decimal("600000.00")
    assert result["rvc_percent"] == Decimal("40.00")
    assert result["threshold"] == 35
    assert result["criterion"] == "RVC"
    assert result["meets"] is True
    assert "40.00%" in result["message"]


def test_aifta_rvc_30_percent_fails_showing_the_figure():
    result = origin.product_origin(product(materials=[material("NO", "700000.00")]), AIFTA)
    assert result["rvc_percent"] == Decimal("30.00")
    assert result["meets"] is False
    assert result["message"] == "RVC 30.00% is below the 35% required by AIFTA."


def test_exactly_the_threshold_meets_it():
    result = origin.product_origin(product(materials=[material("NO", "650000.00")]), AIFTA)
    assert result["rvc_percent"] == Decimal("35.00") and result["meets"] is True


def test_rvc_is_rounded_half_up_to_two_places():
    # (200000 - 175310) / 200000 = 12.345% -> 12.35 (banker's rounding would give 12.34)
    result = origin.product_origin(product(fob_inr="200000", materials=[material("NO", "175310")]), AIFTA)
    assert result["rvc_percent"] == Decimal("12.35")
    assert str(result["rvc_percent"]) == "12.35"


def test_indian_materials_are_originating_and_several_foreign_ones_add_up():
    result = origin.product_origin(
        product(
            materials=[material("IN", "300000.00"), material("NO", "200000.00"), material("CN", "150000.00")]
        ),
        AIFTA,
    )
    assert result["non_originating_cif_inr"] == Decimal("350000.00")
    assert result["rvc_percent"] == Decimal("65.00")


def test_quantity_times_unit_value_is_used_when_the_total_is_not_given():
    result = origin.product_origin(
        product(materials=[material("NO", None, quantity="6000", unit="100.00")]), AIFTA
    )
    assert result["non_originating_cif_inr"] == Decimal("600000.0000")
    assert result["rvc_percent"] == Decimal("40.00")


def test_a_material_without_origin_country_counts_as_non_originating():
    result = origin.product_origin(product(materials=[{"total_cif_value": Decimal("700000")}]), AIFTA)
    assert result["rvc_percent"] == Decimal("30.00") and result["meets"] is False


# --- cumulation ----------------------------------------------------------------------------------


def test_asean_material_counts_as_originating_under_aifta():
    result = origin.product_origin(product(materials=[material("VN", "700000.00")]), AIFTA)
    assert result["non_originating_cif_inr"] == Decimal("0")
    assert result["rvc_percent"] == Decimal("100.00")
    assert result["meets"] is True


def test_asean_material_is_non_originating_under_ikcepa():
    result = origin.product_origin(product(materials=[material("VN", "700000.00")]), IKCEPA)
    assert result["non_originating_cif_inr"] == Decimal("700000.00")
    assert result["rvc_percent"] == Decimal("30.00")
    assert result["meets"] is False
    assert result["message"] == "RVC 30.00% is below the 35% required by IKCEPA."


def test_korean_material_is_non_originating_under_ikcepa_no_bilateral_cumulation_modelled():
    result = origin.product_origin(product(materials=[material("KR", "700000.00")]), IKCEPA)
    assert result["meets"] is False


@pytest.mark.parametrize(
    "code,partner,outsider,criterion",
    [
        ("008", "BD", "CN", "B"),  # SAPTA: SAARC
        ("101", "NP", "CN", "B"),  # SAFTA: SAARC
        ("015", "KR", "TH", "B"),  # APTA: participants
        ("013", "TH", "KR", "RVC"),  # AIFTA: ASEAN
    ],
)
def test_regional_cumulation_counts_partner_materials(code, partner, outsider, criterion):
    agreement = agreement_by_code(code)
    assert partner in agreement.partner_countries and outsider not in agreement.partner_countries
    inside = origin.product_origin(
        product(criterion=criterion, materials=[material(partner, "900000")]), agreement
    )
    outside = origin.product_origin(
        product(criterion=criterion, materials=[material(outsider, "900000")]), agreement
    )
    assert inside["rvc_percent"] == Decimal("100.00") and inside["meets"] is True
    assert outside["rvc_percent"] == Decimal("10.00") and outside["meets"] is False


def test_originating_countries():
    assert origin.originating_countries(None) == {"IN"}
    assert origin.originating_countries(IKCEPA) == {"IN"}
    assert origin.originating_countries(AIFTA) == {"IN", *AIFTA.partner_countries}


# --- criteria that are not value content ---------------------------------------------------------


def test_other_criterion_gives_no_rvc():
    result = origin.product_origin(product(criterion="WO", materials=[material("NO", "1")]), AIFTA)
    assert result["rvc_percent"] is None and result["meets"] is None
    assert result["threshold"] is None
    assert "not a value-content criterion" in result["message"]


def test_no_agreement_gives_no_rvc():
    result = origin.product_origin(product(criterion=None), None)
    assert result["rvc_percent"] is None and result["meets"] is None


def test_gsp_value_content_without_single_threshold_is_computed_not_judged():
    gsp = agreement_by_code("006")
    result = origin.product_origin(product(criterion="F", materials=[material("NO", "700000")]), gsp)
    assert result["rvc_percent"] == Decimal("30.00")
    assert result["meets"] is None
    assert "no single threshold" in result["message"]


# --- incomplete drafts ---------------------------------------------------------------------------


def test_missing_fob_is_reported_not_raised():
    p = product(materials=[material("NO", "1")])
    del p["fob_inr"]
    result = origin.product_origin(p, AIFTA)
    assert result["rvc_percent"] is None and result["meets"] is None
    assert "fob_inr" in result["message"]


def test_zero_fob_is_reported_not_raised():
    result = origin.product_origin(product(fob_inr="0"), AIFTA)
    assert result["rvc_percent"] is None and "above zero" in result["message"]


def test_material_without_value_is_named():
    result = origin.product_origin(product(materials=[material("IN", "1"), material("NO", None)]), AIFTA)
    assert result["rvc_percent"] is None and result["meets"] is None
    assert "raw_materials[1]" in result["message"]


def test_origin_check_of_the_valid_application_is_json_ready():
    check = origin.origin_check(form.load_draft(valid_application()))
    assert check["all_meet"] is True
    assert check["agreement_code"] == "013"
    [entry] = check["products"]
    assert entry["path"] == "products[0]"
    assert entry["rvc_percent"] == "40.00"
    assert entry["fob_inr"] == "1000000.00"
    assert entry["non_originating_cif_inr"] == "600000.00"
    assert entry["meets"] is True
    json.dumps(check)  # no Decimal left


def test_origin_check_reports_a_failing_product():
    body = valid_application()
    body["products"][0]["raw_materials"][1].update(
        {"unit_cif_value": "116.67", "total_cif_value": "700020.00"}
    )
    check = origin.origin_check(form.load_draft(body))
    assert check["all_meet"] is False
    assert check["products"][0]["rvc_percent"] == "30.00"
    assert "30.00%" in check["products"][0]["message"]


def test_origin_check_on_incomplete_drafts_never_raises():
    assert origin.origin_check({}) == {"agreement_code": None, "products": [], "all_meet": False}
    draft = form.load_draft(
        {
            "agreement_code": "013",
            "products": [
                {"hs_code": "030617", "preference_criterion": "RVC"},
                {"fob_inr": "1000", "preference_criterion": "RVC"},
                {},
            ],
        }
    )
    check = origin.origin_check(draft)
    assert [p["rvc_percent"] for p in check["products"]] == [None, "100.00", None]
    assert "fob_inr" in check["products"][0]["message"]
    assert check["all_meet"] is False
    # junk that never went through the form
    junk = {"kind": 5, "agreement_code": ["x"], "products": ["x", {"fob_inr": "abc", "raw_materials": "no"}]}
    assert len(origin.origin_check(junk)["products"]) == 2
    assert origin.origin_check({"products": "nope"})["products"] == []


def test_origin_check_of_a_non_preferential_application():
    body = valid_application()
    body["kind"] = "non_preferential"
    del body["agreement_code"]
    del body["products"][0]["preference_criterion"]
    check = origin.origin_check(form.load_draft(body))
    assert check["agreement_code"] is None
    assert check["products"][0]["rvc_percent"] is None
    assert check["all_meet"] is True
