"""The Certificate of Origin as a PDF (architecture §8), before it is signed.

``render_certificate(certificate)`` draws one certificate from plain JSON-able data (see
``certificate_view`` for how that data is built from an application). There is one layout per
certificate form: AIFTA Form AI, IKCEPA, SAPTA, APTA, GSTP, GSP Form A, a generic preferential
layout naming any other agreement, and the non-preferential certificate. They share the boxes of
the usual layout and differ in title, box order and wording, so they are one template
(``certificate.html`` extending ``base.html``; ``non_preferential.html`` overrides two blocks)
driven by the small ``LAYOUTS`` table below, not six copies of a template.

The certificate carries its reference number at the top of every page, the importing country's
name in its title, a QR code opening the public verification URL with that URL printed under it,
and the markings "DUPLICATE" / "IN LIEU OF …" (by the title) and "ISSUED RETROSPECTIVELY" (box 4).
A draft (the exporter's preview) has a diagonal "DRAFT" watermark on every page and "DRAFT — not
valid" in place of the certification. The issuing authority's signature is not drawn: box 12 says
"Digitally signed by <agency>", and the signature itself is the PAdES signature added to the PDF.

Every text comes from the exporter or the registry and is autoescaped by Jinja2; the renderer
fetches nothing from outside (``chassis.pdf``). Rendering is CPU-bound: services call
``chassis.offloading.in_worker_process(render_certificate, certificate)``.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

import pycountry

from services.chassis.pdf import qr_png_data_uri, render_pdf, template_environment
from services.chassis.timestamps import INDIA

TEMPLATES = Path(__file__).resolve().parent / "templates"
STYLESHEET = "certificate.css"
MAX_PRODUCTS = 100

PRODUCT_FIELDS = (
    "hs_code",
    "description",
    "quantity",
    "unit",
    "fob_currency",
    "fob_value",
    "marks_and_numbers",
    "packages",
    "preference_criterion",
)

# --- the forms --------------------------------------------------------------------------------
#
# Box labels by what the box holds. A layout lists its twelve boxes in the order they are
# numbered; the template places each box by its key (parties and transport at the top, the goods
# columns in the table, the invoice under it, declaration and certification at the bottom), so a
# form whose order differs (SAPTA's box 3 is "for official use", Form A's box 11 is the
# certification) only differs here.

BOX = {
    "consignor": "Goods consigned from (exporter's business name, address, country)",
    "consignee": "Goods consigned to (consignee's name, address, country)",
    "transport": "Means of transport and route (as far as known)",
    "official": "For official use",
    "item": "Item number",
    "tariff": "Tariff item number",
    "marks": "Marks and numbers on packages",
    "description": "Number and type of packages, description of goods (including quantity where "
    "appropriate and HS number of the importing Party)",
    "criterion": "Origin criterion",
    "origin": "Country of origin",
    "quantity": "Gross weight or other quantity and value (FOB)",
    "invoice": "Number and date of invoices",
    "declaration": "Declaration by the exporter",
    "certification": "Certification",
}
TOP = ("consignor", "consignee", "transport", "official")
COLUMNS = ("item", "tariff", "marks", "description", "criterion", "origin", "quantity")
BOTTOM = ("declaration", "certification")

_CLASSIC = (
    "consignor",
    "consignee",
    "transport",
    "official",
    "item",
    "marks",
    "description",
    "criterion",
    "quantity",
    "invoice",
    "declaration",
    "certification",
)
# SAPTA and APTA: official use before transport, and the tariff item number in box 5.
_SOUTH_ASIAN = (
    "consignor",
    "consignee",
    "official",
    "transport",
    "tariff",
    "marks",
    "description",
    "criterion",
    "quantity",
    "invoice",
    "declaration",
    "certification",
)

_DECLARE = (
    "The undersigned hereby declares that the above details and statements are correct; "
    "that all the goods were produced in India and that they comply with the origin "
    "requirements specified for these goods in the {scheme} for the goods exported to "
    "{country}."
)
_CERTIFY = (
    "It is hereby certified, on the basis of control carried out, that the declaration "
    "by the exporter is correct."
)

LAYOUTS = {
    "AIFTA": {
        "title": (
            "ASEAN-India Free Trade Area",
            "Preferential Tariff Certificate of Origin",
            "(Combined Declaration and Certificate)",
            "FORM AI",
        ),
        "boxes": _CLASSIC,
        "labels": {
            "consignor": "Goods consigned from (Exporter's business name, address, country)",
            "consignee": "Goods consigned to (Consignee's name, address, country)",
        },
        "official": "Preferential treatment given under ASEAN-India Free Trade Area Preferential "
        "Tariff / not given (please state reason/s)",
        "declaration": (
            "The undersigned hereby declares that the above details and statement are "
            "correct; that all the goods were produced in India and that they comply "
            "with the rules of origin, as specified in the ASEAN-India Free Trade Area "
            "Preferential Tariff for the goods exported to {country}."
        ),
        "certification": _CERTIFY,
    },
    "IKCEPA": {
        "title": ("India-Korea Comprehensive Economic Partnership Agreement", "Certificate of Origin"),
        "boxes": _CLASSIC,
        "labels": {
            "consignor": "Exporter's name, address and country",
            "consignee": "Consignee's name, address and country",
            "transport": "Transport details (means and route)",
            "official": "For official use / remarks",
            "description": "Number and kind of packages; description of goods; HS code",
            "quantity": "Gross weight or other quantity and FOB value",
        },
        "official": "Preferential treatment given / not given under the India-Korea CEPA "
        "(please state reason/s)",
        "declaration": (
            "The undersigned hereby declares that the above details and statements are "
            "correct, that all the goods were produced in India and that they comply "
            "with the rules of origin of the India-Korea Comprehensive Economic "
            "Partnership Agreement for the goods exported to {country}."
        ),
        "certification": _CERTIFY,
    },
    "SAPTA": {
        "title": (
            "SAARC Preferential Trading Arrangement (SAPTA)",
            "Certificate of Origin",
            "(Combined Declaration and Certificate)",
        ),
        "boxes": _SOUTH_ASIAN,
        "labels": {
            "consignor": "Goods consigned from (exporter's business name, address, country)",
            "description": "Number and kind of packages; description of goods",
            "quantity": "Gross weight or other quantity and FOB value",
        },
        "official": "Preference given / not given under SAPTA (please state reason/s)",
        "declaration": (
            "The undersigned hereby declares that the above details and statements are "
            "correct; that all the goods were produced in India and that they comply "
            "with the origin requirements specified for these goods in the SAARC "
            "Preferential Trading Arrangement for goods exported to {country}."
        ),
        "certification": (
            "It is hereby certified on the basis of control carried out, that the "
            "declaration by the exporter is correct."
        ),
    },
    "APTA": {
        "title": ("Asia-Pacific Trade Agreement", "(Combined Declaration and Certificate of Origin)"),
        "boxes": _SOUTH_ASIAN,
        "labels": {
            "description": "Number and kind of packages; description of goods",
            "quantity": "Gross weight or other quantity and FOB value",
        },
        "official": "Preference given / not given under the Asia-Pacific Trade Agreement "
        "(please state reason/s)",
        "declaration": (
            "The undersigned hereby declares that the above details and statements are "
            "correct; that all the goods were produced in India and that they comply "
            "with the origin requirements specified for these goods in the Asia-Pacific "
            "Trade Agreement for goods exported to {country}."
        ),
        "certification": _CERTIFY,
    },
    "GSTP": {
        "title": (
            "Global System of Trade Preferences among Developing Countries (GSTP)",
            "Certificate of Origin",
            "(Combined Declaration and Certificate)",
        ),
        "boxes": (
            "consignor",
            "consignee",
            "transport",
            "official",
            "tariff",
            "marks",
            "description",
            "criterion",
            "quantity",
            "invoice",
            "declaration",
            "certification",
        ),
        "labels": {
            "description": "Number and kind of packages; description of goods",
            "quantity": "Gross weight or other quantity and FOB value",
        },
        "official": "Preference given / not given under the GSTP (please state reason/s)",
        "declaration": (
            "The undersigned hereby declares that the above details and statements are "
            "correct; that all the goods were produced in India and that they comply "
            "with the origin requirements specified for these goods in the Global "
            "System of Trade Preferences for goods exported to {country}."
        ),
        "certification": _CERTIFY,
    },
    "GSP": {
        "title": (
            "Generalised System of Preferences",
            "Certificate of Origin",
            "(Combined Declaration and Certificate)",
            "FORM A",
        ),
        # Form A: box 11 is the certification, box 12 the exporter's declaration.
        "boxes": (
            "consignor",
            "consignee",
            "transport",
            "official",
            "item",
            "marks",
            "description",
            "criterion",
            "quantity",
            "invoice",
            "certification",
            "declaration",
        ),
        "labels": {
            "description": "Number and kind of packages; description of goods",
            "criterion": "Origin criterion (see notes overleaf)",
        },
        "official": "",
        "declaration": (
            "The undersigned hereby declares that the above details and statements are "
            "correct; that all the goods were produced in India and that they comply "
            "with the origin requirements specified for those goods in the Generalised "
            "System of Preferences for goods exported to {country}."
        ),
        "certification": _CERTIFY,
    },
}
GENERIC = {
    "title": ("{name}", "{form}"),
    "boxes": _CLASSIC,
    "labels": {},
    "official": "Preferential treatment given / not given under the {short_name} (please state reason/s)",
    "declaration": _DECLARE,
    "certification": _CERTIFY,
}
NON_PREFERENTIAL = {
    "title": ("Certificate of Origin", "(Non-preferential)"),
    "boxes": (
        "consignor",
        "consignee",
        "transport",
        "official",
        "item",
        "marks",
        "description",
        "origin",
        "quantity",
        "invoice",
        "declaration",
        "certification",
    ),
    "labels": {
        "consignor": "Exporter (name, address, country)",
        "consignee": "Consignee (name, address, country)",
        "description": "Number and kind of packages, description of goods, HS code",
        "quantity": "Quantity and value (FOB)",
    },
    "official": "",
    "declaration": (
        "The undersigned hereby declares that the above details and statements are "
        "correct and that all the goods were produced or manufactured in India, for "
        "export to {country}."
    ),
    "certification": (
        "It is hereby certified that, to the best of our knowledge and belief, the "
        "goods described above originate in India."
    ),
}

for _form in (*LAYOUTS.values(), GENERIC, NON_PREFERENTIAL):
    assert len(_form["boxes"]) == 12 and set(_form["boxes"]) <= set(BOX), _form["title"]
    assert set(TOP) | set(BOTTOM) | {"invoice"} <= set(_form["boxes"]), _form["title"]


# --- formatting -------------------------------------------------------------------------------


def country_name(alpha_2: str) -> str:
    """'VN' -> 'Viet Nam', 'KR' -> 'Republic of Korea'; an unknown code is shown as given."""
    country = pycountry.countries.get(alpha_2=str(alpha_2 or "").upper())
    if country is None:
        return str(alpha_2 or "")
    head, comma, tail = country.name.partition(", ")
    if comma and tail.endswith(" of"):  # "Korea, Republic of" -> "Republic of Korea"
        return f"{tail} {head}"
    if comma:
        return getattr(country, "common_name", None) or country.name
    return country.name


def _date(value) -> str:
    """ISO date (or datetime, shown in India) -> '25 Nov 2026'; None or '' -> ''."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = (
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                if "T" in value
                else date.fromisoformat(value)
            )
        except ValueError:
            return value  # shown as given rather than failing a certificate over a format
    if isinstance(value, datetime):
        value = value.astimezone(INDIA).date() if value.tzinfo else value.date()
    return value.strftime("%d %b %Y")


