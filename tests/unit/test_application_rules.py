"""The application form (drafts), the rules at submission and the signing payload.

Plain Python: no broker, no database. Every rule is broken on its own, starting from the valid
AIFTA shrimp application of tests/application_fixtures.py, and the error must name the exact field
path and say what is wrong.
"""

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from services.application import rules
from services.contracts import application_form as form
from tests.application_fixtures import IEC, TODAY, valid_application, valid_lookups

APP_ID = "6f1c1f9e-2d0c-4c55-9a43-1c1de0f1a001"


def check(mutate=None, **lookups) -> dict:
    body = valid_application()
    if mutate is not None:
        mutate(body)
    return rules.check_submission(form.load_draft(body), **valid_lookups(**lookups))


def only(found: dict, path: str, fragment: str) -> None:
    """The one problem found is on ``path`` and its message contains ``fragment``."""
    assert list(found) == [path], found
    assert fragment in " ".join(found[path]), found[path]


def has(found: dict, path: str, fragment: str) -> None:
    assert path in found, found
    assert fragment in " ".join(found[path]), found[path]


def product(body, i=0):
    return body["products"][i]


def material(body, j, i=0):
    return body["products"][i]["raw_materials"][j]


def day(delta: int) -> str:
    return (TODAY + timedelta(days=delta)).isoformat()


# --- the valid application -----------------------------------------------------------------------


def test_the_complete_valid_application_has_no_problems():
    assert check() == {}


def test_it_survives_the_store_round_trip():
    # The service stores form.dump(form.load_draft(body)) and checks form.load_draft(stored).
    stored = form.dump(form.load_draft(valid_application()))
    json.dumps(stored)
    assert form.load_draft(stored) == form.load_draft(valid_application())
    assert rules.check_submission(form.load_draft(stored), **valid_lookups()) == {}


def test_a_non_preferential_application_is_valid_without_agreement_and_criterion():
    def non_preferential(b):
        b["kind"] = "non_preferential"
        del b["agreement_code"]
        del product(b)["preference_criterion"]

    assert check(non_preferential) == {}


def test_an_after_shipment_application_with_a_past_departure_is_valid():
    def after(b):
        b["shipment_timing"] = "after"
        b["transport"]["departure_date"] = day(-3)

    assert check(after) == {}


# --- drafts --------------------------------------------------------------------------------------


def test_any_subset_is_a_valid_draft():
    assert form.load_draft({}) == {}
    assert form.load_draft({"kind": "preferential", "importer": {"country": "vn"}}) == {
        "kind": "preferential",
        "importer": {"country": "VN"},
    }
    assert form.load_draft({"products": [{"raw_materials": [{}]}]}) == {"products": [{"raw_materials": [{}]}]}


def test_draft_loads_amounts_as_decimal_and_dates_as_dates_and_dumps_them_back():
    loaded = form.load_draft(valid_application())
    p = loaded["products"][0]
    assert p["fob_value"] == Decimal("12012.00") and isinstance(p["fob_value"], Decimal)
    assert loaded["invoice"]["date"] == TODAY - timedelta(days=1)
    dumped = form.dump(loaded)
    assert dumped["products"][0]["fob_value"] == "12012.00"
    assert dumped["invoice"]["date"] == day(-1)
    assert dumped == valid_application()


def test_json_numbers_are_accepted_and_exponents_normalised():
    loaded = form.load_draft({"products": [{"quantity": 12, "fob_value": 10.5, "fob_inr": "1E+3"}]})
    assert form.dump(loaded)["products"][0] == {"quantity": "12", "fob_value": "10.5", "fob_inr": "1000"}


def test_null_means_not_given():
    assert form.load_draft({"kind": None, "importer": {"name": None, "country": "VN"}, "products": None}) == {
        "importer": {"country": "VN"}
    }


def test_strings_are_stripped_and_codes_upper_cased():
    loaded = form.load_draft(
        {
            "branch_id": " B1 ",
            "products": [
                {
                    "unit": "kgs",
                    "fob_currency": "usd",
                    "preference_criterion": "Pk",
                    "raw_materials": [{"origin_country": "no"}],
                }
            ],
        }
    )
    assert loaded["branch_id"] == "B1"
    assert loaded["products"][0]["unit"] == "KGS"
    assert loaded["products"][0]["fob_currency"] == "USD"
    assert loaded["products"][0]["preference_criterion"] == "Pk"
    assert loaded["products"][0]["raw_materials"][0]["origin_country"] == "NO"


