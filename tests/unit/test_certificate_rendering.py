"""The certificate PDF (architecture §8): one layout per form, the importing country in the title, the
number at the top, the goods, QR and verification URL, markings, draft watermark, escaping and
pagination. The PDFs are rendered once per module (two threads, as tpool workers would) and read
back with pdftotext / pdfinfo."""

import copy
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from services.application.agreements import agreement_as_dict, agreement_by_code
from services.certificate.rendering import (
    LAYOUTS,
    certificate_context,
    certificate_html,
    certificate_view,
    country_name,
    render_certificate,
)
from services.chassis.pdf import qr_png_data_uri
from tests.application_fixtures import IEC, valid_application

NUMBER = "MPEDA/2026/013/0000001A"
PUBLIC = "https://coo.example.gov.in"


def verify_url(number: str) -> str:
    return f"{PUBLIC}/api/v1/verify?number={quote(number, safe='')}"


EXPORTER = {
    "iec": IEC,
    "name": "Malabar Sea Foods Pvt Ltd",
    "address": "Willingdon Island\nKochi 682003, Kerala",
}
OFFICE = {
    "code": "MPEDA-KOCHI",
    "name": "MPEDA Kochi",
    "state": "IN-KL",
    "address": "MPEDA House, Panampilly Avenue\nKochi 682036",
}
AGENCY = {"code": "MPEDA", "name": "Marine Products Export Development Authority"}
SHRIMPS = {
    "hs_code": "030617",
    "description": "Frozen vannamei shrimps, headless, shell-on",
    "quantity": "12000",
    "unit": "KGS",
    "fob_currency": "USD",
    "fob_value": "12012.00",
    "marks_and_numbers": "MSF/VN/118/1-600",
    "packages": "600 cartons",
    "preference_criterion": "RVC 40% + CTSH",
}


def application(**form_changes) -> dict:
    form = valid_application()
    form.update(form_changes)
    return {
        "id": "app-1",
        "number": NUMBER,
        "iec": IEC,
        "status": "approved",
        "form": form,
        "submitted_at": "2026-11-24T05:30:00Z",
    }


def view(
    code: str | None = "013",
    *,
    number: str = NUMBER,
    country: str | None = None,
    products: list | None = None,
    exporter: dict = EXPORTER,
    **changes,
) -> dict:
    app = application()
    if country:
        app["form"]["importer"]["country"] = country
    if products is not None:
        app["form"]["products"] = products
    if "shipment_timing" in changes:
        app["form"]["shipment_timing"] = changes.pop("shipment_timing")
    agreement = agreement_as_dict(agreement_by_code(code)) if code else None
    options = {
        "number": number,
        "issued_on": "2026-11-25",
        "officer": "Anitha Menon",
        "remarks": "",
        "marking": None,
        "verify_url": verify_url(number),
        **changes,
    }
    return certificate_view(app, agreement, OFFICE, AGENCY, exporter, **options)


def products(count: int) -> list:
    return [
        {
            **SHRIMPS,
            "hs_code": f"0306{i:04d}",
            "description": f"Shrimp lot {i:03d} "
            + "frozen, peeled and deveined, block frozen in master cartons " * (i % 4),
        }
        for i in range(count)
    ]


DUPLICATE = f"{NUMBER}/00000001"
IN_LIEU = "MPEDA/2026/008/0000007A"

# name: (view, draft). Every form once; the markings spread over them so that each can be seen
# present in one PDF and absent from the others.
CASES = {
    "aifta": (view("013"), False),
    "ikcepa": (view("002", number=DUPLICATE, country="KR", marking="DUPLICATE"), False),
    "sapta": (view("008", number=IN_LIEU, country="NP", marking=f"IN LIEU OF {NUMBER}"), False),
    "apta": (view("015", country="CN"), False),
    "gstp": (view("004", country="BR", issued_on=None, officer=None), True),
    "gsp": (view("006", country="DE", remarks="Checked at <dock> & port"), False),
    "safta": (view("101", country="BD", shipment_timing="after"), False),
    "nonpref": (view(None, country="US", exporter={**EXPORTER, "name": "Malabar <b>&</b> Foods"}), False),
    "many": (view("013", products=products(60)), True),
}

