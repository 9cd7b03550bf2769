"""Units of quantity for products on a certificate.

These are the Unit Quantity Codes (UQC) of Indian customs and GST, so the quantity an exporter
declares here reads the same as on the shipping bill and the GST invoice.
"""

from __future__ import annotations

UNITS: tuple[tuple[str, str], ...] = (
    ("BAG", "Bags"),
    ("BAL", "Bale"),
    ("BDL", "Bundles"),
    ("BKL", "Buckles"),
    ("BOU", "Billion of units"),
    ("BOX", "Box"),
    ("BTL", "Bottles"),
    ("BUN", "Bunches"),
    ("CAN", "Cans"),
    ("CBM", "Cubic metres"),
    ("CCM", "Cubic centimetres"),
    ("CMS", "Centimetres"),
    ("CTN", "Cartons"),
    ("DOZ", "Dozens"),
    ("DRM", "Drums"),
    ("GGK", "Great gross"),
    ("GMS", "Grammes"),
    ("GRS", "Gross"),
    ("GYD", "Gross yards"),
    ("KGS", "Kilograms"),
    ("KLR", "Kilolitre"),
    ("KME", "Kilometre"),
    ("LTR", "Litres"),
    ("MLT", "Millilitre"),
    ("MTR", "Metres"),
    ("MTS", "Metric ton"),
    ("NOS", "Numbers"),
    ("PAC", "Packs"),
    ("PCS", "Pieces"),
    ("PRS", "Pairs"),
    ("QTL", "Quintal"),
    ("ROL", "Rolls"),
    ("SET", "Sets"),
    ("SQF", "Square feet"),
    ("SQM", "Square metres"),
    ("SQY", "Square yards"),
    ("TBS", "Tablets"),
    ("TGM", "Ten gross"),
    ("THD", "Thousands"),
    ("TON", "Tonnes"),
    ("TUB", "Tubes"),
    ("UGS", "US gallons"),
    ("UNT", "Units"),
    ("YDS", "Yards"),
    ("OTH", "Others"),
)

_CODES = frozenset(code for code, _ in UNITS)


def is_unit(code: object) -> bool:
    """True for a known UQC. Exact match: codes are stored upper-case, callers normalise."""
    return isinstance(code, str) and code in _CODES
