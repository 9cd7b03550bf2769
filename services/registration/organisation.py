"""Issuing agencies, their regional offices and issuing offices (architecture §4 "Organisation").

An exporter applies to an issuing office; officers belong to one issuing office and agency
admins to one agency. Every office has an Indian state (ISO 3166-2 code such as "IN-MH")
because the fee's GST split depends on it: CGST + SGST when the exporter's branch is in the
same state as the issuing office, IGST otherwise.

Codes:
- agency codes are what appears in application numbers (``MPEDA/2019/013/0000066A``);
- office codes are unique across the whole platform, upper case: issuing offices are
  ``{AGENCY}-{PLACE}`` (e.g. "MPEDA-KOCHI"), regional offices ``{AGENCY}-RO-{PLACE}``, so one
  namespace serves both without collisions.

This is seed data for a fresh installation; addresses are indicative (office building and
city), an operator corrects them through the admin API.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

from stdnum import luhn


@dataclass(frozen=True)
class IssuingOffice:
    code: str
    name: str
    state: str  # ISO 3166-2, e.g. "IN-KL"
    address: str


@dataclass(frozen=True)
class RegionalOffice:
    code: str
    name: str
    state: str
    issuing_offices: tuple[IssuingOffice, ...]


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    regional_offices: tuple[RegionalOffice, ...]


def _region(
    agency: str, place: str, name: str, state: str, *offices: tuple[str, str, str, str]
) -> RegionalOffice:
    # offices: (place, name, state, address) -> IssuingOffice "{AGENCY}-{PLACE}"
    return RegionalOffice(
        code=f"{agency}-RO-{place}",
        name=name,
        state=state,
        issuing_offices=tuple(
            IssuingOffice(code=f"{agency}-{p}", name=n, state=s, address=a) for p, n, s, a in offices
        ),
    )


SEED_AGENCIES: tuple[Agency, ...] = (
    Agency(
        code="DGFT",
        name="Directorate General of Foreign Trade",
        regional_offices=(
            _region(
                "DGFT",
                "MUMBAI",
                "DGFT Western Zone (Mumbai)",
                "IN-MH",
                (
                    "MUMBAI",
                    "Regional Authority, Mumbai",
                    "IN-MH",
                    "New CGO Building, Maharshi Karve Road, Mumbai 400020",
                ),
                ("PUNE", "Regional Authority, Pune", "IN-MH", "Pune, Maharashtra"),
                ("AHMEDABAD", "Regional Authority, Ahmedabad", "IN-GJ", "Ahmedabad, Gujarat"),
            ),
            _region(
                "DGFT",
                "DELHI",
                "DGFT Northern Zone (New Delhi)",
                "IN-DL",
                (
                    "DELHI",
                    "Regional Authority, New Delhi",
                    "IN-DL",
                    "C.L.A. Building, Indraprastha Estate, New Delhi 110002",
                ),
                ("LUDHIANA", "Regional Authority, Ludhiana", "IN-PB", "Ludhiana, Punjab"),
                ("JAIPUR", "Regional Authority, Jaipur", "IN-RJ", "Jaipur, Rajasthan"),
            ),
            _region(
                "DGFT",
                "CHENNAI",
                "DGFT Southern Zone (Chennai)",
                "IN-TN",
                (
                    "CHENNAI",
                    "Regional Authority, Chennai",
                    "IN-TN",
                    "Shastri Bhavan Annexe, 26 Haddows Road, Chennai 600006",
                ),
                (
                    "BENGALURU",
                    "Regional Authority, Bengaluru",
                    "IN-KA",
                    "Kendriya Sadan, Koramangala, Bengaluru 560034",
                ),
                ("HYDERABAD", "Regional Authority, Hyderabad", "IN-TS", "Hyderabad, Telangana"),
            ),
            _region(
                "DGFT",
                "KOLKATA",
                "DGFT Eastern Zone (Kolkata)",
                "IN-WB",
                (
                    "KOLKATA",
                    "Regional Authority, Kolkata",
                    "IN-WB",
                    "Nizam Palace, 234/4 A.J.C. Bose Road, Kolkata 700020",
                ),
                ("GUWAHATI", "Regional Authority, Guwahati", "IN-AS", "Guwahati, Assam"),
            ),
        ),
    ),
    Agency(
        code="EIC",
        name="Export Inspection Council of India",
        regional_offices=(
            _region(
                "EIC",
                "MUMBAI",
                "Export Inspection Agency, Mumbai",
                "IN-MH",
                ("MUMBAI", "EIA Mumbai", "IN-MH", "Mumbai, Maharashtra"),
                ("GOA", "EIA Mumbai, Goa sub-office", "IN-GA", "Goa"),
            ),
            _region(
                "EIC",
                "KOLKATA",
                "Export Inspection Agency, Kolkata",
                "IN-WB",
                ("KOLKATA", "EIA Kolkata", "IN-WB", "Kolkata, West Bengal"),
                ("BHUBANESWAR", "EIA Kolkata, Bhubaneswar sub-office", "IN-OD", "Bhubaneswar, Odisha"),
            ),
            _region(
                "EIC",
                "CHENNAI",
                "Export Inspection Agency, Chennai",
                "IN-TN",
                ("CHENNAI", "EIA Chennai", "IN-TN", "Chennai, Tamil Nadu"),
                (
                    "VISAKHAPATNAM",
                    "EIA Chennai, Visakhapatnam sub-office",
                    "IN-AP",
                    "Visakhapatnam, Andhra Pradesh",
                ),
            ),
            _region(
                "EIC",
                "DELHI",
                "Export Inspection Agency, Delhi",
                "IN-DL",
                ("DELHI", "EIA Delhi", "IN-DL", "New Delhi"),
            ),
            _region(
                "EIC",
                "KOCHI",
                "Export Inspection Agency, Kochi",
                "IN-KL",
                ("KOCHI", "EIA Kochi", "IN-KL", "Kochi, Kerala"),
                ("MANGALURU", "EIA Kochi, Mangaluru sub-office", "IN-KA", "Mangaluru, Karnataka"),
            ),
        ),
    ),
    Agency(
        code="MPEDA",
        name="Marine Products Export Development Authority",
        regional_offices=(
            _region(
                "MPEDA",
                "KOCHI",
                "MPEDA Regional Office, Kochi",
                "IN-KL",
                (
                    "KOCHI",
                    "MPEDA Head Office, Kochi",
                    "IN-KL",
                    "MPEDA House, Panampilly Avenue, Kochi 682036",
                ),
            ),
            _region(
                "MPEDA",
                "CHENNAI",
                "MPEDA Regional Office, Chennai",
                "IN-TN",
                ("CHENNAI", "MPEDA Chennai", "IN-TN", "Chennai, Tamil Nadu"),
                ("TUTICORIN", "MPEDA Tuticorin", "IN-TN", "Thoothukudi, Tamil Nadu"),
            ),
            _region(
                "MPEDA",
                "KOLKATA",
                "MPEDA Regional Office, Kolkata",
                "IN-WB",
                ("KOLKATA", "MPEDA Kolkata", "IN-WB", "Kolkata, West Bengal"),
                ("BHUBANESWAR", "MPEDA Bhubaneswar", "IN-OD", "Bhubaneswar, Odisha"),
            ),
            _region(
                "MPEDA",
                "MUMBAI",
                "MPEDA Regional Office, Mumbai",
                "IN-MH",
                ("MUMBAI", "MPEDA Mumbai", "IN-MH", "Navi Mumbai, Maharashtra"),
            ),
            _region(
                "MPEDA",
                "VERAVAL",
                "MPEDA Regional Office, Veraval",
                "IN-GJ",
                ("VERAVAL", "MPEDA Veraval", "IN-GJ", "Veraval, Gujarat"),
            ),
            _region(
                "MPEDA",
                "VISAKHAPATNAM",
                "MPEDA Regional Office, Visakhapatnam",
                "IN-AP",
                ("VISAKHAPATNAM", "MPEDA Visakhapatnam", "IN-AP", "Visakhapatnam, Andhra Pradesh"),
            ),
        ),
    ),
    Agency(
        code="FIEO",
        name="Federation of Indian Export Organisations",
        regional_offices=(
            _region(
                "FIEO",
                "DELHI",
                "FIEO Northern Region (New Delhi)",
                "IN-DL",
                ("DELHI", "FIEO New Delhi", "IN-DL", "Niryat Bhawan, Rao Tula Ram Marg, New Delhi 110057"),
                ("LUDHIANA", "FIEO Ludhiana", "IN-PB", "Ludhiana, Punjab"),
            ),
            _region(
                "FIEO",
                "MUMBAI",
                "FIEO Western Region (Mumbai)",
                "IN-MH",
                ("MUMBAI", "FIEO Mumbai", "IN-MH", "Mumbai, Maharashtra"),
                ("AHMEDABAD", "FIEO Ahmedabad", "IN-GJ", "Ahmedabad, Gujarat"),
            ),
            _region(
                "FIEO",
                "CHENNAI",
                "FIEO Southern Region (Chennai)",
                "IN-TN",
                ("CHENNAI", "FIEO Chennai", "IN-TN", "Chennai, Tamil Nadu"),
                ("BENGALURU", "FIEO Bengaluru", "IN-KA", "Bengaluru, Karnataka"),
                ("HYDERABAD", "FIEO Hyderabad", "IN-TS", "Hyderabad, Telangana"),
            ),
            _region(
                "FIEO",
                "KOLKATA",
                "FIEO Eastern Region (Kolkata)",
                "IN-WB",
                ("KOLKATA", "FIEO Kolkata", "IN-WB", "Kolkata, West Bengal"),
            ),
        ),
    ),
    Agency(
        code="TC",
        name="Textiles Committee",
        regional_offices=(
            _region(
                "TC",
                "MUMBAI",
                "Textiles Committee, Mumbai",
                "IN-MH",
                (
                    "MUMBAI",
                    "Textiles Committee Head Office, Mumbai",
                    "IN-MH",
                    "Crystal Tower, Prabhadevi, Mumbai 400025",
                ),
            ),
            _region(
                "TC",
                "TIRUPPUR",
                "Textiles Committee, Tiruppur",
                "IN-TN",
                ("TIRUPPUR", "Textiles Committee, Tiruppur", "IN-TN", "Tiruppur, Tamil Nadu"),
            ),
        ),
    ),
    Agency(
        code="SPICES",
        name="Spices Board India",
        regional_offices=(
            _region(
                "SPICES",
                "KOCHI",
                "Spices Board, Kochi",
                "IN-KL",
                (
                    "KOCHI",
                    "Spices Board Head Office, Kochi",
                    "IN-KL",
                    "Sugandha Bhavan, N.H. By-pass, Palarivattom, Kochi 682025",
                ),
            ),
            _region(
                "SPICES",
                "MUMBAI",
                "Spices Board, Mumbai",
                "IN-MH",
                ("MUMBAI", "Spices Board, Mumbai", "IN-MH", "Navi Mumbai, Maharashtra"),
            ),
            _region(
                "SPICES",
                "GUNTUR",
                "Spices Board, Guntur",
                "IN-AP",
                ("GUNTUR", "Spices Board, Guntur", "IN-AP", "Guntur, Andhra Pradesh"),
            ),
        ),
    ),
    Agency(
        code="FICCI",
        name="Federation of Indian Chambers of Commerce and Industry",
        regional_offices=(
            _region(
                "FICCI",
                "DELHI",
                "FICCI, New Delhi",
                "IN-DL",
                (
                    "DELHI",
                    "FICCI Certificate of Origin Cell, New Delhi",
                    "IN-DL",
                    "Federation House, Tansen Marg, New Delhi 110001",
                ),
            ),
        ),
    ),
)


def iter_issuing_offices(
    agencies: tuple[Agency, ...] = SEED_AGENCIES,
) -> Iterator[tuple[Agency, RegionalOffice, IssuingOffice]]:
    """Every issuing office with the regional office and agency it belongs to."""
    for agency in agencies:
        for region in agency.regional_offices:
            for office in region.issuing_offices:
                yield agency, region, office


def agency_by_code(code: str, agencies: tuple[Agency, ...] = SEED_AGENCIES) -> Agency | None:
    return next((a for a in agencies if a.code == code), None)


@lru_cache(maxsize=1)
def _indian_states() -> tuple[tuple[str, str], ...]:
    import pycountry  # imported lazily: only needed when states are validated or listed

    return tuple(
        sorted(
            (s.code, s.name)
            for s in pycountry.subdivisions.get(country_code="IN")
            if s.type in ("State", "Union territory")
        )
    )


def indian_state_codes() -> dict[str, str]:
    """ISO 3166-2 code -> name for India's states and union territories (from pycountry)."""
    return dict(_indian_states())


