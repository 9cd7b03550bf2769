"""Reference-data domain rules: agreements, units, HS codes and the issuing organisation.

Plain Python: no broker, no database.
"""

import re
import time
from collections import Counter
from pathlib import Path

import pycountry
import pytest

from services.application import agreements as ag
from services.application import hs
from services.application.units import UNITS, is_unit
from services.registration import organisation as org

HS2022_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "hs2022.csv"

HEADER = "section,hscode,description,parent,level\n"
GOOD_ROWS = [
    "I,01,Animals; live,TOTAL,2\n",
    'I,0101,"Horses, asses, mules and hinnies; live",01,4\n',
    'I,010121,"Horses; live, pure-bred breeding animals",0101,6\n',
]


# --- agreements -------------------------------------------------------------------------------


def test_agreement_codes_are_unique_three_digit_strings():
    codes = [a.code for a in ag.AGREEMENTS]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[0-9]{3}", c) for c in codes), codes
    assert len(ag.AGREEMENTS) == 18  # the 6 DGFT-coded agreements + the 12 of our own


@pytest.mark.parametrize(
    "code,short_name",
    [
        ("002", "IKCEPA"),
        ("004", "GSTP"),
        ("006", "GSP"),
        ("008", "SAPTA"),
        ("013", "AIFTA"),
        ("015", "APTA"),
    ],
)
def test_dgft_scheme_codes(code, short_name):
    assert ag.agreement_by_code(code).short_name == short_name


def test_every_agreement_named_in_design_is_present():
    names = {a.short_name for a in ag.AGREEMENTS}
    for expected in [
        "SAFTA",
        "ISLFTA",
        "IJCEPA",
        "IMCECA",
        "ISCECA",
        "ITFTA-EHS",
        "ICPTA",
        "IMPTA",
        "IAPTA",
        "IUAECEPA",
        "IndAus ECTA",
        "CECPA",
    ]:
        assert expected in names
    assert len(names) == len(ag.AGREEMENTS)


def test_unknown_code_has_no_agreement():
    assert ag.agreement_by_code("999") is None
    assert ag.agreement_by_code("") is None


def test_aifta():
    a = ag.agreement_by_code("013")
    assert a.partner_countries == ("BN", "ID", "KH", "LA", "MM", "MY", "PH", "SG", "TH", "VN")
    assert a.certificate_form == "Form AI"
    assert a.value_content_threshold == 35
    assert a.value_content_criteria == ("RVC",)
    assert a.value_content_tariff_shift == "CTSH"
    assert {"WO", "RVC"} <= set(a.preference_criteria)


def test_partner_lists():
    assert ag.agreement_by_code("015").partner_countries == ("BD", "CN", "KR", "LA", "LK", "MN")
    by_name = {a.short_name: a for a in ag.AGREEMENTS}
    assert by_name["SAFTA"].partner_countries == ("AF", "BD", "BT", "LK", "MV", "NP", "PK")
    assert by_name["IMPTA"].partner_countries == ("AR", "BR", "PY", "UY")
    assert by_name["IMPTA"].value_content_threshold == 60
    gsp = ag.agreement_by_code("006")
    assert gsp.certificate_form == "Form A"
    assert {"DE", "FR", "GB", "JP", "NO", "CH", "CA", "AU", "NZ", "RU", "TR"} <= set(gsp.partner_countries)
    assert "US" not in gsp.partner_countries
    assert ag.agreement_by_code("002").partner_countries == ("KR",)


@pytest.mark.parametrize("a", ag.AGREEMENTS, ids=lambda a: a.short_name)
def test_agreement_is_consistent(a):
    assert a.partner_countries, "no partner countries"
    assert list(a.partner_countries) == sorted(set(a.partner_countries))
    for c in a.partner_countries:
        assert pycountry.countries.get(alpha_2=c) is not None, c
    assert "IN" not in a.partner_countries
    assert a.preference_criteria and len(set(a.preference_criteria)) == len(a.preference_criteria)
    assert set(a.value_content_criteria) <= set(a.preference_criteria)
    assert a.certificate_form and a.certificate_form != ag.NON_PREFERENTIAL_FORM
    if a.value_content_threshold is not None:
        assert isinstance(a.value_content_threshold, int) and 0 < a.value_content_threshold < 100
        assert a.value_content_criteria, "a threshold with no criterion it applies to"
    assert a.value_content_tariff_shift in (None, "CTH", "CTSH", "CC")
    assert a.notes