def draft_errors(body) -> dict:
    with pytest.raises(form.FormError) as caught:
        form.load_draft(body)
    return caught.value.fields


def test_unknown_fields_are_refused_with_their_path():
    body = valid_application()
    body["agreement"] = "013"
    body["importer"]["contry"] = "VN"
    material(body, 1)["origin"] = "NO"
    errors = draft_errors(body)
    assert errors == {
        "agreement": ["Unknown field."],
        "importer.contry": ["Unknown field."],
        "products[0].raw_materials[1].origin": ["Unknown field."],
    }


def test_bad_types_are_refused_with_their_path():
    body = valid_application()
    material(body, 1)["quantity"] = "six thousand"
    product(body)["fob_value"] = True
    body["invoice"]["date"] = "02/03/2026"
    body["postal_delivery"] = "yes"
    body["uses_non_originating_materials"] = 1
    body["importer"]["name"] = 42
    body["transport"] = "by sea"
    body["kind"] = "preferred"
    errors = draft_errors(body)
    assert set(errors) == {
        "products[0].raw_materials[1].quantity",
        "products[0].fob_value",
        "invoice.date",
        "postal_delivery",
        "uses_non_originating_materials",
        "importer.name",
        "transport",
        "kind",
    }
    assert errors["products[0].raw_materials[1].quantity"] == ["Not a valid number."]
    assert errors["invoice.date"] == ["Not a valid date."]
    assert "preferential" in errors["kind"][0]


def test_the_flattened_path_of_a_deep_error():
    body = valid_application()
    body["products"].append(dict(product(body)))
    body["products"].append(dict(product(body)))
    body["products"][2]["raw_materials"] = [{"origin_country": 3}]
    assert draft_errors(body) == {"products[2].raw_materials[0].origin_country": ["Not a valid string."]}


@pytest.mark.parametrize(
    "path,value,fragment",
    [
        ("quantity", "1.2345", "At most 3 decimal places."),
        ("fob_value", "12012.001", "At most 2 decimal places."),
        ("fob_inr", "-1", "Must not be negative."),
        ("fob_inr", "100000000000000", "Must be at most"),
        ("fob_inr", "NaN", "not permitted"),
        ("quantity", "Infinity", "not permitted"),
        ("description", "x" * 1001, "At most 1000 characters."),
    ],
)
def test_product_bounds(path, value, fragment):
    body = valid_application()
    product(body)[path] = value
    errors = draft_errors(body)
    assert list(errors) == [f"products[0].{path}"]
    assert fragment in errors[f"products[0].{path}"][0]


def test_unit_cif_value_takes_four_places_total_two():
    body = valid_application()
    material(body, 1)["unit_cif_value"] = "100.0001"
    form.load_draft(body)
    material(body, 1)["unit_cif_value"] = "100.00001"
    material(body, 1)["total_cif_value"] = "600000.001"
    assert draft_errors(body) == {
        "products[0].raw_materials[1].unit_cif_value": ["At most 4 decimal places."],
        "products[0].raw_materials[1].total_cif_value": ["At most 2 decimal places."],
    }


def test_at_most_100_products_and_100_raw_materials_each():
    body = valid_application()
    body["products"] = [product(body)] * 100
    form.load_draft(body)
    body["products"] = [product(body)] * 101
    assert draft_errors(body) == {"products": ["At most 100 entries."]}
    body = valid_application()
    product(body)["raw_materials"] = [material(body, 0)] * 101
    assert draft_errors(body) == {"products[0].raw_materials": ["At most 100 entries."]}


def test_a_body_that_is_not_an_object():
    assert draft_errors([]) == {"_schema": ["The application must be a JSON object."]}
    assert draft_errors({"products": "many"}) == {"products": ["Not a valid list."]}
    assert draft_errors({"products": ["one"]}) == {"products[0]": ["Invalid input type."]}


def test_flatten_errors():
    assert form.flatten_errors(
        {
            "products": {2: {"raw_materials": {0: {"origin_country": ["Bad."]}}}},
            "_schema": ["Whole."],
            "importer": {"_schema": ["Invalid input type."]},
        }
    ) == {
        "products[2].raw_materials[0].origin_country": ["Bad."],
        "_schema": ["Whole."],
        "importer": ["Invalid input type."],
    }


