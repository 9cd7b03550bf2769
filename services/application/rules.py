"""The rules an application must meet to be submitted (architecture §4, §7).

A draft may be incomplete (``form.load_draft`` only checks types and bounds); at submission
``check_submission`` returns *every* problem at once as ``{field_path: [messages]}``, each naming the
exact field (``products[2].raw_materials[0].origin_country``), so the exporter can fix them all in
one go. An empty dict means the application may be submitted. The module is pure: everything it
needs from the databases comes in as plain values and callables.

Tolerances (amounts come from different documents, each rounded on its own):

- Total CIF of a raw material vs ``quantity x unit_cif_value``: the unit CIF value is rounded to the
  paisa on the bill of entry, so the product can be off by up to a paisa per unit of quantity. We
  allow ``|total - quantity x unit| <= 0.01 INR x max(1, quantity)``.
- FOB in INR vs ``fob_value x rate`` (INR per unit of the currency on the invoice date, from the
  rates table kept by admins): exporters convert with the customs rate of the shipping bill and
  round, so we allow the larger of 1 INR and 0.1% of the computed value. FOB already in INR uses
  rate 1 (same tolerance). A currency without a rate on that date is an error on ``fob_currency``.

Value content: for a criterion the agreement lists in ``value_content_criteria`` the RVC computed by
``origin.product_origin`` (indirect method, with regional cumulation where the agreement has it)
must reach the agreement's threshold; the message shows the computed figure.

``signing_payload`` gives the bytes the exporter signs with the DSC at submission: the RFC 8785
canonical JSON of the JSON-ready form plus the application id and the IEC.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Callable, Mapping, cast

import pycountry
import rfc8785

from services.application import hs, origin
from services.application.agreements import Agreement, agreement_by_code
from services.application.units import is_unit

INDIA = "IN"
REQUIRED = "Required for submission."
POSITIVE = "Must be greater than zero."

CIF_TOLERANCE_PER_UNIT = Decimal("0.01")  # INR per unit of quantity, at least one unit's worth
INR_TOLERANCE_MIN = Decimal("1")  # INR
INR_TOLERANCE_RATIO = Decimal("0.001")  # 0.1% of the computed INR value

PAYLOAD_TYPE = "opencoo.application-submission.v1"

APPLICATION_REQUIRED = (
    "kind",
    "shipment_timing",
    "agency_code",
    "regional_office_code",
    "issuing_office_code",
    "branch_id",
    "importer",
    "transport",
    "invoice",
    "uses_non_originating_materials",
    "products",
    "declaration",
)
IMPORTER_REQUIRED = ("name", "country", "address")
TRANSPORT_REQUIRED = ("mode", "port_of_loading", "port_of_discharge", "departure_date")
VESSEL_REQUIRED_FOR = ("sea", "air")  # a vessel name or flight number is printed in box 3
INVOICE_REQUIRED = ("number", "date")
DECLARATION_REQUIRED = ("goods_available_at", "origin_grounds", "place", "name", "designation")
PRODUCT_REQUIRED = (
    "hs_code",
    "description",
    "quantity",
    "unit",
    "fob_currency",
    "fob_value",
    "fob_inr",
    "packages",
)
RAW_MATERIAL_REQUIRED = (
    "hs_code",
    "description",
    "quantity",
    "unit",
    "unit_cif_value",
    "total_cif_value",
    "origin_country",
)


class _Problems:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        messages = self.fields.setdefault(path, [])
        if message not in messages:
            messages.append(message)


def _given(value) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _part(application: dict, name: str) -> dict:
    value = application.get(name)
    return value if isinstance(value, dict) else {}


def _list(value) -> list[dict]:
    return [v if isinstance(v, dict) else {} for v in value] if isinstance(value, list) else []


def _date(value) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def _require(problems: _Problems, part: dict, names, prefix: str) -> None:
    for name in names:
        if not _given(part.get(name)):
            problems.add(f"{prefix}{name}", REQUIRED)


def _country_name(code: str) -> str | None:
    try:
        country = pycountry.countries.get(alpha_2=code)
    except (KeyError, LookupError):
        country = None
    return country.name if country is not None else None


def _is_currency(code: str) -> bool:
    try:
        return pycountry.currencies.get(alpha_3=code) is not None
    except (KeyError, LookupError):
        return False


# --- public --------------------------------------------------------------------------------------


def check_submission(
    application: dict,
    *,
    hs_exists: Callable[[str], bool | None],
    exchange_rate: Callable[[str, date], Decimal | None],
    exporter_branches: set[str],
    offices: Mapping[str, Mapping[str, set[str]]],
    has_invoice_document: bool,
    today: date,
) -> dict[str, list[str]]:
    """Every rule the (loaded) application breaks, as ``{field_path: [messages]}``; {} if none.

    ``hs_exists(code)``: whether a 6- or 8-digit code is in the HS reference (an 8-digit one when
    its 6-digit subheading is), None when no nomenclature is loaded (then only the form and chapter
    are checked). ``exchange_rate(currency, on_date)``: INR per unit, or None. ``offices``:
    agency code -> regional office code -> set of issuing office codes. ``today``: the date in
    India.
    """
    problems = _Problems()
    _check_required(problems, application)
    agreement = _check_kind_and_agreement(problems, application)
    _check_organisation(problems, application, offices)
    _check_branch(problems, application, exporter_branches)
    _check_importer(problems, application, agreement)
    _check_dates(problems, application, today)
    _check_products(problems, application, agreement, hs_exists, exchange_rate, today)
    _check_declared_materials(problems, application)
    if not has_invoice_document:
        problems.add("documents", "A commercial invoice (PDF signed with your DSC) must be attached.")
    return problems.fields


def signing_payload(application: dict, *, application_id: str, iec: str) -> bytes:
    """The bytes the exporter signs at submission: RFC 8785 canonical JSON of
    ``{"type", "application_id", "iec", "form"}``.

    ``form`` is the JSON-ready application (loaded or already dumped: Decimals become plain decimal
    strings exactly as ``form.dump`` writes them, dates ISO 8601). Because amounts are strings, not
    JSON numbers, canonicalisation never passes them through binary floating point: "12012.00"
    stays "12012.00", so the payload is exact and the same on every platform. Key order does not
    matter (RFC 8785 sorts keys). ``type`` keeps a signature over this payload from being taken
    for a signature over anything else the DSC signs.
    """
    return rfc8785.dumps(
        {
            "type": PAYLOAD_TYPE,
            "application_id": str(application_id),
            "iec": iec,
            "form": origin.json_ready(application),
        }
    )


# --- the rules -----------------------------------------------------------------------------------


def _check_required(problems: _Problems, application: dict) -> None:
    for name in APPLICATION_REQUIRED:
        if not _given(application.get(name)):
            problems.add(name, "At least one product is required." if name == "products" else REQUIRED)
    _require(problems, _part(application, "importer"), IMPORTER_REQUIRED, "importer.")
    transport = _part(application, "transport")
    _require(problems, transport, TRANSPORT_REQUIRED, "transport.")
    if transport.get("mode") in VESSEL_REQUIRED_FOR and not _given(transport.get("vessel_or_flight")):
        problems.add(
            "transport.vessel_or_flight", f"Required for submission when the goods go by {transport['mode']}."
        )
    _require(problems, _part(application, "invoice"), INVOICE_REQUIRED, "invoice.")
    _require(problems, _part(application, "declaration"), DECLARATION_REQUIRED, "declaration.")
    for i, product in enumerate(_list(application.get("products"))):
        _require(problems, product, PRODUCT_REQUIRED, f"products[{i}].")
        for j, material in enumerate(_list(product.get("raw_materials"))):
            _require(problems, material, RAW_MATERIAL_REQUIRED, f"products[{i}].raw_materials[{j}].")


def _check_kind_and_agreement(problems: _Problems, application: dict) -> Agreement | None:
    kind = application.get("kind")
    code = application.get("agreement_code")
    if kind == "non_preferential":
        if _given(code):
            problems.add("agreement_code", "A non-preferential certificate names no agreement.")
        return None
    if kind != "preferential":
        return None
    if not _given(code):
        problems.add("agreement_code", "Required for a preferential certificate.")
        return None
    agreement = agreement_by_code(cast(str, code))
    if agreement is None:
        problems.add("agreement_code", f"Unknown agreement '{code}'.")
    return agreement


def _check_organisation(problems: _Problems, application: dict, offices) -> None:
    agency = application.get("agency_code")
    regional = application.get("regional_office_code")
    issuing = application.get("issuing_office_code")
    if not _given(agency):
        return
    if agency not in offices:
        problems.add("agency_code", f"Unknown issuing agency '{agency}'.")
        return
    if not _given(regional):
        return
    if regional not in offices[agency]:
        problems.add("regional_office_code", f"'{regional}' is not a regional office of {agency}.")
        return
    if _given(issuing) and issuing not in offices[agency][regional]:
        problems.add(
            "issuing_office_code", f"'{issuing}' is not an issuing office under {regional} ({agency})."
        )


def _check_branch(problems: _Problems, application: dict, exporter_branches) -> None:
    branch = application.get("branch_id")
    if _given(branch) and branch not in exporter_branches:
        known = ", ".join(sorted(exporter_branches)) or "none"
        problems.add("branch_id", f"'{branch}' is not one of your registered branches ({known}).")


def _check_importer(problems: _Problems, application: dict, agreement: Agreement | None) -> None:
    country = _part(application, "importer").get("country")
    if not _given(country):
        return
    name = _country_name(cast(str, country))
    if name is None:
        problems.add("importer.country", f"'{country}' is not an ISO 3166 alpha-2 country code.")
        return
    if country == INDIA:
        problems.add("importer.country", "The importer must be outside India.")
        return
    if agreement is not None and country not in agreement.partner_countries:
        problems.add(
            "importer.country", f"{name} ({country}) is not a partner country of {agreement.short_name}."
        )


def _check_dates(problems: _Problems, application: dict, today: date) -> None:
    invoice_date = _date(_part(application, "invoice").get("date"))
    if invoice_date is not None and invoice_date > today:
        problems.add("invoice.date", f"The invoice date {invoice_date.isoformat()} is in the future.")
    departure = _date(_part(application, "transport").get("departure_date"))
    timing = application.get("shipment_timing")
    if departure is None:
        return
    if timing == "before" and departure < today:
        problems.add(
            "transport.departure_date",
            f"A before-shipment application cannot have a departure date in the past "
            f"({departure.isoformat()}); choose after shipment.",
        )
    elif timing == "after" and departure > today:
        problems.add(
            "transport.departure_date",
            f"An after-shipment application cannot have a departure date in the future "
            f"({departure.isoformat()}); choose before shipment.",
        )


def _check_hs(problems: _Problems, path: str, code, hs_exists) -> None:
    if not _given(code):
        return
    try:
        form = hs.check_form(code)
    except hs.InvalidHsCode as exc:
        problems.add(path, f"{exc}.")
        return
    if form.level not in (6, 8):
        problems.add(
            path,
            f"HS code '{code}' is a {hs.LEVEL_NAMES[form.level]}: give a 6-digit "
            f"subheading or an 8-digit tariff item.",
        )
        return
    exists = hs_exists(form.code)
    if exists is False:
        if form.level == 8:
            problems.add(
                path, f"HS code '{code}': its subheading {form.code[:6]} is not in the HS nomenclature."
            )
        else:
            problems.add(path, f"HS code '{code}' is not in the HS nomenclature.")


def _check_positive(problems: _Problems, part: dict, names, prefix: str) -> None:
    for name in names:
        value = origin.to_decimal(part.get(name))
        if value is not None and value <= 0:
            problems.add(f"{prefix}{name}", POSITIVE)


def _check_unit(problems: _Problems, path: str, unit) -> None:
    if _given(unit) and not is_unit(unit):
        problems.add(path, f"'{unit}' is not a unit of the unit list (UQC, e.g. KGS, NOS).")


def _check_products(
    problems: _Problems, application: dict, agreement: Agreement | None, hs_exists, exchange_rate, today: date
) -> None:
    kind = application.get("kind")
    invoice_date = _date(_part(application, "invoice").get("date"))
    for i, product in enumerate(_list(application.get("products"))):
        at = f"products[{i}]."
        _check_hs(problems, at + "hs_code", product.get("hs_code"), hs_exists)
        _check_unit(problems, at + "unit", product.get("unit"))
        _check_positive(problems, product, ("quantity", "fob_value", "fob_inr"), at)
        _check_fob_inr(problems, product, at, invoice_date, exchange_rate)
        _check_criterion(problems, product, at, kind, agreement)
        for j, material in enumerate(_list(product.get("raw_materials"))):
            _check_raw_material(problems, material, f"{at}raw_materials[{j}].", hs_exists, today)


def _check_fob_inr(
    problems: _Problems, product: dict, at: str, invoice_date: date | None, exchange_rate
) -> None:
    currency = product.get("fob_currency")
    if not _given(currency):
        return
    if not _is_currency(cast(str, currency)):
        problems.add(at + "fob_currency", f"'{currency}' is not an ISO 4217 currency code.")
        return
    if invoice_date is None:
        return  # the rate is taken on the invoice date, which is reported missing already
    rate = Decimal(1) if currency == "INR" else origin.to_decimal(exchange_rate(currency, invoice_date))
    if rate is None:
        problems.add(
            at + "fob_currency",
            f"No exchange rate for {currency} on {invoice_date.isoformat()} (the invoice date).",
        )
        return
    fob_value = origin.to_decimal(product.get("fob_value"))
    fob_inr = origin.to_decimal(product.get("fob_inr"))
    if fob_value is None or fob_inr is None or fob_value <= 0 or fob_inr <= 0:
        return
    expected = fob_value * rate
    tolerance = max(INR_TOLERANCE_MIN, expected * INR_TOLERANCE_RATIO)
    if abs(fob_inr - expected) > tolerance:
        problems.add(
            at + "fob_inr",
            f"FOB in INR {fob_inr} does not match {fob_value} {currency} x {rate} "
            f"(the rate on {invoice_date.isoformat()}) = {_money(expected)} INR.",
        )


def _check_criterion(problems: _Problems, product: dict, at: str, kind, agreement: Agreement | None) -> None:
    criterion = product.get("preference_criterion")
    path = at + "preference_criterion"
    if kind == "non_preferential":
        if _given(criterion):
            problems.add(path, "A non-preferential certificate claims no preference criterion.")
        return
    if kind != "preferential":
        return
    if not _given(criterion):
        problems.add(path, REQUIRED)
        return
    if agreement is None:
        return  # no agreement, or an unknown one: reported on agreement_code
    if criterion not in agreement.preference_criteria:
        problems.add(
            path,
            f"'{criterion}' is not a criterion of {agreement.short_name} "
            f"(allowed: {', '.join(agreement.preference_criteria)}).",
        )
        return
    if origin.is_value_content(criterion, agreement) and agreement.value_content_threshold:
        result = origin.product_origin(product, agreement)
        if result["meets"] is False:
            problems.add(path, result["message"])


def _check_raw_material(problems: _Problems, material: dict, at: str, hs_exists, today: date) -> None:
    _check_hs(problems, at + "hs_code", material.get("hs_code"), hs_exists)
    _check_unit(problems, at + "unit", material.get("unit"))
    country = material.get("origin_country")
    if _given(country) and _country_name(cast(str, country)) is None:
        problems.add(at + "origin_country", f"'{country}' is not an ISO 3166 alpha-2 country code.")
    _check_positive(problems, material, ("quantity", "unit_cif_value", "total_cif_value"), at)
    invoice_date = _date(material.get("invoice_date"))
    if invoice_date is not None and invoice_date > today:
        problems.add(at + "invoice_date", f"The date {invoice_date.isoformat()} is in the future.")
    quantity = origin.to_decimal(material.get("quantity"))
    unit = origin.to_decimal(material.get("unit_cif_value"))
    total = origin.to_decimal(material.get("total_cif_value"))
    if quantity is None or unit is None or total is None or quantity <= 0 or unit <= 0 or total <= 0:
        return
    computed = quantity * unit
    if abs(total - computed) > CIF_TOLERANCE_PER_UNIT * max(Decimal(1), quantity):
        problems.add(
            at + "total_cif_value",
            f"Total CIF value {total} INR is not quantity x unit CIF value: "
            f"{quantity} x {unit} = {_money(computed)} INR.",
        )


def _check_declared_materials(problems: _Problems, application: dict) -> None:
    declared = application.get("uses_non_originating_materials")
    if declared is None:
        return
    foreign = [
        f"products[{i}].raw_materials[{j}]"
        for i, product in enumerate(_list(application.get("products")))
        for j, material in enumerate(_list(product.get("raw_materials")))
        if _given(material.get("origin_country")) and material.get("origin_country") != INDIA
    ]
    if declared is False and foreign:
        problems.add(
            "uses_non_originating_materials",
            f"Answered no, but {', '.join(foreign)} "
            f"{'comes' if len(foreign) == 1 else 'come'} from outside India.",
        )
    elif declared is True and not foreign and _list(application.get("products")):
        problems.add(
            "uses_non_originating_materials",
            "Answered yes, but no raw material from outside India is listed: list them "
            "so that the origin can be checked.",
        )
