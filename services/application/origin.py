"""Regional value content of a product, by the indirect method of docs/architecture.md §4.

    RVC = (FOB - CIF value of non-originating materials) / FOB        (all in INR)

The FOB value is the product's ``fob_inr``; the raw materials' ``unit_cif_value`` and
``total_cif_value`` are in INR already (the bill of entry's assessable value). A raw material's
value is its ``total_cif_value``, or ``quantity x unit_cif_value`` when the total is not given yet.

Originating materials. A material is originating when it comes from India ("IN"). Agreements with
*regional (diagonal) cumulation* also count materials originating in any partner country as
originating, because their rules of origin add the content of every party together:

- AIFTA (013): materials of ASEAN member states (ASEAN-India content);
- SAPTA (008) and SAFTA (101): materials of SAARC members;
- APTA (015): materials of the other APTA participants.

The partner countries are taken from the ``Agreement``. Every other agreement (IKCEPA, the
bilateral CECAs/CEPAs, GSP, GSTP...) is treated without cumulation here: partner-country materials
count as non-originating, which can only understate the RVC, never overstate it. A material whose
origin country is not given yet is counted as non-originating for the same reason.

The RVC is rounded to 2 places (ROUND_DOWN, ROUND_HALF_UP) and that rounded figure, the one shown to the
exporter, is compared with the threshold, so the message and the verdict never disagree.

Nothing here raises on an incomplete draft: a figure that cannot be computed comes back as None
with a message saying why. ``product_origin`` returns Decimals; ``origin_check`` (the
``origin-check`` endpoint) returns JSON-ready values with Decimals as strings.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from services.application.agreements import Agreement, agreement_by_code

INDIA = "IN"

# Scheme codes of the agreements whose rules of origin cumulate the content of all parties.
REGIONAL_CUMULATION = frozenset(
    {
        "013",  # AIFTA: ASEAN-India content
        "008",  # SAPTA: SAARC content
        "101",  # SAFTA: SAARC content
        "015",  # APTA: participants' content
    }
)

TWO_PLACES = Decimal("0.01")


def to_decimal(value) -> Decimal | None:
    """A Decimal from a loaded (Decimal/int) or JSON-ready (string) value; None if not a finite
    number. Never raises."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def originating_countries(agreement: Agreement | None) -> frozenset[str]:
    """The countries whose materials count as originating under this agreement."""
    if agreement is not None and agreement.code in REGIONAL_CUMULATION:
        return frozenset({INDIA, *agreement.partner_countries})
    return frozenset({INDIA})


def is_originating(raw_material: dict, agreement: Agreement | None) -> bool:
    country = raw_material.get("origin_country")
    return isinstance(country, str) and country.upper() in originating_countries(agreement)


def is_value_content(criterion, agreement: Agreement | None) -> bool:
    return (
        agreement is not None and isinstance(criterion, str) and criterion in agreement.value_content_criteria
    )


def raw_material_cif_inr(raw_material: dict) -> Decimal | None:
    """The material's CIF value in INR: its total, or quantity x unit CIF value; None if unknown."""
    total = to_decimal(raw_material.get("total_cif_value"))
    if total is not None:
        return total
    quantity = to_decimal(raw_material.get("quantity"))
    unit = to_decimal(raw_material.get("unit_cif_value"))
    if quantity is not None and unit is not None:
        return quantity * unit
    return None


def rvc_percent(fob_inr: Decimal, non_originating_cif_inr: Decimal) -> Decimal:
    """(FOB - non-originating CIF) / FOB as a percentage, 2 places, ROUND_HALF_UP. FOB > 0."""
    return ((fob_inr - non_originating_cif_inr) * 100 / fob_inr).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def _raw_materials(product: dict) -> list[dict]:
    materials = product.get("raw_materials")
    return [m for m in materials if isinstance(m, dict)] if isinstance(materials, list) else []


