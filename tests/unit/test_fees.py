"""Fee schedule and GST split (architecture §4 "Fees"). Plain Python."""

from datetime import date
from decimal import Decimal

import pytest

from services.payment.fees import SERVICES, Fee, OrderSummary, fee_in_force, gst_split, is_intra_state

# --- the manuals' cases -------------------------------------------------------


def test_mpeda_issue_intra_state():
    s = gst_split(35000, Decimal("12"), "IN-KL", "IN-KL")
    assert s == OrderSummary(base=35000, cgst=2100, sgst=2100, igst=0, total=39200)


def test_mpeda_issue_inter_state():
    s = gst_split(35000, Decimal("12"), "IN-TN", "IN-KL")
    assert s == OrderSummary(base=35000, cgst=0, sgst=0, igst=4200, total=39200)


def test_eic_duplicate_intra_and_inter_state():
    intra = gst_split(60000, Decimal("18"), "IN-MH", "IN-MH")
    assert (intra.cgst, intra.sgst, intra.igst, intra.total) == (5400, 5400, 0, 70800)
    assert intra.cgst + intra.sgst == 10800
    inter = gst_split(60000, Decimal("18"), "IN-MH", "IN-DL")
    assert (inter.cgst, inter.sgst, inter.igst, inter.total) == (0, 0, 10800, 70800)


def test_an_sez_unit_pays_igst_in_any_state():
    """IGST Act §7(5)(b): a supply to an SEZ unit is inter-state, in the office's state too."""
    for state in ("IN-KL", "IN-TN"):
        s = gst_split(35000, Decimal("12"), state, "IN-KL", sez_unit=True)
        assert s == OrderSummary(base=35000, cgst=0, sgst=0, igst=4200, total=39200)
    assert is_intra_state("IN-KL", "IN-KL") and not is_intra_state("IN-KL", "IN-KL", sez_unit=True)


def test_as_dict():
    assert gst_split(35000, Decimal("12"), "IN-KL", "IN-KL").as_dict() == {
        "base": 35000,
        "cgst": 2100,
        "sgst": 2100,
        "igst": 0,
        "total": 39200,
    }


# --- rounding -----------------------------------------------------------------


def test_rounding_below_half_intra_and_above_half_inter():
    # 333 paise at 5%: CGST = SGST = 8.325 -> 8 each; IGST = 16.65 -> 17.
    intra = gst_split(333, Decimal("5"), "IN-KA", "IN-KA")
    assert (intra.cgst, intra.sgst, intra.igst, intra.total) == (8, 8, 0, 349)
    inter = gst_split(333, Decimal("5"), "IN-KA", "IN-GJ")
    assert (inter.cgst, inter.sgst, inter.igst, inter.total) == (0, 0, 17, 350)


def test_exact_half_paisa_rounds_up_both_sides():
    # 100 paise at 1%: CGST = SGST = 0.5 -> 1 each (total 102); IGST = 1 exactly (total 101).
    intra = gst_split(100, Decimal("1"), "IN-KA", "IN-KA")
    assert (intra.cgst, intra.sgst, intra.total) == (1, 1, 102)
    # 50 paise at 1%: IGST = 0.5 -> 1; CGST = SGST = 0.25 -> 0.
    inter = gst_split(50, Decimal("1"), "IN-KA", "IN-GJ")
    assert (inter.igst, inter.total) == (1, 51)
    intra_small = gst_split(50, Decimal("1"), "IN-KA", "IN-KA")
    assert (intra_small.cgst, intra_small.sgst, intra_small.total) == (0, 0, 50)


@pytest.mark.parametrize("base", [1, 7, 333, 999, 12345, 35000, 60001])
@pytest.mark.parametrize("rate", ["0", "0.25", "3", "5", "12", "18", "28"])
def test_cgst_equals_sgst_and_total_adds_up(base, rate):
    s = gst_split(base, Decimal(rate), "in-mh", "IN-MH")
    assert s.cgst == s.sgst and s.igst == 0
    assert s.total == s.base + s.cgst + s.sgst
    t = gst_split(base, Decimal(rate), "IN-MH", "IN-GA")
    assert t.cgst == t.sgst == 0 and t.total == t.base + t.igst


def test_zero_rate_and_zero_base():
    assert gst_split(35000, Decimal("0"), "IN-KL", "IN-TN").total == 35000
    assert gst_split(0, Decimal("18"), "IN-KL", "IN-KL").total == 0


# --- state comparison ---------------------------------------------------------


