"""The GST receipt PDF of a payment (architecture §4 "Fees"): figures, parties, words, checks."""

import copy
import re
import subprocess

import pytest

from services.chassis.offloading import offload
from services.payment.receipts import amount_in_words, format_inr, receipt_context, render_receipt

RECEIPT = {
    "receipt_number": "2026-27/0000001",
    "issued_at": "2026-11-25T20:00:00Z",  # 26 Nov 2026, 01:30 in India
    "payment_id": "pay-7f3c",
    "provider": "razorpay",
    "provider_payment_id": "pay_NqT81xYz",
    "agency": {
        "code": "MPEDA",
        "name": "Marine Products Export Development Authority",
        "gstin": "32AAAGM0289C1ZN",
        "address": "MPEDA House, Panampilly Avenue\nKochi 682036",
    },
    "issuing_office": {"code": "KOC", "name": "MPEDA Kochi", "state": "IN-KL"},
    "exporter": {
        "iec": "AAACM4821K",
        "name": "Malabar Sea Foods Pvt Ltd",
        "gstin": "32AAACM4821K1ZP",
        "state": "IN-KL",
        "address": "Willingdon Island\nKochi 682003",
    },
    "application_number": "MPEDA/2026/013/0000001A",
    "certificate_name": "Certificate of Origin — ASEAN-India FTA (Form AI)",
    "service": "issue",
    "sac": "998599",
    "base": 35000,
    "gst_rate": "12",
    "cgst": 2100,
    "sgst": 2100,
    "igst": 0,
    "total": 39200,
}


def receipt(**changes):
    r = copy.deepcopy(RECEIPT)
    for key, value in changes.items():
        section, _, field = key.partition("__")
        (r[section] if field else r)[field or key] = value
    return r


def _text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def _line(text: str, label: str) -> str:
    [line] = [line for line in text.splitlines() if label in line]
    return line


@pytest.fixture(scope="module")
def pdfs():
    tn = {"exporter__state": "IN-TN", "exporter__gstin": "33AAACM4821K1ZN"}
    return {
        # One through offload, as a service would: WeasyPrint in a tpool OS thread.
        "intra": _text(offload(render_receipt, RECEIPT)),
        "inter": _text(render_receipt(receipt(cgst=0, sgst=0, igst=4200, **tn))),
        "sez": _text(
            render_receipt(
                receipt(
                    exporter__gstin=None, cgst=0, sgst=0, igst=4200, exporter__name="Malabar <b>SEZ</b> Ltd"
                )
            )
        ),
    }


def test_intra_state_receipt(pdfs):
    text = pdfs["intra"]
    assert "TAX INVOICE / RECEIPT" in text
    assert re.search(r"CGST @ 6%\s+₹21\.00", _line(text, "CGST"))
    assert re.search(r"SGST @ 6%\s+₹21\.00", _line(text, "SGST"))
    assert "IGST" not in text
    assert re.search(r"Taxable value\s+₹350\.00", text)
    assert re.search(r"Total\s+₹392\.00", text)
    for shown in (
        "32AAAGM0289C1ZN",
        "32AAACM4821K1ZP",
        "2026-27/0000001",
        "MPEDA/2026/013/0000001A",
        "ASEAN-India FTA (Form AI)",
        "998599",
        "Kerala (IN-KL)",
        "Malabar Sea Foods Pvt Ltd",
        "Marine Products Export Development",
        "AAACM4821K",
        "pay_NqT81xYz",
        "razorpay",
    ):
        assert shown in text
    assert "Rupees Three Hundred Ninety-Two only" in text


def test_date_is_shown_in_india(pdfs):
    assert "26 Nov 2026" in pdfs["intra"] and "25 Nov 2026" not in pdfs["intra"]


def test_inter_state_receipt(pdfs):
    text = pdfs["inter"]
    assert re.search(r"IGST @ 12%\s+₹42\.00", _line(text, "IGST"))
    assert "CGST" not in text and "SGST" not in text
    assert re.search(r"Total\s+₹392\.00", text)
    assert "Tamil Nadu (IN-TN)" in text and "33AAACM4821K1ZN" in text