# --- required fields -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", rules.APPLICATION_REQUIRED)
def test_each_top_level_field_is_required(name):
    found = check(lambda b: b.pop(name))
    has(found, name, "equired")


def test_no_products():
    found = check(lambda b: b.update(products=[]))
    has(found, "products", "At least one product is required.")


@pytest.mark.parametrize(
    "part,name",
    [
        *(("importer", n) for n in rules.IMPORTER_REQUIRED),
        *(("transport", n) for n in rules.TRANSPORT_REQUIRED),
        *(("invoice", n) for n in rules.INVOICE_REQUIRED),
        *(("declaration", n) for n in rules.DECLARATION_REQUIRED),
    ],
)
def test_each_nested_field_is_required(part, name):
    found = check(lambda b: b[part].pop(name))
    has(found, f"{part}.{name}", "Required for submission.")


@pytest.mark.parametrize("name", rules.PRODUCT_REQUIRED)
def test_each_product_field_is_required(name):
    found = check(lambda b: product(b).pop(name))
    has(found, f"products[0].{name}", "Required for submission.")


@pytest.mark.parametrize("name", rules.RAW_MATERIAL_REQUIRED)
def test_each_raw_material_field_is_required(name):
    found = check(lambda b: material(b, 1).pop(name))
    has(found, f"products[0].raw_materials[1].{name}", "Required for submission.")


def test_an_empty_string_is_not_given():
    only(
        check(lambda b: b["declaration"].update(place="   ")), "declaration.place", "Required for submission."
    )


def test_vessel_or_flight_is_required_by_sea_and_air_only():
    only(
        check(lambda b: b["transport"].pop("vessel_or_flight")),
        "transport.vessel_or_flight",
        "when the goods go by sea",
    )

    def by_road(b):
        b["transport"].pop("vessel_or_flight")
        b["transport"]["mode"] = "road"

    assert check(by_road) == {}


def test_preference_criterion_is_required_for_preferential():
    only(
        check(lambda b: product(b).pop("preference_criterion")),
        "products[0].preference_criterion",
        "Required for submission.",
    )


# --- kind and agreement --------------------------------------------------------------------------


def test_preferential_needs_an_agreement():
    only(
        check(lambda b: b.pop("agreement_code")), "agreement_code", "Required for a preferential certificate."
    )


def test_non_preferential_names_no_agreement():
    def non_preferential(b):
        b["kind"] = "non_preferential"
        del product(b)["preference_criterion"]

    only(check(non_preferential), "agreement_code", "names no agreement")


def test_non_preferential_claims_no_criterion():
    def non_preferential(b):
        b["kind"] = "non_preferential"
        del b["agreement_code"]

    only(check(non_preferential), "products[0].preference_criterion", "claims no preference criterion")


def test_unknown_agreement():
    only(check(lambda b: b.update(agreement_code="999")), "agreement_code", "Unknown agreement '999'")


# --- organisation and branch ---------------------------------------------------------------------


def test_unknown_agency():
    only(check(lambda b: b.update(agency_code="XYZ")), "agency_code", "Unknown issuing agency 'XYZ'")


def test_regional_office_must_belong_to_the_agency():
    only(
        check(lambda b: b.update(regional_office_code="EIC-RO-MUMBAI")),
        "regional_office_code",
        "'EIC-RO-MUMBAI' is not a regional office of MPEDA",
    )


def test_issuing_office_must_belong_to_the_regional_office():
    only(
        check(lambda b: b.update(issuing_office_code="MPEDA-CHENNAI")),
        "issuing_office_code",
        "'MPEDA-CHENNAI' is not an issuing office under MPEDA-RO-KOCHI",
    )


def test_another_issuing_office_of_the_same_regional_office_is_fine():
    assert check(lambda b: b.update(issuing_office_code="MPEDA-ALAPPUZHA")) == {}


def test_branch_must_be_the_exporters():
    only(
        check(lambda b: b.update(branch_id="B9")),
        "branch_id",
        "'B9' is not one of your registered branches (B1, B2)",
    )


# --- HS codes ------------------------------------------------------------------------------------


def test_unknown_product_hs_code():
    only(
        check(lambda b: product(b).update(hs_code="030699")),
        "products[0].hs_code",
        "HS code '030699' is not in the HS nomenclature",
    )