TITLES = {
    "aifta": ["ASEAN-India Free Trade Area", "Preferential Tariff Certificate of Origin", "FORM AI"],
    "ikcepa": ["India-Korea Comprehensive Economic Partnership Agreement", "Certificate of Origin"],
    "sapta": ["SAARC Preferential Trading Arrangement (SAPTA)", "Certificate of Origin"],
    "apta": ["Asia-Pacific Trade Agreement", "(Combined Declaration and Certificate of Origin)"],
    "gstp": ["Global System of Trade Preferences among Developing Countries (GSTP)"],
    "gsp": ["Generalised System of Preferences", "FORM A"],
    "safta": ["Agreement on South Asian Free Trade Area", "SAFTA Certificate of Origin"],
    "nonpref": ["Certificate of Origin", "(Non-preferential)"],
}
COUNTRIES = {
    "aifta": "Viet Nam",
    "ikcepa": "Republic of Korea",
    "sapta": "Nepal",
    "apta": "China",
    "gstp": "Brazil",
    "gsp": "Germany",
    "safta": "Bangladesh",
    "nonpref": "United States",
}


def _pdftotext(data: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def _flat(text: str) -> str:
    """The text with its line breaks and runs of blanks as single spaces (cells wrap)."""
    return " ".join(text.split())


def _watermarks(data: bytes) -> list[int]:
    """How many diagonal "DRAFT" watermarks each page shows. pdftotext gives rotated text one
    letter a line, in order with -raw, so the letters are joined; "DRAFT — not valid" in the
    certification box is not a watermark."""
    raw = subprocess.run(
        ["pdftotext", "-raw", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()
    pages = [re.sub(r"\s", "", page) for page in raw.rstrip("\f").split("\f")]
    return [page.count("DRAFT") - page.count("DRAFT—notvalid") for page in pages]


def _pages(data: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout.decode(), re.M).group(1))


@pytest.fixture(scope="module")
def pdfs():
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(render_certificate, cert, draft=draft) for name, (cert, draft) in CASES.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="module")
def texts(pdfs):
    return {name: _pdftotext(data) for name, data in pdfs.items()}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- forms, titles, number ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TITLES))
def test_title_names_the_form_and_the_importing_country(texts, name):
    header = " ".join(_lines(texts[name].split("1. ")[0]))  # what comes before box 1
    for title in TITLES[name]:
        assert title in header, (name, title)
    assert f"Issued in India for goods exported to {COUNTRIES[name]}" in header