def test_sez_exporter_without_gstin(pdfs):
    text = pdfs["sez"]
    assert "SEZ unit — no GSTIN" in text
    assert "None" not in text
    assert "Malabar <b>SEZ</b> Ltd" in text  # user text is text, not markup
    # In Kerala like the office, but inter-state all the same (IGST Act §7(5)(b)).
    assert "IGST @ 12%" in text and "CGST" not in text and "SGST" not in text


def test_a_receipt_shows_the_tax_as_it_was_charged():
    """An SEZ unit in the office's state charged CGST + SGST before the IGST rule for SEZ units
    still gets its receipt, as charged; CGST + SGST across two states, or an unequal split,
    never does."""
    earlier = receipt_context(receipt(exporter__gstin=None))
    assert [label for label, _ in earlier["taxes"]] == ["CGST @ 6%", "SGST @ 6%"]
    with pytest.raises(ValueError, match="GST rule"):
        receipt_context(receipt(exporter__state="IN-TN", exporter__gstin="33AAACM4821K1ZN"))
    with pytest.raises(ValueError, match="GST rule"):
        receipt_context(receipt(cgst=2100, sgst=0, igst=2100))


def test_union_territory_without_legislature_levies_utgst():
    ctx = receipt_context(receipt(**{"exporter__state": "IN-CH", "issuing_office__state": "IN-CH"}))
    assert [label for label, _ in ctx["taxes"]] == ["CGST @ 6%", "UTGST @ 6%"]


@pytest.mark.parametrize(
    "paise, words",
    [
        (0, "Rupees Zero only"),
        (1, "Rupees Zero and One Paisa only"),
        (250, "Rupees Two and Fifty Paise only"),
        (39200, "Rupees Three Hundred Ninety-Two only"),
        (70800, "Rupees Seven Hundred Eight only"),
        (100000, "Rupees One Thousand only"),
        (1911000, "Rupees Nineteen Thousand One Hundred Ten only"),
        (
            12345678,
            "Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and Seventy-Eight Paise only",
        ),
        (10000000, "Rupees One Lakh only"),
        (1000000000, "Rupees One Crore only"),
        (
            123456789012,
            "Rupees One Hundred Twenty-Three Crore Forty-Five Lakh Sixty-Seven Thousand "
            "Eight Hundred Ninety and Twelve Paise only",
        ),
    ],
)
def test_amount_in_words(paise, words):
    assert amount_in_words(paise) == words


@pytest.mark.parametrize(
    "paise, text",
    [
        (0, "₹0.00"),
        (1, "₹0.01"),
        (100000, "₹1,000.00"),
        (70800, "₹708.00"),
        (39200, "₹392.00"),
        (12345678, "₹1,23,456.78"),
        (10000000, "₹1,00,000.00"),
        (1000000000, "₹1,00,00,000.00"),
        (123456789012, "₹1,23,45,67,890.12"),
    ],
)
def test_format_inr(paise, text):
    assert format_inr(paise) == text


@pytest.mark.parametrize("bad", [1.5, -1, True, "100", None])
def test_money_must_be_whole_non_negative_paise(bad):
    with pytest.raises(ValueError):
        format_inr(bad)
    with pytest.raises(ValueError):
        amount_in_words(bad)


@pytest.mark.parametrize(
    "changes",
    [
        {"total": 39300},  # total is not the sum
        {"cgst": 2000, "sgst": 2200},  # sums right, split wrong
        {"cgst": 0, "sgst": 0, "igst": 4200},  # IGST although both are in Kerala
        {"base": 35000.0},  # floats are never money
        {"total": "39200"},
        {"service": "express"},
        {"gst_rate": 12.0},
        {"issued_at": "2026-11-25T10:15:00"},  # no zone: which day it was is unknowable
        {"exporter__state": "XX-YY"},
        {"agency__gstin": ""},
    ],
)
def test_inconsistent_or_invalid_receipts_are_refused(changes):
    with pytest.raises(ValueError):
        render_receipt(receipt(**changes))


@pytest.mark.parametrize(
    "path",
    [
        "receipt_number",
        "total",
        "gst_rate",
        "agency",
        "agency.gstin",
        "exporter.gstin",
        "issuing_office.state",
    ],
)
def test_missing_fields_are_named(path):
    r = copy.deepcopy(RECEIPT)
    *section, key = path.split(".")
    del (r[section[0]] if section else r)[key]
    with pytest.raises(KeyError, match=re.escape(repr(path))):
        render_receipt(r)