def test_eight_digit_code_whose_subheading_exists_is_fine():
    assert check(lambda b: product(b).update(hs_code="03061790")) == {}
    assert check(lambda b: product(b).update(hs_code="0306.17")) == {}


def test_eight_digit_code_whose_subheading_does_not_exist():
    only(
        check(lambda b: material(b, 1).update(hs_code="23019900")),
        "products[0].raw_materials[1].hs_code",
        "its subheading 230199 is not in the HS",
    )


def test_a_heading_is_not_enough():
    only(
        check(lambda b: product(b).update(hs_code="0306")),
        "products[0].hs_code",
        "is a heading: give a 6-digit subheading or an 8-digit tariff item",
    )


def test_hs_code_form():
    only(
        check(lambda b: material(b, 0).update(hs_code="03O636")),
        "products[0].raw_materials[0].hs_code",
        "must contain only digits",
    )


def test_without_nomenclature_only_form_and_chapter_are_checked():
    assert check(lambda b: product(b).update(hs_code="030699"), hs_exists=lambda c: None) == {}
    only(
        check(lambda b: product(b).update(hs_code="990617"), hs_exists=lambda c: None),
        "products[0].hs_code",
        "chapter 99",
    )


# --- countries, currencies, units ----------------------------------------------------------------


def test_importer_country_must_be_iso_3166():
    only(
        check(lambda b: b["importer"].update(country="XX")),
        "importer.country",
        "'XX' is not an ISO 3166 alpha-2 country code",
    )


def test_importer_country_must_be_a_partner_of_the_agreement():
    only(
        check(lambda b: b["importer"].update(country="KR")),
        "importer.country",
        "Korea, Republic of (KR) is not a partner country of AIFTA",
    )


def test_importer_must_be_outside_india():
    only(check(lambda b: b["importer"].update(country="IN")), "importer.country", "outside India")


def test_raw_material_origin_country_must_be_iso_3166():
    only(
        check(lambda b: material(b, 1).update(origin_country="ZZ")),
        "products[0].raw_materials[1].origin_country",
        "'ZZ' is not an ISO 3166",
    )


def test_currency_must_be_iso_4217():
    only(
        check(lambda b: product(b).update(fob_currency="XYZ")),
        "products[0].fob_currency",
        "'XYZ' is not an ISO 4217 currency code",
    )


def test_units_must_be_on_the_unit_list():
    def bad_units(b):
        product(b)["unit"] = "KGX"
        material(b, 0)["unit"] = "LBS"

    found = check(bad_units)
    assert set(found) == {"products[0].unit", "products[0].raw_materials[0].unit"}
    has(found, "products[0].unit", "'KGX' is not a unit of the unit list")
    has(found, "products[0].raw_materials[0].unit", "'LBS' is not a unit")


# --- dates ---------------------------------------------------------------------------------------


def test_invoice_date_not_in_the_future():
    only(
        check(lambda b: b["invoice"].update(date=day(1))),
        "invoice.date",
        f"The invoice date {day(1)} is in the future",
    )


def test_invoice_dated_today_is_fine():
    assert check(lambda b: b["invoice"].update(date=day(0))) == {}


def test_before_shipment_has_no_past_departure_date():
    only(
        check(lambda b: b["transport"].update(departure_date=day(-1))),
        "transport.departure_date",
        f"before-shipment application cannot have a departure date in the past ({day(-1)})",
    )


def test_after_shipment_has_no_future_departure_date():
    def after(b):
        b["shipment_timing"] = "after"
        b["transport"]["departure_date"] = day(2)

    only(
        check(after),
        "transport.departure_date",
        "after-shipment application cannot have a departure date in the future",
    )


def test_raw_material_invoice_date_not_in_the_future():
    only(
        check(lambda b: material(b, 1).update(invoice_date=day(5))),
        "products[0].raw_materials[1].invoice_date",
        "is in the future",
    )


# --- quantities and values -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["quantity", "fob_value"])
def test_product_quantities_and_values_positive(name):
    found = check(lambda b: product(b).update({name: "0"}))
    has(found, f"products[0].{name}", "Must be greater than zero.")


def test_fob_inr_positive():
    found = check(lambda b: product(b).update(fob_inr="0"))
    has(found, "products[0].fob_inr", "Must be greater than zero.")


