"""The GST receipt (tax invoice) of a completed payment, as a PDF (architecture §4 "Fees").

Amounts are integer paise and are formatted exactly, never through floats. A receipt is checked
before it is drawn: every field present, amounts whole paise, the taxes those the GST rule of
``fees.gst_split`` gives for these states and rate, and the total their sum, so a receipt can
never show figures that disagree with each other or with the fee rule.

Rendering is CPU-bound: services call
``chassis.offloading.in_worker_process(render_receipt, receipt)``.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import pycountry

from services.chassis.pdf import render_pdf, template_environment
from services.chassis.timestamps import INDIA
from services.payment.fees import SERVICES, gst_split, is_intra_state, is_sez_unit

TEMPLATES = Path(__file__).resolve().parent / "templates"

SERVICE_NAMES = {
    "issue": "Issue of certificate of origin",
    "duplicate": "Duplicate certificate of origin",
    "in_lieu": "Certificate of origin in lieu of an earlier one",
    "non_preferential": "Non-preferential certificate of origin",
}
assert set(SERVICE_NAMES) == set(SERVICES)

# Union territories without a legislature levy UTGST in place of SGST (UTGST Act 2017).
UTGST_TERRITORIES = {"IN-AN", "IN-CH", "IN-DH", "IN-LA", "IN-LD"}

REQUIRED = {
    None: (
        "receipt_number",
        "issued_at",
        "payment_id",
        "provider",
        "provider_payment_id",
        "application_number",
        "certificate_name",
        "service",
        "sac",
    ),
    "agency": ("code", "name", "gstin", "address"),
    "issuing_office": ("code", "name", "state"),
    "exporter": ("iec", "name", "state", "address"),
}
AMOUNTS = ("base", "cgst", "sgst", "igst", "total")

_ONES = (
    "Zero One Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve Thirteen Fourteen "
    "Fifteen Sixteen Seventeen Eighteen Nineteen"
).split()
_TENS = "_ _ Twenty Thirty Forty Fifty Sixty Seventy Eighty Ninety".split()
_SCALE = ((10**7, "Crore"), (10**5, "Lakh"), (1000, "Thousand"), (100, "Hundred"))


def _paise(value, what: str = "amount") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer number of paise, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value}")
    return value


def _words(n: int) -> str:
    """``n`` >= 1 in words on the Indian scale (crore, lakh); crores above 99 recurse."""
    parts = []
    for size, name in _SCALE:
        if n >= size:
            count, n = divmod(n, size)
            parts.append(f"{_words(count)} {name}")
    if n:
        parts.append(_ONES[n] if n < 20 else _TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    return " ".join(parts)


def amount_in_words(paise: int) -> str:
    """39200 -> 'Rupees Three Hundred Ninety-Two only'."""
    rupees, paise = divmod(_paise(paise), 100)
    text = f"Rupees {_words(rupees) if rupees else 'Zero'}"
    if paise:
        text += f" and {_words(paise)} {'Paisa' if paise == 1 else 'Paise'}"
    return text + " only"


def format_inr(paise: int) -> str:
    """12345678 -> '₹1,23,456.78': the last three digits, then groups of two."""
    rupees, paise = divmod(_paise(paise), 100)
    digits = str(rupees)
    head, groups = digits[:-3], [digits[-3:]]
    while head:
        head, groups = head[:-2], [head[-2:], *groups]
    return f"₹{','.join(groups)}.{paise:02d}"


def _percent(rate: Decimal) -> str:
    return f"{rate.normalize():f}"


def _state_name(code: str) -> str:
    sub = pycountry.subdivisions.get(code=code)
    if sub is None or sub.country_code != "IN":
        raise ValueError(f"not an Indian state or union territory code: {code!r}")
    # pycountry romanises with macrons ("Tamil Nādu"); invoices use the plain spelling.
    return unicodedata.normalize("NFKD", sub.name).encode("ascii", "ignore").decode()


def _issued_at(value) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"issued_at must be an ISO 8601 time with a zone, got {value!r}")
    return moment.astimezone(INDIA)


def _check(receipt: dict) -> None:
    for section, keys in REQUIRED.items():
        if section and not isinstance(receipt.get(section), dict):
            raise KeyError(f"receipt is missing {section!r} (a mapping)")
        part = receipt[section] if section else receipt
        for key in keys:
            name = f"{section}.{key}" if section else key
            if key not in part:
                raise KeyError(f"receipt is missing {name!r}")
            if not isinstance(part[key], str) or not part[key].strip():
                raise ValueError(f"receipt {name!r} must be a non-empty string, got {part[key]!r}")
    if "gstin" not in receipt["exporter"]:  # may be None (an SEZ unit), but must be said
        raise KeyError("receipt is missing 'exporter.gstin'")
    if receipt["exporter"]["gstin"] is not None and not str(receipt["exporter"]["gstin"]).strip():
        raise ValueError("receipt 'exporter.gstin' must be a GSTIN or None (an SEZ unit)")
    if receipt["service"] not in SERVICE_NAMES:
        raise ValueError(f"unknown service {receipt['service']!r}; expected one of {SERVICES}")
    for key in ("gst_rate", *AMOUNTS):
        if key not in receipt:
            raise KeyError(f"receipt is missing {key!r}")
    base, cgst, sgst, igst, total = (_paise(receipt[k], k) for k in AMOUNTS)
    if total != base + cgst + sgst + igst:
        raise ValueError(f"total {total} is not base + cgst + sgst + igst = {base + cgst + sgst + igst}")
    sez_unit = is_sez_unit(receipt["exporter"])
    splits = [
        gst_split(
            base,
            receipt["gst_rate"],
            receipt["exporter"]["state"],
            receipt["issuing_office"]["state"],  # also rejects a bad rate or state
            sez_unit=sez_unit,
        )
    ]
    if sez_unit:
        # Paid before IGST Act §7(5)(b) was applied here: CGST + SGST within the office's state.
        splits.append(
            gst_split(
                base, receipt["gst_rate"], receipt["exporter"]["state"], receipt["issuing_office"]["state"]
            )
        )
    if (cgst, sgst, igst) not in [(r.cgst, r.sgst, r.igst) for r in splits]:
        rule = splits[0]
        raise ValueError(
            f"taxes (cgst {cgst}, sgst {sgst}, igst {igst}) are not those of the GST "
            f"rule (cgst {rule.cgst}, sgst {rule.sgst}, igst {rule.igst})"
        )


def _charged_intra_state(receipt: dict) -> bool:
    """Whether the receipt shows CGST + SGST: as the payment was charged (an SEZ unit paid so
    before the IGST rule for SEZ units); with nothing charged (0 %), as the rule names it."""
    if receipt["cgst"] or receipt["sgst"] or receipt["igst"]:
        return bool(receipt["cgst"] or receipt["sgst"])
    return is_intra_state(
        receipt["exporter"]["state"],
        receipt["issuing_office"]["state"],
        sez_unit=is_sez_unit(receipt["exporter"]),
    )


def receipt_context(receipt: dict) -> dict:
    """What the template shows, every figure already formatted."""
    _check(receipt)
    rate = Decimal(receipt["gst_rate"])
    exporter_state = receipt["exporter"]["state"].strip().upper()
    office_state = receipt["issuing_office"]["state"].strip().upper()
    if _charged_intra_state(receipt):
        half = _percent(rate / 2)
        state_tax = "UTGST" if exporter_state in UTGST_TERRITORIES else "SGST"
        taxes = [(f"CGST @ {half}%", receipt["cgst"]), (f"{state_tax} @ {half}%", receipt["sgst"])]
    else:
        taxes = [(f"IGST @ {_percent(rate)}%", receipt["igst"])]
    issued = _issued_at(receipt["issued_at"])
    return {
        **receipt,
        "issued_on": issued.strftime("%d %b %Y"),
        "issued_time": issued.strftime("%H:%M IST"),
        "service_name": SERVICE_NAMES[receipt["service"]],
        "place_of_supply": f"{_state_name(exporter_state)} ({exporter_state})",
        "office_state": _state_name(office_state),
        "taxable": format_inr(receipt["base"]),
        "taxes": [(label, format_inr(amount)) for label, amount in taxes],
        "total_inr": format_inr(receipt["total"]),
        "total_words": amount_in_words(receipt["total"]),
    }


@cache
def _template():
    return template_environment(TEMPLATES).get_template("receipt.html")


def render_receipt(receipt: dict) -> bytes:
    """The receipt as PDF bytes; KeyError or ValueError if ``receipt`` is incomplete or inconsistent."""
    html = _template().render(receipt_context(receipt))
    return render_pdf(html, base_dir=TEMPLATES, stylesheets=["receipt.css"])