def _number(value) -> str:
    """'12012.00' -> '12,012.00' exactly (no float); anything else is shown as given."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,}" if amount.is_finite() else str(value)


def _text(value) -> str:
    return "" if value is None else str(value)


def _layout(agreement: dict | None) -> tuple[str, dict]:
    if agreement is None:
        return "non_preferential.html", NON_PREFERENTIAL
    return "certificate.html", LAYOUTS.get(str(agreement.get("short_name")), GENERIC)


def certificate_context(certificate: dict, *, draft: bool = False) -> dict:
    """What the template shows: the layout's boxes numbered and worded, every value formatted."""
    products = certificate["products"]
    fewest = 0 if draft else 1  # a draft's preview shows what it has, products or not yet
    if not fewest <= len(products) <= MAX_PRODUCTS:
        raise ValueError(f"a certificate lists {fewest} to {MAX_PRODUCTS} products, got {len(products)}")
    if not draft and not (certificate.get("issued_on") and certificate.get("officer")):
        raise ValueError("an issued certificate needs issued_on and officer (or draft=True)")
    marking = certificate.get("marking")
    if marking is not None and marking != "DUPLICATE" and not str(marking).startswith("IN LIEU OF "):
        raise ValueError(f"marking must be None, 'DUPLICATE' or 'IN LIEU OF <number>': {marking!r}")

    agreement = certificate.get("agreement")
    template, layout = _layout(agreement)
    importer = certificate["importer"]
    country = country_name(importer.get("country"))
    words = {"country": country, "name": "", "short_name": "", "form": "", "scheme": ""}
    if agreement is not None:
        words.update(
            name=agreement["name"],
            short_name=agreement["short_name"],
            form=agreement.get("certificate_form") or "Certificate of Origin",
            scheme=f"{agreement['name']} ({agreement['short_name']})",
        )
    labels = {**BOX, **layout["labels"]}
    numbered = {key: (str(n), labels[key]) for n, key in enumerate(layout["boxes"], start=1)}
    title = [line.format(**words) for line in layout["title"]]
    transport = certificate["transport"]
    invoice = certificate["invoice"]
    declaration = certificate["declaration"]
    rows = []
    for n, p in enumerate(products, start=1):
        rows.append(
            {
                "item": str(n),
                "hs_code": _text(p.get("hs_code")),
                "description": _text(p.get("description")),
                "packages": _text(p.get("packages")),
                "marks": _text(p.get("marks_and_numbers")),
                "criterion": _text(p.get("preference_criterion")),
                "quantity": f"{_number(p.get('quantity'))} {_text(p.get('unit'))}".strip(),
                "value": f"{_text(p.get('fob_currency'))} {_number(p.get('fob_value'))}".strip(),
            }
        )
    return {
        "draft": draft,
        "number": certificate["number"],
        "marking": marking,
        "retrospective": bool(certificate.get("retrospective")),
        "title": title,
        "country": country,
        "agreement": agreement,
        "boxes": numbered,
        "top": [key for key in layout["boxes"] if key in TOP],
        "columns": [key for key in layout["boxes"] if key in COLUMNS],
        "bottom": [key for key in layout["boxes"] if key in BOTTOM],
        "official_text": layout["official"].format(**words),
        "declaration_text": layout["declaration"].format(**words),
        "certification_text": layout["certification"].format(**words),
        "exporter": certificate["exporter"],
        "importer": {**importer, "country_name": country},
        "transport": {**transport, "departure": _date(transport.get("departure_date"))},
        "invoice": {"number": _text(invoice.get("number")), "date": _date(invoice.get("date"))},
        "rows": rows,
        "declaration": declaration,
        "declared_on": _date(certificate.get("declared_on")),
        "issuing_office": certificate["issuing_office"],
        "agency": certificate["agency"],
        "issued_on": _date(certificate.get("issued_on")),
        "officer": _text(certificate.get("officer")),
        "remarks": _text(certificate.get("remarks")),
        "verify_url": certificate["verify_url"],
        "qr": qr_png_data_uri(certificate["verify_url"]),
        "_template": template,
    }