@pytest.mark.parametrize("name", ["quantity", "unit_cif_value", "total_cif_value"])
def test_raw_material_quantities_and_values_positive(name):
    found = check(lambda b: material(b, 0).update({name: "0.00"}))
    has(found, f"products[0].raw_materials[0].{name}", "Must be greater than zero.")


def test_total_cif_must_be_quantity_times_unit_cif():
    only(
        check(lambda b: material(b, 1).update(unit_cif_value="100.02")),
        "products[0].raw_materials[1].total_cif_value",
        "Total CIF value 600000.00 INR is not quantity x unit CIF value: 6000 x 100.02 = 600120.00 INR",
    )


def test_total_cif_within_a_paisa_per_unit_is_fine():
    # 6000 x 100.0099 = 600059.40: 59.40 off, tolerance 0.01 x 6000 = 60.00
    assert check(lambda b: material(b, 1).update(unit_cif_value="100.0099")) == {}
    # 6000 x 100.0101 = 600060.60: 60.60 off
    only(
        check(lambda b: material(b, 1).update(unit_cif_value="100.0101")),
        "products[0].raw_materials[1].total_cif_value",
        "= 600060.60 INR",
    )


def test_total_cif_tolerance_is_at_least_one_paisa():
    def small(b):
        material(b, 0).update(quantity="0.5", unit_cif_value="10.00", total_cif_value="5.01")

    assert check(small) == {}
    only(
        check(
            lambda b: material(b, 0).update(quantity="0.5", unit_cif_value="10.00", total_cif_value="5.02")
        ),
        "products[0].raw_materials[0].total_cif_value",
        "0.5 x 10.00 = 5.00 INR",
    )


# --- FOB in INR ----------------------------------------------------------------------------------


def test_fob_inr_must_be_fob_times_the_rate():
    # 12012.00 x 83.25 = 999999.00; 990000.00 is 9999 off, over 0.1% (1000)
    only(
        check(lambda b: product(b).update(fob_inr="990000.00")),
        "products[0].fob_inr",
        f"FOB in INR 990000.00 does not match 12012.00 USD x 83.2500 (the rate on {day(-1)}) = 999999.00 INR",
    )


def test_fob_inr_tolerance_is_one_tenth_of_a_percent():
    # 12012.00 x 83.25 = 999999.00; 0.1% of it is 999.999
    assert check(lambda b: product(b).update(fob_inr="1000998.00")) == {}  # 999 off
    has(
        check(lambda b: product(b).update(fob_inr="1000999.00")), "products[0].fob_inr", "does not match"
    )  # 1000 off


def test_fob_inr_tolerance_is_at_least_one_rupee():
    def inr(b, fob_inr):
        product(b).update(fob_currency="INR", fob_value="500.00", fob_inr=fob_inr, raw_materials=[])
        b["uses_non_originating_materials"] = False

    assert check(lambda b: inr(b, "501.00")) == {}
    only(check(lambda b: inr(b, "501.01")), "products[0].fob_inr", "500.00 INR x 1 ")


def test_the_rate_is_taken_on_the_invoice_date():
    seen = []

    def rate(currency, on):
        seen.append((currency, on))
        return Decimal("83.2500")

    assert check(exchange_rate=rate) == {}
    assert seen == [("USD", TODAY - timedelta(days=1))]


def test_a_currency_without_a_rate():
    only(
        check(lambda b: product(b).update(fob_currency="EUR")),
        "products[0].fob_currency",
        f"No exchange rate for EUR on {day(-1)}",
    )


# --- criteria and value content ------------------------------------------------------------------


def test_criterion_must_be_one_the_agreement_allows():
    only(
        check(lambda b: product(b).update(preference_criterion="CTH")),
        "products[0].preference_criterion",
        "'CTH' is not a criterion of AIFTA (allowed: WO, PE, RVC)",
    )


def test_rvc_below_the_threshold_is_refused_showing_the_figure():
    def thirty_percent(b):
        material(b, 1).update(unit_cif_value="116.67", total_cif_value="700020.00")

    found = check(thirty_percent)
    only(found, "products[0].preference_criterion", "RVC 30.00% is below the 35% required by AIFTA")


def test_rvc_of_the_second_product_names_its_path():
    def second(b):
        extra = json.loads(json.dumps(product(b)))
        extra["raw_materials"][1].update(quantity="7000", total_cif_value="700000.00")
        b["products"].append(extra)

    only(check(second), "products[1].preference_criterion", "30.00%")