@pytest.mark.parametrize("exporter, office", [("in-kl", "IN-KL"), ("IN-KL", "in-kl"), ("In-Kl", " IN-KL ")])
def test_state_comparison_is_case_insensitive(exporter, office):
    s = gst_split(35000, Decimal("12"), exporter, office)
    assert (s.cgst, s.sgst, s.igst) == (2100, 2100, 0)


# --- bad inputs ---------------------------------------------------------------


@pytest.mark.parametrize(
    "base, rate, exp, off",
    [
        (-1, Decimal("12"), "IN-KL", "IN-KL"),
        (35000, Decimal("-0.01"), "IN-KL", "IN-KL"),
        (35000, Decimal("28.01"), "IN-KL", "IN-KL"),
        (35000, Decimal("NaN"), "IN-KL", "IN-KL"),
        (35000, 12.0, "IN-KL", "IN-KL"),
        (350.0, Decimal("12"), "IN-KL", "IN-KL"),
        (35000, Decimal("12"), "", "IN-KL"),
        (35000, Decimal("12"), "IN-KL", None),
    ],
)
def test_bad_inputs_raise_value_error(base, rate, exp, off):
    with pytest.raises(ValueError):
        gst_split(base, rate, exp, off)


def test_rate_bounds_inclusive():
    assert gst_split(100, Decimal("28"), "IN-KL", "IN-TN").igst == 28
    assert gst_split(100, 0, "IN-KL", "IN-TN").igst == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(service="reissue"),
        dict(base_paise=-100),
        dict(gst_rate_percent=Decimal("29")),
        dict(valid_from=date(2024, 1, 2), valid_to=date(2024, 1, 1)),
    ],
)
def test_bad_fee_raises_value_error(kwargs):
    args = dict(
        agency_code="MPEDA",
        service="issue",
        base_paise=35000,
        gst_rate_percent=Decimal("12"),
        valid_from=date(2024, 1, 1),
        valid_to=None,
    )
    args.update(kwargs)
    with pytest.raises(ValueError):
        Fee(**args)


# --- fee schedule -------------------------------------------------------------


def _fee(agency, service, base, rate, start, end=None):
    return Fee(agency, service, base, Decimal(rate), start, end)


OLD = _fee("MPEDA", "issue", 30000, "12", date(2020, 1, 1), date(2022, 3, 31))
CURRENT = _fee("MPEDA", "issue", 35000, "12", date(2022, 4, 1))
PROMO = _fee("MPEDA", "issue", 25000, "12", date(2023, 1, 1), date(2023, 1, 31))
EIC_DUP = _fee("EIC", "duplicate", 60000, "18", date(2021, 1, 1))
SCHEDULE = [OLD, CURRENT, PROMO, EIC_DUP]


def test_services():
    assert SERVICES == ("issue", "duplicate", "in_lieu", "non_preferential")


def test_fee_in_force_by_date_with_inclusive_bounds():
    assert fee_in_force(SCHEDULE, "MPEDA", "issue", date(2020, 1, 1)) is OLD
    assert fee_in_force(SCHEDULE, "MPEDA", "issue", date(2022, 3, 31)) is OLD
    assert fee_in_force(SCHEDULE, "MPEDA", "issue", date(2022, 4, 1)) is CURRENT


def test_open_ended_validity():
    assert fee_in_force(SCHEDULE, "MPEDA", "issue", date(2099, 12, 31)) is CURRENT
    assert fee_in_force(SCHEDULE, "EIC", "duplicate", date(2030, 6, 1)) is EIC_DUP


def test_overlap_picks_latest_valid_from():
    assert fee_in_force(SCHEDULE, "MPEDA", "issue", date(2023, 1, 15)) is PROMO
    assert fee_in_force(SCHEDULE, "MPEDA", "issue", date(2023, 2, 1)) is CURRENT


def test_none_outside_any_window_or_unknown_agency_or_service():
    assert fee_in_force(SCHEDULE, "MPEDA", "issue", date(2019, 12, 31)) is None
    assert fee_in_force(SCHEDULE, "EIC", "duplicate", date(2020, 12, 31)) is None
    assert fee_in_force(SCHEDULE, "MPEDA", "duplicate", date(2023, 1, 1)) is None
    assert fee_in_force(SCHEDULE, "FIEO", "issue", date(2023, 1, 1)) is None
    assert fee_in_force([], "MPEDA", "issue", date(2023, 1, 1)) is None


def test_fee_in_force_feeds_gst_split():
    fee = fee_in_force(SCHEDULE, "MPEDA", "issue", date(2024, 5, 1))
    assert gst_split(fee.base_paise, fee.gst_rate_percent, "IN-KL", "IN-KL").total == 39200