@cache
def _environment():
    return template_environment(TEMPLATES)


def certificate_html(certificate: dict, *, draft: bool = False) -> str:
    """The certificate as HTML (what ``render_certificate`` draws)."""
    context = certificate_context(certificate, draft=draft)
    return _environment().get_template(context.pop("_template")).render(context)


def render_certificate(certificate: dict, *, draft: bool = False) -> bytes:
    """The unsigned certificate as PDF bytes; KeyError or ValueError when the data is incomplete."""
    return render_pdf(
        certificate_html(certificate, draft=draft), base_dir=TEMPLATES, stylesheets=[STYLESHEET]
    )


# --- from an application ----------------------------------------------------------------------


def _pick(part: dict | None, keys) -> dict:
    part = part or {}
    return {key: part.get(key, "") for key in keys}


def certificate_view(
    application: dict,
    agreement: dict | None,
    office: dict,
    agency: dict,
    exporter: dict,
    *,
    number: str,
    issued_on,
    officer: str | None,
    remarks: str | None,
    marking: str | None,
    verify_url: str,
) -> dict:
    """The input of ``render_certificate`` for an application view (``{"id", "number", "iec",
    "form": <application body>, "submitted_at", ...}``), its agreement (``agreement_as_dict``; None
    for a non-preferential certificate), the issuing office and agency, and the exporter
    (iec, name, address). ``issued_on`` is an ISO date, a date, or None for a draft preview.
    The exporter declares on the day of submission (in India); a draft not yet submitted has no
    declaration date."""
    form = application["form"]
    submitted = application.get("submitted_at")
    return {
        "number": number,
        "agreement": (
            None
            if agreement is None
            else _pick(agreement, ("code", "short_name", "name", "certificate_form"))
        ),
        "exporter": _pick(exporter, ("iec", "name", "address")),
        "importer": _pick(form.get("importer"), ("name", "address", "country")),
        "transport": _pick(
            form.get("transport"),
            ("mode", "vessel_or_flight", "port_of_loading", "port_of_discharge", "departure_date"),
        ),
        "invoice": _pick(form.get("invoice"), ("number", "date")),
        "products": [_pick(p, PRODUCT_FIELDS) for p in form.get("products") or []],
        "declaration": _pick(
            form.get("declaration"), ("place", "name", "designation", "goods_available_at", "origin_grounds")
        ),
        "declared_on": _declared_on(submitted),
        "issuing_office": _pick(office, ("name", "address")),
        "agency": _pick(agency, ("code", "name")),
        "issued_on": issued_on.isoformat() if isinstance(issued_on, date) else issued_on,
        "officer": officer,
        "remarks": remarks or "",
        "retrospective": form.get("shipment_timing") == "after",
        "marking": marking,
        "verify_url": verify_url,
    }


def _declared_on(submitted_at) -> str | None:
    if not submitted_at:
        return None
    moment = (
        datetime.fromisoformat(submitted_at.replace("Z", "+00:00"))
        if isinstance(submitted_at, str)
        else submitted_at
    )
    if moment.tzinfo is None:  # the application service stores naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(INDIA).date().isoformat()