def test_asean_materials_cumulate_under_aifta():
    def from_thailand(b):
        material(b, 1).update(origin_country="TH", quantity="9000", total_cif_value="900000.00")

    assert check(from_thailand) == {}


def test_value_content_under_a_letter_criterion():
    # SAPTA (008): criterion B with a 50% threshold; Sri Lanka is a partner.
    def sapta(b):
        b["agreement_code"] = "008"
        b["importer"]["country"] = "LK"
        product(b)["preference_criterion"] = "B"

    only(check(sapta), "products[0].preference_criterion", "RVC 40.00% is below the 50% required by SAPTA")


def test_wholly_obtained_is_not_value_checked():
    assert check(lambda b: product(b).update(preference_criterion="WO")) == {}


# --- declared materials, documents ---------------------------------------------------------------


def test_no_non_originating_materials_declared_but_foreign_ones_listed():
    only(
        check(lambda b: b.update(uses_non_originating_materials=False)),
        "uses_non_originating_materials",
        "Answered no, but products[0].raw_materials[1] comes from outside India",
    )


def test_non_originating_materials_declared_but_none_listed():
    only(
        check(lambda b: material(b, 1).update(origin_country="IN")),
        "uses_non_originating_materials",
        "Answered yes, but no raw material from outside",
    )


def test_commercial_invoice_must_be_attached():
    only(check(has_invoice_document=False), "documents", "commercial invoice")


def test_all_problems_come_back_at_once():
    def many(b):
        b["branch_id"] = "B9"
        b["importer"]["country"] = "XX"
        del b["declaration"]["name"]
        material(b, 1)["origin_country"] = "ZZ"
        product(b)["fob_currency"] = "EUR"

    found = check(many, has_invoice_document=False)
    assert set(found) == {
        "branch_id",
        "importer.country",
        "declaration.name",
        "products[0].raw_materials[1].origin_country",
        "products[0].fob_currency",
        "documents",
    }


def test_an_empty_draft_lists_what_is_missing_without_raising():
    found = rules.check_submission({}, **valid_lookups(has_invoice_document=False))
    assert set(rules.APPLICATION_REQUIRED) <= set(found)
    assert "documents" in found


# --- signing payload -----------------------------------------------------------------------------


def payload(body=None, application_id=APP_ID, iec=IEC) -> bytes:
    data = form.dump(form.load_draft(body if body is not None else valid_application()))
    return rules.signing_payload(data, application_id=application_id, iec=iec)


def reversed_keys(value):
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def test_signing_payload_is_canonical_json_with_exact_amounts():
    raw = payload()
    decoded = json.loads(raw)
    assert decoded["application_id"] == APP_ID and decoded["iec"] == IEC
    assert decoded["type"] == rules.PAYLOAD_TYPE
    assert decoded["form"]["products"][0]["fob_value"] == "12012.00"
    assert decoded["form"]["products"][0]["raw_materials"][1]["unit_cif_value"] == "100.00"
    assert raw == json.dumps(decoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_signing_payload_does_not_depend_on_key_order_or_loading():
    body = valid_application()
    assert payload(reversed_keys(body)) == payload(body)
    loaded = form.load_draft(body)
    assert rules.signing_payload(loaded, application_id=APP_ID, iec=IEC) == payload(body)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(agreement_code="002"),
        lambda b: b.update(postal_delivery=True),
        lambda b: b["importer"].update(name="Saigon Seafood Trading JSC."),
        lambda b: b["invoice"].update(date=day(-2)),
        lambda b: product(b).update(fob_value="12012.01"),
        lambda b: product(b).update(fob_value="12012.0"),  # same number, different text
        lambda b: material(b, 1).update(origin_country="NL"),
        lambda b: b["declaration"].update(designation="Partner"),
        lambda b: b.update(exporter_comments="urgent"),
        lambda b: b["products"].reverse() or b["products"].append(product(b)),
    ],
)
def test_signing_payload_changes_with_any_value(mutate):
    body = valid_application()
    mutate(body)
    assert payload(body) != payload()


def test_signing_payload_binds_the_application_and_the_iec():
    assert payload(application_id="another") != payload()
    assert payload(iec="AABCS7319Q") != payload()
