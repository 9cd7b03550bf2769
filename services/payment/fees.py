"""Fee schedule look-up and the GST split of an order (architecture §4 "Fees").

Plain Python: no broker, no database.

Money is integer paise throughout.

GST rounding rule
-----------------
* Each tax is computed exactly in ``Decimal`` paise and rounded to the whole
  paisa with ``ROUND_HALF_UP``.
* Intra-state (exporter's branch state equals the issuing office's state,
  ISO 3166-2 codes compared case-insensitively): CGST and SGST are each
  computed at half the rate and rounded separately, so CGST == SGST always,
  as on Indian GST invoices. IGST is 0.
* Inter-state: IGST at the full rate, rounded once. CGST and SGST are 0.
* A supply to an SEZ unit is inter-state whatever its state (IGST Act §7(5)(b)): IGST. The
  platform knows an SEZ branch as one registered without a GSTIN (``in_sez``).
* ``total = base + cgst + sgst + igst``.

Because of the separate rounding, the intra- and inter-state totals can differ
by one paisa (e.g. base 333 paise at 5%: CGST 8.325 -> 8 and SGST 8, total 349;
IGST 16.65 -> 17, total 350).

Validity windows
----------------
A ``Fee`` is in force from ``valid_from`` to ``valid_to`` inclusive;
``valid_to=None`` means open-ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from services.contracts.fees import MAX_GST_RATE, SERVICES

_HUNDRED = Decimal(100)
_ONE_PAISA = Decimal(1)


def _check_base(base_paise) -> int:
    if isinstance(base_paise, bool) or not isinstance(base_paise, int):
        raise ValueError(f"base must be an integer number of paise, got {base_paise!r}")
    if base_paise < 0:
        raise ValueError(f"base must not be negative, got {base_paise}")
    return base_paise


def _check_rate(rate_percent) -> Decimal:
    if isinstance(rate_percent, bool) or isinstance(rate_percent, float):
        raise ValueError(f"GST rate must be a Decimal, int or str, got {rate_percent!r}")
    try:
        rate = Decimal(rate_percent)
    except Exception as exc:  # decimal.InvalidOperation, TypeError
        raise ValueError(f"GST rate is not a number: {rate_percent!r}") from exc
    if not rate.is_finite() or rate < 0 or rate > MAX_GST_RATE:
        raise ValueError(f"GST rate must be between 0 and {MAX_GST_RATE} percent, got {rate_percent!r}")
    return rate


def _check_state(state, what: str) -> str:
    if not isinstance(state, str) or not state.strip():
        raise ValueError(f"{what} state is required (ISO 3166-2 code), got {state!r}")
    return state.strip().upper()


@dataclass(frozen=True)
class Fee:
    agency_code: str
    service: str
    base_paise: int
    gst_rate_percent: Decimal
    valid_from: date
    valid_to: date | None = None

    def __post_init__(self):
        if self.service not in SERVICES:
            raise ValueError(f"unknown service {self.service!r}; expected one of {SERVICES}")
        if not self.agency_code:
            raise ValueError("agency_code is required")
        _check_base(self.base_paise)
        object.__setattr__(self, "gst_rate_percent", _check_rate(self.gst_rate_percent))
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")

    def in_force_on(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


def fee_in_force(fees: list[Fee], agency_code: str, service: str, on: date) -> Fee | None:
    """The fee for this agency and service whose validity covers ``on``.

    If several windows cover ``on``, the one with the latest ``valid_from`` wins.
    None if no window covers ``on``.
    """
    candidates = [
        f for f in fees if f.agency_code == agency_code and f.service == service and f.in_force_on(on)
    ]
    return max(candidates, key=lambda f: f.valid_from, default=None)


@dataclass(frozen=True)
class OrderSummary:
    base: int
    cgst: int
    sgst: int
    igst: int
    total: int

    def as_dict(self) -> dict:
        return {
            "base": self.base,
            "cgst": self.cgst,
            "sgst": self.sgst,
            "igst": self.igst,
            "total": self.total,
        }


def _tax(base_paise: int, rate_percent: Decimal) -> int:
    exact = Decimal(base_paise) * rate_percent / _HUNDRED
    return int(exact.quantize(_ONE_PAISA, rounding=ROUND_HALF_UP))


def is_sez_unit(exporter_branch: dict) -> bool:
    """Whether the billed branch is an SEZ unit: registration keeps one without a GSTIN."""
    return exporter_branch["gstin"] is None


def is_intra_state(exporter_state: str, office_state: str, *, sez_unit: bool = False) -> bool:
    """Whether the fee is an intra-state supply (CGST + SGST) rather than inter-state (IGST)."""
    same = _check_state(exporter_state, "exporter") == _check_state(office_state, "office")
    return same and not sez_unit


def gst_split(
    base_paise: int, rate_percent: Decimal, exporter_state: str, office_state: str, *, sez_unit: bool = False
) -> OrderSummary:
    """Order summary for ``base_paise`` at ``rate_percent`` GST; see the module docstring."""
    base = _check_base(base_paise)
    rate = _check_rate(rate_percent)
    if is_intra_state(exporter_state, office_state, sez_unit=sez_unit):
        half = _tax(base, rate / 2)
        cgst, sgst, igst = half, half, 0
    else:
        cgst, sgst, igst = 0, 0, _tax(base, rate)
    return OrderSummary(base=base, cgst=cgst, sgst=sgst, igst=igst, total=base + cgst + sgst + igst)
