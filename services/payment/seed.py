"""The fee schedule a fresh installation starts with, applied by ``opencoo migrate payment``.

Figures from the DGFT and agency manuals where they give them (MPEDA: 350 + 12 % GST = 392; EIC:
duplicate 600 + 18 % = 708); the rest are placeholders an admin replaces under
``/api/v1/admin/fees``. Existing windows are never overwritten."""

from datetime import date

from services.payment.payments import seed_fee

GST_REGIME = date(2017, 7, 1)  # GST replaced service tax on this day

SEED_FEES = {
    # agency: {service: (base paise, GST rate %)}
    "MPEDA": {
        "issue": (35000, "12"),
        "duplicate": (35000, "12"),
        "in_lieu": (35000, "12"),
        "non_preferential": (35000, "12"),
    },
    "EIC": {
        "issue": (60000, "18"),
        "duplicate": (60000, "18"),
        "in_lieu": (60000, "18"),
        "non_preferential": (60000, "18"),
    },
}
DEFAULT_FEES = {
    "issue": (50000, "18"),
    "duplicate": (50000, "18"),
    "in_lieu": (50000, "18"),
    "non_preferential": (25000, "18"),
}
SEED_AGENCIES = ("DGFT", "EIC", "MPEDA", "FIEO", "TC", "SPICES", "FICCI")


def seed(session):
    added = 0
    for agency in SEED_AGENCIES:
        for service, (base, rate) in SEED_FEES.get(agency, DEFAULT_FEES).items():
            added += seed_fee(session, agency, service, base, rate, GST_REGIME)
    return {"fee_windows_added": added}