def test_agreement_as_dict_is_json_ready():
    import json

    d = ag.agreement_as_dict(ag.agreement_by_code("013"))
    assert d["code"] == "013"
    assert d["value_content_threshold"] == 35
    assert d["partner_countries"][0] == "BN" and isinstance(d["partner_countries"], list)
    assert json.loads(json.dumps(d)) == d
    assert ag.agreement_as_dict(ag.agreement_by_code("006"))["value_content_threshold"] is None


def test_agreements_for_country():
    assert {a.short_name for a in ag.agreements_for_country("kr")} == {"IKCEPA", "GSTP", "APTA"}
    assert ag.agreements_for_country("IN") == ()


# --- units ------------------------------------------------------------------------------------


def test_units():
    codes = [c for c, _ in UNITS]
    assert len(codes) == len(set(codes)) == 45
    assert all(re.fullmatch(r"[A-Z]{3}", c) for c in codes)
    assert all(name for _, name in UNITS)
    assert is_unit("KGS") and is_unit("OTH") and is_unit("NOS")
    assert not is_unit("kgs") and not is_unit("KG") and not is_unit("") and not is_unit(None)


# --- HS code form -----------------------------------------------------------------------------


def test_hs_chapters():
    assert len(hs.HS_CHAPTERS) == 96
    assert "01" in hs.HS_CHAPTERS and "97" in hs.HS_CHAPTERS
    assert not {"00", "77", "98", "99"} & hs.HS_CHAPTERS


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("01", ("01", 2, "01")),
        ("0101", ("0101", 4, "01")),
        ("010121", ("010121", 6, "01")),
        ("0101.21", ("010121", 6, "01")),
        (" 0101 21 ", ("010121", 6, "01")),
        ("03061720", ("03061720", 8, "03")),
        ("0306.17.20", ("03061720", 8, "03")),
        ("970110", ("970110", 6, "97")),
    ],
)
def test_check_form_accepts(raw, expected):
    assert tuple(hs.check_form(raw)) == expected


@pytest.mark.parametrize(
    "raw,message",
    [
        ("9", "expected 2, 4, 6 or 8"),
        ("123", "expected 2, 4, 6 or 8"),
        ("0101210", "expected 2, 4, 6 or 8"),
        ("0101210000", "expected 2, 4, 6 or 8"),
        ("7701", "not an HS 2022 chapter"),
        ("770110", "not an HS 2022 chapter"),
        ("990100", "not an HS 2022 chapter"),
        ("000000", "not an HS 2022 chapter"),
        ("01a1", "only digits"),
        ("O101", "only digits"),
        ("٠١٠١", "only digits"),  # Arabic-Indic digits are not HS digits
        ("", "empty"),
        (" . ", "empty"),
    ],
)
def test_check_form_rejects(raw, message):
    with pytest.raises(hs.InvalidHsCode, match=message):
        hs.check_form(raw)


def test_invalid_hs_code_is_a_value_error():
    with pytest.raises(ValueError):
        hs.check_form("77")
    with pytest.raises(hs.InvalidHsCode):
        hs.check_form(10121)


# --- HS nomenclature file ---------------------------------------------------------------------


def test_parse_real_hs2022_file():
    started = time.perf_counter()
    with open(HS2022_CSV, encoding="utf-8") as f:
        entries = hs.parse_nomenclature(f)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, elapsed
    # The file has 6,940 data rows; 4 are Comtrade aggregates (the TOTAL root and chapter 99's
    # 99 / 9999 / 999999 "not specified"), which are checked but not returned.
    assert len(entries) == 6936
    assert Counter(e.level for e in entries) == {2: 96, 4: 1228, 6: 5612}
    assert {e.code for e in entries if e.level == 2} == hs.HS_CHAPTERS
    first = entries[0]
    assert first == hs.HsEntry("01", "Animals; live", None, 2, "I")
    by_code = {e.code: e for e in entries}
    assert by_code["010121"].parent == "0101"
    assert by_code["010121"].section == "I"
    assert by_code["0101"].description == "Horses, asses, mules and hinnies; live"
    assert "999999" not in by_code


