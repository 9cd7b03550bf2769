"""A complete, valid CoO application that tests at every level can start from and break one field
at a time: Malabar Sea Foods (IEC AAACM4821K, branch B1 in Kochi) ships frozen vannamei shrimps
(HS 030617, KGS) to Saigon Seafood Trading in Viet Nam under AIFTA (scheme 013), before shipment,
through MPEDA's Kochi office. FOB 12,012.00 USD at 83.25 INR/USD = 1,000,000 INR (within the 1 INR
tolerance); raw materials: farmed shrimps from India (originating) and shrimp feed from Norway,
CIF 600,000 INR (non-originating), so the RVC is 40.00% against AIFTA's 35%.

``valid_application()`` is the HTTP/JSON body (strings, like a client sends); load it with
``form.load_draft``. ``valid_lookups()`` gives the keyword arguments of
``rules.check_submission`` that make it pass: known HS codes, the USD rate, the exporter's branches,
the MPEDA organisation, an attached invoice and a fixed "today".
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal

TODAY = date(2026, 3, 2)
IEC = "AAACM4821K"
USD_RATE = Decimal("83.2500")

KNOWN_HS = frozenset({"030617", "030636", "230120", "030616", "160521"})
BRANCHES = frozenset({"B1", "B2"})
OFFICES = {
    "MPEDA": {
        "MPEDA-RO-KOCHI": {"MPEDA-KOCHI", "MPEDA-ALAPPUZHA"},
        "MPEDA-RO-CHENNAI": {"MPEDA-CHENNAI"},
    },
    "EIC": {"EIC-RO-MUMBAI": {"EIC-MUMBAI"}},
}
RATES = {"USD": USD_RATE}


def valid_application(today: date = TODAY) -> dict:
    """A fresh copy of the complete AIFTA shrimp application (JSON body)."""
    return copy.deepcopy(
        {
            "kind": "preferential",
            "agreement_code": "013",
            "shipment_timing": "before",
            "agency_code": "MPEDA",
            "regional_office_code": "MPEDA-RO-KOCHI",
            "issuing_office_code": "MPEDA-KOCHI",
            "postal_delivery": False,
            "branch_id": "B1",
            "importer": {
                "name": "Saigon Seafood Trading JSC",
                "country": "VN",
                "address": "12 Nguyen Hue, District 1, Ho Chi Minh City",
            },
            "transport": {
                "mode": "sea",
                "vessel_or_flight": "MSC ANNA V.123",
                "port_of_loading": "Cochin",
                "port_of_discharge": "Ho Chi Minh City",
                "departure_date": (today + timedelta(days=7)).isoformat(),
            },
            "invoice": {"number": "MSF/2026/118", "date": (today - timedelta(days=1)).isoformat()},
            "uses_non_originating_materials": True,
            "products": [
                {
                    "hs_code": "030617",
                    "description": "Frozen vannamei shrimps, headless, shell-on, 600 cartons of 20 kg",
                    "quantity": "12000",
                    "unit": "KGS",
                    "fob_currency": "USD",
                    "fob_value": "12012.00",
                    "fob_inr": "1000000.00",
                    "marks_and_numbers": "MSF/VN/118/1-600",
                    "packages": "600 cartons",
                    "preference_criterion": "RVC",
                    "raw_materials": [
                        {
                            "hs_code": "030636",
                            "description": "Fresh farmed vannamei shrimps",
                            "quantity": "20000",
                            "unit": "KGS",
                            "unit_cif_value": "15.00",
                            "total_cif_value": "300000.00",
                            "origin_country": "IN",
                            "bill_of_entry_or_invoice_no": "AAF/2026/077",
                            "invoice_date": (today - timedelta(days=20)).isoformat(),
                            "supplier": "Alleppey Aqua Farms",
                        },
                        {
                            "hs_code": "230120",
                            "description": "Shrimp feed (fish meal pellets)",
                            "quantity": "6000",
                            "unit": "KGS",
                            "unit_cif_value": "100.00",
                            "total_cif_value": "600000.00",
                            "origin_country": "NO",
                            "bill_of_entry_or_invoice_no": "BE-2026-4471",
                            "invoice_date": (today - timedelta(days=60)).isoformat(),
                            "supplier": "Nordic Aqua Feed AS",
                        },
                    ],
                }
            ],
            "exporter_comments": "",
            "declaration": {
                "goods_available_at": "Willingdon Island, Kochi",
                "origin_grounds": "Farmed and processed in India",
                "place": "Kochi",
                "name": "Ravi Kumar",
                "designation": "Director",
            },
        }
    )


def hs_exists(code: str) -> bool:
    """The test nomenclature: an 8-digit code exists when its 6-digit subheading does."""
    return code[:6] in KNOWN_HS


def exchange_rate(currency: str, on_date: date) -> Decimal | None:
    return RATES.get(currency)


def valid_lookups(today: date = TODAY, **overrides) -> dict:
    """Keyword arguments for ``rules.check_submission`` under which valid_application() passes."""
    lookups = {
        "hs_exists": hs_exists,
        "exchange_rate": exchange_rate,
        "exporter_branches": set(BRANCHES),
        "offices": copy.deepcopy(OFFICES),
        "has_invoice_document": True,
        "today": today,
    }
    lookups.update(overrides)
    return lookups