# GST state codes (the first two digits of a GSTIN) by ISO 3166-2 code: a GSTIN is registered per
# state, so an issuing office's GSTIN must start with its own state's code.
GST_STATE_CODES = {
    "IN-JK": "01",
    "IN-HP": "02",
    "IN-PB": "03",
    "IN-CH": "04",
    "IN-UK": "05",
    "IN-HR": "06",
    "IN-DL": "07",
    "IN-RJ": "08",
    "IN-UP": "09",
    "IN-BR": "10",
    "IN-SK": "11",
    "IN-AR": "12",
    "IN-NL": "13",
    "IN-MN": "14",
    "IN-MZ": "15",
    "IN-TR": "16",
    "IN-ML": "17",
    "IN-AS": "18",
    "IN-WB": "19",
    "IN-JH": "20",
    "IN-OD": "21",
    "IN-CG": "22",
    "IN-MP": "23",
    "IN-GJ": "24",
    "IN-DH": "26",
    "IN-MH": "27",
    "IN-KA": "29",
    "IN-GA": "30",
    "IN-LD": "31",
    "IN-KL": "32",
    "IN-TN": "33",
    "IN-PY": "34",
    "IN-AN": "35",
    "IN-TS": "36",
    "IN-AP": "37",
    "IN-LA": "38",
}

# Seed PANs of the agencies (illustrative, in PAN format): with an office's state they make the
# office's GSTIN on the fee receipts. An operator replaces them with the real ones.
SEED_AGENCY_PANS = {
    "DGFT": "AAAGD0584M",
    "EIC": "AAAGE1123F",
    "MPEDA": "AAAGM0289C",
    "FIEO": "AAATF0456K",
    "TC": "AAAGT0718B",
    "SPICES": "AAAGS0932H",
    "FICCI": "AAACF1212R",
}

_GSTIN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def office_gstin(state: str, pan: str, entity: str = "1") -> str:
    """The GSTIN of ``pan``'s registration in ``state`` (the ``entity``-th), check digit included."""
    body = f"{GST_STATE_CODES[state]}{pan}{entity}Z"
    return body + luhn.calc_check_digit(body, alphabet=_GSTIN_ALPHABET)