def test_parse_accepts_text_with_bom_and_bytes():
    text = "\ufeff" + HEADER + "".join(GOOD_ROWS)
    assert [e.code for e in hs.parse_nomenclature(text)] == ["01", "0101", "010121"]
    assert len(hs.parse_nomenclature(text.encode("utf-8"))) == 3


def test_parent_may_come_later_in_the_file():
    text = HEADER + GOOD_ROWS[2] + GOOD_ROWS[1] + GOOD_ROWS[0]
    assert [e.code for e in hs.parse_nomenclature(text)] == ["010121", "0101", "01"]


def _errors(text):
    with pytest.raises(hs.NomenclatureError) as info:
        hs.parse_nomenclature(text)
    return info.value.errors


@pytest.mark.parametrize(
    "text,expected",
    [
        ("", ["line 1: file is empty"]),
        (HEADER, ["line 2: no entries after the header"]),
        (
            "section,code,description,parent,level\n" + GOOD_ROWS[0],
            [
                "line 1: header must be 'section,hscode,description,parent,level', "
                "found 'section,code,description,parent,level'"
            ],
        ),
        (HEADER + GOOD_ROWS[0] + "I,0101,Horses,01,5\n", ["line 3: level '5' is not 2, 4 or 6"]),
        (
            HEADER + GOOD_ROWS[0] + "I,0101,Horses,01,6\n",
            ["line 3: level 6 does not match hscode '0101' (4 digits)"],
        ),
        (HEADER + GOOD_ROWS[0] + "I,0101,Horses,01,x\n", ["line 3: level 'x' is not 2, 4 or 6"]),
        (HEADER + GOOD_ROWS[0] + GOOD_ROWS[1] + GOOD_ROWS[1], ["line 4: hscode '0101' duplicates line 3"]),
        (
            HEADER + GOOD_ROWS[0] + "I,010299,Other bovines,0102,6\n",
            ["line 3: parent '0102' of hscode '010299' is not in the file"],
        ),
        (
            HEADER + GOOD_ROWS[0] + "I,010299,Other bovines,0101,6\n",
            ["line 3: parent '0101' of hscode '010299' must be '0102'"],
        ),
        (HEADER + "I,01,Animals; live,00,2\n", ["line 2: chapter '01' must have parent 'TOTAL', not '00'"]),
        (HEADER + GOOD_ROWS[0] + "I,01x1,Horses,01,4\n", ["line 3: hscode '01x1' is not digits"]),
        (HEADER + GOOD_ROWS[0] + "I,0101,Horses,01\n", ["line 3: expected 5 fields, found 4"]),
        (HEADER + GOOD_ROWS[0] + "I,0101,,01,4\n", ["line 3: hscode '0101' has no description"]),
        (
            HEADER + "XV,77,Reserved,TOTAL,2\n",
            ["line 2: chapter 77 of hscode '77' is not an HS 2022 chapter"],
        ),
        (HEADER + "XXII,01,Animals,TOTAL,2\n", ["line 2: section 'XXII' is not an HS section (I to XXI)"]),
        (
            HEADER + "TOTAL,01,Animals,TOTAL,2\n",
            ["line 2: section 'TOTAL' is only for chapter 99 rows, not '01'"],
        ),
    ],
    ids=[
        "empty",
        "header-only",
        "wrong-header",
        "bad-level",
        "level-length",
        "level-not-int",
        "duplicate",
        "orphan",
        "parent-not-prefix",
        "chapter-parent",
        "non-digit",
        "short-row",
        "no-description",
        "chapter-77",
        "bad-section",
        "aggregate-section",
    ],
)
def test_bad_nomenclature(text, expected):
    assert _errors(text) == expected


def test_errors_carry_line_numbers_of_multiline_records():
    # A quoted description spanning two lines: the next record's line number must still be right.
    text = HEADER + 'I,01,"Animals;\nlive",TOTAL,2\n' + "I,01x1,Horses,01,4\n"
    assert _errors(text) == ["line 4: hscode '01x1' is not digits"]