def product_origin(product: dict, agreement: Agreement | None) -> dict:
    """The product's FOB, non-originating CIF and RVC, and whether it meets its criterion.

    ``meets`` is True/False for a value-content criterion whose RVC could be computed against a
    threshold, and None otherwise (another criterion, no threshold, or figures missing); the
    ``message`` says which.
    """
    criterion = product.get("preference_criterion")
    threshold = agreement.value_content_threshold if agreement is not None else None
    value_content = is_value_content(criterion, agreement)
    fob = to_decimal(product.get("fob_inr"))

    non_originating = Decimal(0)
    unknown = []
    for index, material in enumerate(_raw_materials(product)):
        if is_originating(material, agreement):
            continue
        value = raw_material_cif_inr(material)
        if value is None:
            unknown.append(f"raw_materials[{index}]")
        else:
            non_originating += value

    result = {
        "fob_inr": fob,
        "non_originating_cif_inr": non_originating if not unknown else None,
        "rvc_percent": None,
        "threshold": threshold if value_content else None,
        "criterion": criterion,
        "meets": None,
        "message": "",
    }

    if not value_content:
        if agreement is None:
            result["message"] = "No agreement: no value content is required."
        elif not criterion:
            result["message"] = "No preference criterion chosen yet."
        else:
            result["message"] = (
                f"Criterion {criterion} of {agreement.short_name} is not a "
                f"value-content criterion: RVC is not computed."
            )
        return result

    missing = []
    if fob is None:
        missing.append("the FOB value in INR (fob_inr)")
    elif fob <= 0:
        missing.append("a FOB value in INR above zero")
    if unknown:
        missing.append("the CIF value of " + ", ".join(unknown))
    if missing:
        result["message"] = "RVC cannot be computed without " + " and ".join(missing) + "."
        return result

    # Both known here: a missing FOB returned above, and only an agreement has value content.
    assert fob is not None and agreement is not None
    rvc = rvc_percent(fob, non_originating)
    exact = (fob - non_originating) * 100 / fob
    result["rvc_percent"] = rvc
    name = agreement.short_name
    if threshold is None:
        result["message"] = (
            f"RVC {rvc}%; {name} sets no single threshold for criterion "
            f"{criterion}, so it is not checked here."
        )
        return result
    # The exact figure decides; the rounded one is for people (34.995% shows as 35.00% but fails).
    result["meets"] = exact >= threshold
    if result["meets"]:
        result["message"] = f"RVC {rvc}% meets the {threshold}% required by {name}."
    else:
        shown = rvc if rvc < threshold else exact.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
        result["message"] = f"RVC {shown}% is below the {threshold}% required by {name}."
    return result


def application_agreement(application: dict) -> Agreement | None:
    """The agreement a (possibly incomplete) application names, or None (non-preferential,
    not chosen yet, or unknown)."""
    if application.get("kind") == "non_preferential":
        return None
    code = application.get("agreement_code")
    return agreement_by_code(code) if isinstance(code, str) else None


def json_ready(value):
    """Decimals as plain strings (``format(d, "f")``, as marshmallow dumps them), dates in
    ISO 8601, tuples as lists; everything else as it is."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def origin_check(application: dict) -> dict:
    """The computed origin of every product of a (possibly incomplete) application.

    ``{"agreement_code", "products": [{"index", "path", "hs_code", "description", "fob_inr",
    "non_originating_cif_inr", "rvc_percent", "threshold", "criterion", "meets", "message"}],
    "all_meet"}``, JSON-ready (Decimals as strings). ``all_meet`` is True when there is at least
    one product, no product fails, every value-content product could be computed and, under an
    agreement, every product has a criterion. Never raises.
    """
    agreement = application_agreement(application)
    products = application.get("products")
    products = products if isinstance(products, list) else []
    results = []
    all_meet = bool(products)
    for index, product in enumerate(products):
        if not isinstance(product, dict):
            product = {}
        entry = {
            "index": index,
            "path": f"products[{index}]",
            "hs_code": product.get("hs_code"),
            "description": product.get("description"),
        }
        entry.update(product_origin(product, agreement))
        value_content = is_value_content(entry["criterion"], agreement)
        if (
            entry["meets"] is False
            or (value_content and entry["rvc_percent"] is None)
            or (agreement is not None and not entry["criterion"])
        ):
            all_meet = False
        results.append(entry)
    return json_ready(
        {"agreement_code": agreement.code if agreement else None, "products": results, "all_meet": all_meet}
    )