def test_every_form_has_its_layout():
    assert set(LAYOUTS) == {"AIFTA", "IKCEPA", "SAPTA", "APTA", "GSTP", "GSP"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_number_is_at_the_top_and_printed_under_the_qr(texts, pdfs, name):
    cert = CASES[name][0]
    text = texts[name]
    first_page = _lines(text.split("\f")[0])
    assert first_page[0] == f"Certificate No. {cert['number']}"
    assert f"Reference No. {cert['number']}" in first_page[:3]
    # Every page carries the number at its top.
    assert text.count(f"Certificate No. {cert['number']}") == _pages(pdfs[name])


def test_box_order_differs_by_form():
    def numbered(code):
        boxes = certificate_context(view(code))["boxes"]
        return {key: number for key, (number, _) in boxes.items()}

    aifta, sapta, gsp = numbered("013"), numbered("008"), numbered("006")
    assert (aifta["official"], aifta["transport"], aifta["item"]) == ("4", "3", "5")
    assert (sapta["official"], sapta["transport"], sapta["tariff"]) == ("3", "4", "5")
    assert (gsp["certification"], gsp["declaration"]) == ("11", "12")
    assert (aifta["declaration"], aifta["certification"]) == ("11", "12")
    for code in ("013", "002", "008", "015", "004", "006", "101", None):
        assert sorted(int(n) for n in numbered(code).values()) == list(range(1, 13))


# --- content ------------------------------------------------------------------------------------


def test_aifta_certificate_shows_the_application(texts):
    text = _flat(texts["aifta"])
    for shown in (
        "Malabar Sea Foods Pvt Ltd",
        "Willingdon Island",
        "IEC: AAACM4821K",
        "Saigon Seafood Trading JSC",
        "12 Nguyen Hue, District 1, Ho Chi Minh City",
        "MSC ANNA V.123",
        "Port of loading: Cochin",
        "Port of discharge: Ho Chi Minh City",
        "Departure date: 09 Mar 2026",
        "MSF/2026/118 dated 01 Mar 2026",
        "HS code: 030617",
        "RVC",
        "12,000 KGS",
        "FOB USD 12,012.00",
        "Kochi, 24 Nov 2026",
        "Ravi Kumar, Director, Malabar Sea Foods Pvt Ltd",
        "Goods available at: Willingdon Island, Kochi. Grounds of origin: Farmed and",
        "MPEDA Kochi, 25 Nov 2026",
        "Officer: Anitha Menon",
        "Digitally signed by Marine Products Export Development Authority",
        "600 cartons; Frozen vannamei shrimps, headless,",
        "600 cartons of 20 kg",
        "Vessel's name / aircraft etc.: MSC ANNA V.123 (sea)",
    ):
        assert shown in text, shown
    assert "MSF/VN/118/1-600" in text.replace("/ ", "/")  # the cell may wrap after a slash
    assert "for the goods exported to Viet Nam." in text  # the declaration names the country
    assert "Kochi 682003, Kerala India IEC" in text  # box 1: the exporter's country


def test_every_product_row_and_hs_code(texts):
    text = texts["safta"]
    assert "HS code: 030617" in text
    many = texts["many"]
    for i, product in enumerate(products(60)):
        assert f"HS code: {product['hs_code']}" in many
        assert f"Shrimp lot {i:03d}" in many


def test_tariff_item_column_for_south_asian_forms(texts):
    # SAPTA prints the HS code in its own box 5 column instead of under the description.
    assert "5. Tariff item number" in _flat(texts["sapta"])
    assert "030617" in texts["sapta"] and "HS code:" not in texts["sapta"]


def test_origin_criterion_is_shown_as_given():
    cert = view(
        "013",
        products=[
            {**SHRIMPS, "preference_criterion": "RVC 40% + CTSH"},
            {**SHRIMPS, "preference_criterion": "WO"},
        ],
    )
    html = certificate_html(cert)
    assert "RVC 40% + CTSH" in html and ">WO<" in html


def test_non_preferential_certificate_claims_no_preference(texts):
    text = _flat(texts["nonpref"])
    assert "8. Country of origin" in text
    assert "Preferential treatment" not in text and "criterion" not in text


def test_remarks_are_shown_escaped(texts):
    assert "Remarks: Checked at <dock> & port" in texts["gsp"]
    assert "Remarks:" not in texts["aifta"]


def test_exporter_text_is_escaped(texts):
    assert "Malabar <b>&</b> Foods" in texts["nonpref"]
    html = certificate_html(CASES["nonpref"][0])
    assert "Malabar &lt;b&gt;&amp;&lt;/b&gt; Foods" in html and "<b>&</b>" not in html


# --- QR and verification URL --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["aifta", "ikcepa"])
def test_qr_encodes_the_verify_url_which_is_printed(texts, name):
    cert = CASES[name][0]
    url = cert["verify_url"]
    assert url.startswith(f"{PUBLIC}/api/v1/verify?number=MPEDA%2F2026%2F013%2F0000001A")
    # zbarimg is not installed: check the image is the QR code of exactly this URL.
    assert f'src="{qr_png_data_uri(url)}"' in certificate_html(cert)
    assert f"Verify this certificate at {url}" in _lines(texts[name])


# --- markings -----------------------------------------------------------------------------------


def test_duplicate_marking_only_when_set(texts):
    assert "DUPLICATE" in _lines(texts["ikcepa"])
    assert all("DUPLICATE" not in texts[name] for name in TITLES if name != "ikcepa")


def test_in_lieu_marking_only_when_set(texts):
    assert f"IN LIEU OF {NUMBER}" in _lines(texts["sapta"])
    assert all("IN LIEU OF" not in texts[name] for name in TITLES if name != "sapta")


def test_issued_retrospectively_only_after_shipment(texts):
    text = _flat(texts["safta"])
    assert "ISSUED RETROSPECTIVELY" in _lines(texts["safta"])
    box4 = text[text.index("4. For official use") : text.index("ISSUED RETROSPECTIVELY")]
    assert "5. " not in box4 and "Preferential treatment given" in box4
    assert all("RETROSPECTIVELY" not in texts[name] for name in TITLES if name != "safta")


def test_draft_is_watermarked_on_every_page_and_not_certified(texts, pdfs):
    for name in ("gstp", "many"):
        assert _watermarks(pdfs[name]) == [1] * _pages(pdfs[name]), name
        assert "DRAFT — not valid" in texts[name]
        assert "Digitally signed" not in texts[name] and "Officer:" not in texts[name]
    assert all("DRAFT" not in texts[name] for name in TITLES if name != "gstp")
    assert _watermarks(pdfs["aifta"]) == [0]


# --- pagination ---------------------------------------------------------------------------------


def test_sixty_products_paginate_with_the_header_repeated(texts, pdfs):
    pages = _pages(pdfs["many"])
    assert pages > 1
    text = texts["many"]
    assert _flat(text).count("Number and type of packages, description of goods") == pages
    assert f"Page {pages} of {pages}" in text
    # Rows are never split: a product's description and HS code are on one page.
    for page in text.rstrip("\f").split("\f"):
        assert page.count("Shrimp lot") == page.count("HS code:")
    # The declaration and certification come once, after the goods.
    assert text.count("Declaration by the exporter") == 1
    assert text.index("Declaration by the exporter") > text.index("HS code: 03060059")


# --- input ----------------------------------------------------------------------------------------


def test_certificate_view_is_built_from_the_application():
    cert = view("013")
    form = valid_application()
    assert cert["agreement"] == {
        "code": "013",
        "short_name": "AIFTA",
        "name": agreement_by_code("013").name,
        "certificate_form": "Form AI",
    }
    assert cert["exporter"] == EXPORTER
    assert cert["importer"] == form["importer"]
    assert cert["transport"] == form["transport"]
    assert cert["invoice"] == form["invoice"]
    assert cert["declaration"] == form["declaration"]
    [product] = cert["products"]
    assert "raw_materials" not in product and "fob_inr" not in product
    assert product["hs_code"] == "030617" and product["preference_criterion"] == "RVC"
    assert cert["issuing_office"] == {"name": OFFICE["name"], "address": OFFICE["address"]}
    assert cert["agency"] == AGENCY
    assert cert["declared_on"] == "2026-11-24"
    assert cert["retrospective"] is False and cert["marking"] is None and cert["remarks"] == ""
    assert view(None)["agreement"] is None
    assert view("013", shipment_timing="after")["retrospective"] is True


def test_declaration_date_is_the_submission_day_in_india():
    app = application()
    app["submitted_at"] = "2026-11-24T20:00:00Z"  # 01:30 on the 25th in India
    cert = certificate_view(
        app,
        None,
        OFFICE,
        AGENCY,
        EXPORTER,
        number=NUMBER,
        issued_on=None,
        officer=None,
        remarks=None,
        marking=None,
        verify_url=verify_url(NUMBER),
    )
    assert cert["declared_on"] == "2026-11-25"
    app["submitted_at"] = None
    cert = certificate_view(
        app,
        None,
        OFFICE,
        AGENCY,
        EXPORTER,
        number=NUMBER,
        issued_on=None,
        officer=None,
        remarks=None,
        marking=None,
        verify_url=verify_url(NUMBER),
    )
    assert cert["declared_on"] is None and cert["remarks"] == ""
    assert "Kochi</p>" in certificate_html(cert, draft=True)  # place without a date


def test_country_names():
    assert country_name("VN") == "Viet Nam"
    assert country_name("kr") == "Republic of Korea"
    assert country_name("TW") == "Taiwan"
    assert country_name("XX") == "XX"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"products": []}, "1 to 100 products"),
        ({"products": [SHRIMPS] * 101}, "1 to 100 products"),
        ({"issued_on": None}, "issued_on and officer"),
        ({"officer": None}, "issued_on and officer"),
        ({"marking": "COPY"}, "marking"),
    ],
)
def test_incomplete_certificate_is_refused(change, message):
    cert = copy.deepcopy(CASES["aifta"][0])
    cert.update(change)
    with pytest.raises(ValueError, match=message):
        certificate_context(cert)


def test_a_drafts_preview_may_have_no_products_yet():
    cert = copy.deepcopy(CASES["aifta"][0])
    cert["products"] = []
    assert "DRAFT" in certificate_html(cert, draft=True)
    cert["products"] = [SHRIMPS] * 101
    with pytest.raises(ValueError, match="0 to 100 products"):
        certificate_context(cert, draft=True)