def test_errors_are_collected_and_capped_at_twenty():
    rows = "".join(f"I,0{i:02d}x,bad,01,4\n" for i in range(30))
    with pytest.raises(hs.NomenclatureError) as info:
        hs.parse_nomenclature(HEADER + GOOD_ROWS[0] + rows)
    err = info.value
    assert len(err.errors) == 20 and err.truncated
    assert err.errors[0] == "line 3: hscode '000x' is not digits"
    assert err.errors[-1] == "line 22: hscode '019x' is not digits"
    assert "stopped after 20 errors" in str(err)


def test_several_errors_are_all_reported():
    text = HEADER + GOOD_ROWS[0] + "I,0101,Horses,01,5\n" + "I,01x1,Horses,01,4\n" + GOOD_ROWS[0]
    assert _errors(text) == [
        "line 3: level '5' is not 2, 4 or 6",
        "line 4: hscode '01x1' is not digits",
        "line 5: hscode '01' duplicates line 2",
    ]


def test_aggregate_rows_are_validated_but_not_returned():
    text = (
        HEADER
        + GOOD_ROWS[0]
        + (
            "TOTAL,99,Commodities not specified according to kind,TOTAL,2\n"
            "TOTAL,9999,Commodities not specified according to kind,99,4\n"
            "TOTAL,TOTAL,Total of all HS2022 commodities,TOTAL,5\n"
        )
    )
    assert [e.code for e in hs.parse_nomenclature(text)] == ["01"]
    assert _errors(text + "TOTAL,TOTAL,Again,TOTAL,5\n") == ["line 6: hscode 'TOTAL' duplicates line 5"]


# --- organisation -----------------------------------------------------------------------------


def test_indian_state_codes():
    states = org.indian_state_codes()
    assert len(states) == 36  # 28 states + 8 union territories
    assert states["IN-KL"] == "Kerala"
    assert "IN-MH" in states and "IN-DL" in states and "IN-TS" in states


def test_organisation_codes_are_unique_and_upper_case():
    agency_codes = [a.code for a in org.SEED_AGENCIES]
    assert len(agency_codes) == len(set(agency_codes))
    office_codes = [r.code for a in org.SEED_AGENCIES for r in a.regional_offices]
    office_codes += [o.code for _, _, o in org.iter_issuing_offices()]
    assert len(office_codes) == len(set(office_codes))
    for code in agency_codes + office_codes:
        assert re.fullmatch(r"[A-Z][A-Z0-9-]*", code), code
    assert "MPEDA-KOCHI" in office_codes
    for agency, _, office in org.iter_issuing_offices():
        assert office.code.startswith(agency.code + "-")


def test_every_office_has_a_valid_state():
    states = org.indian_state_codes()
    for agency in org.SEED_AGENCIES:
        assert agency.regional_offices, agency.code
        for region in agency.regional_offices:
            assert region.state in states, (region.code, region.state)
            assert pycountry.subdivisions.get(code=region.state) is not None
            assert region.issuing_offices, region.code
            for office in region.issuing_offices:
                assert office.state in states, (office.code, office.state)
                assert office.name and office.address


def test_main_agencies_have_several_issuing_offices():
    per_agency = Counter(a.code for a, _, _ in org.iter_issuing_offices())
    for code in ("DGFT", "EIC", "MPEDA", "FIEO"):
        assert per_agency[code] >= 2, code
    assert per_agency["TC"] >= 1 and per_agency["SPICES"] >= 1 and per_agency["FICCI"] >= 1
    mpeda = org.agency_by_code("MPEDA")
    assert {r.code for r in mpeda.regional_offices} >= {
        "MPEDA-RO-KOCHI",
        "MPEDA-RO-CHENNAI",
        "MPEDA-RO-KOLKATA",
        "MPEDA-RO-MUMBAI",
        "MPEDA-RO-VERAVAL",
        "MPEDA-RO-VISAKHAPATNAM",
    }
    assert org.agency_by_code("NOPE") is None
